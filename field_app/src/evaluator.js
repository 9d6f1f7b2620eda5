// The rule evaluator of the phone app: a faithful port of Python `rulecheck` (evaluator.py and
// explain.py), so the verdict an inspector sees offline is the verdict the server records.
// Agreement is proven case by case on rulecheck/conformance_vectors.json (test/evaluator.test.js);
// any change here or in rulecheck must keep both passing.
//
// Numbers are exact rationals over BigInt (the `Fraction` class below), never floats: "1/2" of 13
// is 13/2 and 7 > 13/2 holds with no rounding. Error messages copy Python's text, including its
// repr() of values, because the inspector sees them and the vectors compare them.
//
// Known limit: a JS number cannot tell 7 from 7.0, nor hold integers beyond 2**53 exactly. Values
// are read as Python reads the JSON the app sends (shortest decimal), and in error messages an
// integral number prints like a Python int ("7", not "7.0").
//
// No DOM access: runs in the browser and in Node tests alike.

import { pyFloatRepr } from "./python_float.js";

export const COMPLIANT = "compliant";
export const VIOLATION = "violation";
export const NOT_APPLICABLE = "not_applicable";
export const INCOMPLETE = "incomplete";

export const MAX_DEPTH = 32;
export const MAX_NODES = 1000;
export const MAX_STRING_LENGTH = 256;
export const MAX_NUMBER_DIGITS = 30;

const NUMBER_LIMIT = 10n ** BigInt(MAX_NUMBER_DIGITS);
const NAME = /^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$/;
// Python's `\d` matches any Unicode decimal digit (and int() reads them), so "３" is 3 there too.
const NUMBER_TEXT = /^(?:-?\p{Nd}+(?:\.\p{Nd}+)?|-?\p{Nd}+\/\p{Nd}+)$/u;

export class ExpressionError extends Error {
  constructor(message) {
    super(message);
    this.name = "ExpressionError";
  }
}

export class MissingValue extends Error {
  constructor(name) {
    super(name);
    this.name = "MissingValue";
    this.missingName = name;
  }
}

// ------------------------------------------------------------------ exact rationals

function gcd(a, b) {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b) [a, b] = [b, a % b];
  return a;
}

/** An exact rational number, always in lowest terms with a positive denominator. */
export class Fraction {
  constructor(numerator, denominator = 1n) {
    let n = BigInt(numerator);
    let d = BigInt(denominator);
    if (d === 0n) throw new RangeError("zero denominator");
    if (d < 0n) [n, d] = [-n, -d];
    const g = gcd(n, d) || 1n;
    this.n = n / g;
    this.d = d / g;
    Object.freeze(this);
  }
  add(other) { return new Fraction(this.n * other.d + other.n * this.d, this.d * other.d); }
  sub(other) { return new Fraction(this.n * other.d - other.n * this.d, this.d * other.d); }
  mul(other) { return new Fraction(this.n * other.n, this.d * other.d); }
  div(other) { return new Fraction(this.n * other.d, this.d * other.n); }
  neg() { return new Fraction(-this.n, this.d); }
  abs() { return this.n < 0n ? this.neg() : this; }
  isZero() { return this.n === 0n; }
  /** -1, 0 or 1. */
  compare(other) {
    const left = this.n * other.d;
    const right = other.n * this.d;
    return left < right ? -1 : left > right ? 1 : 0;
  }
  equals(other) { return this.n === other.n && this.d === other.d; }
  /** Python's str(Fraction): "7/2", or "7" for a whole number. */
  toString() { return this.d === 1n ? `${this.n}` : `${this.n}/${this.d}`; }
  /** Only for display or for code that must hand a plain number on; never for deciding. */
  toNumber() { return Number(this.n) / Number(this.d); }
}

const ZERO = new Fraction(0n);
const ONE = new Fraction(1n);

// ------------------------------------------------------------------ Python text of values

// Object.hasOwn is missing from Safari before 15.4 (the build targets safari15).
function hasOwn(object, key) {
  return Object.prototype.hasOwnProperty.call(object, key);
}

function isMapping(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Fraction);
}

function codePoints(text) {
  return Array.from(text);
}

/** Python's text[:limit], counted in code points as Python counts. */
function head(text, limit) {
  const points = codePoints(text);
  return points.length <= limit ? text : points.slice(0, limit).join("");
}

const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python's repr() of a str. */
function reprString(text) {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const cp = ch.codePointAt(0);
    if (ch === quote || ch === "\\") out += `\\${ch}`;
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, "0")}`;
    else if (ch !== " " && NOT_PRINTABLE.test(ch)) {
      if (cp <= 0xff) out += `\\x${cp.toString(16).padStart(2, "0")}`;
      else if (cp <= 0xffff) out += `\\u${cp.toString(16).padStart(4, "0")}`;
      else out += `\\U${cp.toString(16).padStart(8, "0")}`;
    } else out += ch;
  }
  return out + quote;
}


/** A JS number as Python prints the value JSON gave it: integral values as int, others as float. */
function pyNumberText(x) {
  if (Number.isInteger(x) && Math.abs(x) < 2 ** 53) return String(x === 0 ? 0 : x);
  return pyFloatRepr(x);
}

function pyTypeName(value) {
  if (value === null || value === undefined) return "NoneType";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "string") return "str";
  if (typeof value === "bigint") return "int";
  if (typeof value === "number") return Number.isInteger(value) && Math.abs(value) < 2 ** 53 ? "int" : "float";
  if (value instanceof Fraction) return "Fraction";
  if (Array.isArray(value)) return "list";
  if (isMapping(value)) return "dict";
  return typeof value;
}

/** Python's str() of a value (JSON data or an evaluated value). */
function pyStr(value) {
  if (typeof value === "string") return value;
  if (value instanceof Fraction) return value.toString();
  return pyRepr(value);
}

/** Python's repr() of a value (JSON data or an evaluated value). */
function pyRepr(value) {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "string") return reprString(value);
  if (typeof value === "number") return pyNumberText(value);
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Fraction) return `Fraction(${value.n}, ${value.d})`;
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(", ")}]`;
  if (isMapping(value)) {
    return `{${Object.entries(value).map(([k, v]) => `${reprString(k)}: ${pyRepr(v)}`).join(", ")}}`;
  }
  return String(value);
}

/** Python's f"{str(value)[:40]!r}", used by every message that quotes a value. */
function quoted(value) {
  return reprString(head(pyStr(value), 40));
}

function describe(value) {
  if (value instanceof Fraction) return `数值 ${value}`;
  return `${pyTypeName(value)} ${quoted(value)}`;
}

// ------------------------------------------------------------------ literals and numbers

/** The value of a run of Unicode decimal digits (every Nd block is a contiguous 0..9). */
function digitsValue(text) {
  let value = 0n;
  for (const ch of text) {
    let cp = ch.codePointAt(0);
    if (cp >= 0x30 && cp <= 0x39) {
      value = value * 10n + BigInt(cp - 0x30);
      continue;
    }
    // Walk back to the start of this run of digits: blocks of ten start at a zero.
    let start = cp;
    while (/\p{Nd}/u.test(String.fromCodePoint(start - 1))) start -= 1;
    value = value * 10n + BigInt((cp - start) % 10);
  }
  return value;
}

/** Parse a string matching NUMBER_TEXT (or a JS number's decimal text) into a Fraction. */
function parseNumberText(text) {
  const match = /^(-?)(\p{Nd}+)(?:\.(\p{Nd}+))?(?:[eE]([+-]?\d+))?$/u.exec(text);
  if (match) {
    const sign = match[1] ? -1n : 1n;
    const fraction = match[3] ?? "";
    let numerator = digitsValue(match[2] + fraction);
    let denominator = 10n ** BigInt(codePoints(fraction).length);
    const exponent = match[4] ? Number(match[4]) : 0;
    if (exponent > 0) numerator *= 10n ** BigInt(exponent);
    if (exponent < 0) denominator *= 10n ** BigInt(-exponent);
    return new Fraction(sign * numerator, denominator);
  }
  const ratio = /^(-?)(\p{Nd}+)\/(\p{Nd}+)$/u.exec(text);
  const denominator = digitsValue(ratio[3]);
  if (denominator === 0n) return null; // Python: ZeroDivisionError
  return new Fraction((ratio[1] ? -1n : 1n) * digitsValue(ratio[2]), denominator);
}

function invalidNumber(value) {
  return new ExpressionError(`无效数值：${quoted(value)}`);
}

/** Python's _to_fraction: a number or number-like string as an exact Fraction, within limits. */
function toFraction(value) {
  let result;
  if (value instanceof Fraction) result = value;
  else if (typeof value === "bigint") result = new Fraction(value);
  else if (typeof value === "number") {
    if (!Number.isFinite(value)) throw invalidNumber(value);
    // String(x) is the shortest decimal that round-trips, the same value Python's repr() names.
    result = parseNumberText(String(value));
  } else {
    result = parseNumberText(value);
    if (result === null) throw invalidNumber(value);
  }
  const absolute = result.n < 0n ? -result.n : result.n;
  if (absolute >= NUMBER_LIMIT || result.d >= NUMBER_LIMIT) {
    throw new ExpressionError(`数值超过 ${MAX_NUMBER_DIGITS} 位`);
  }
  return result;
}

/** Check a literal and return it normalised (numbers as Fraction). */
function literal(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === "boolean") return value;
  if (typeof value === "number" || typeof value === "bigint" || value instanceof Fraction) return toFraction(value);
  if (typeof value === "string") {
    if (codePoints(value).length > MAX_STRING_LENGTH) {
      throw new ExpressionError(`字符串超过 ${MAX_STRING_LENGTH} 个字符`);
    }
    return value;
  }
  throw new ExpressionError(`不支持的值类型：${pyTypeName(value)}`);
}

// ------------------------------------------------------------------ validation

const OPERATORS = new Map([
  ["var", { min: 1, max: 2, namesOnly: true }],
  ["missing", { min: 1, max: null, namesOnly: true }],
  ["present", { min: 1, max: null, namesOnly: true }],
  ["and", { min: 1, max: null }],
  ["or", { min: 1, max: null }],
  ["!", { min: 1, max: 1 }],
  ["not", { min: 1, max: 1 }],
  ["==", { min: 2, max: 2 }],
  ["!=", { min: 2, max: 2 }],
  ["<", { min: 2, max: 3 }],
  ["<=", { min: 2, max: 3 }],
  [">", { min: 2, max: 2 }],
  [">=", { min: 2, max: 2 }],
  ["+", { min: 1, max: null }],
  ["*", { min: 1, max: null }],
  ["-", { min: 1, max: 2 }],
  ["/", { min: 2, max: 2 }],
  ["in", { min: 2, max: 2 }],
  ["if", { min: 3, max: null }],
]);

const NUMERIC_OPERATORS = new Set(["<", "<=", ">", ">=", "+", "-", "*", "/"]);
const BOOLEAN_OPERATORS = new Set(["and", "or", "!", "not"]);

function argumentsOf(rawArgs) {
  // JSONLogic lets a single argument stand alone: {"var": "x"} means {"var": ["x"]}.
  return Array.isArray(rawArgs) ? rawArgs : [rawArgs];
}

function onlyEntry(node) {
  const [operator] = Object.keys(node);
  return [operator, node[operator]];
}

function checkName(name) {
  if (typeof name !== "string" || !NAME.test(name) || name.length > 128) {
    throw new ExpressionError(`变量名无效：${quoted(name)}（应为小写字母、数字、下划线组成的点分名称）`);
  }
  return name;
}

function checkLiteralArguments(operator, args) {
  // Refuse literals that could never work where they stand (found at load, not in the field).
  for (const arg of args) {
    if (Array.isArray(arg) || isMapping(arg)) continue;
    if (NUMERIC_OPERATORS.has(operator)
        && (typeof arg === "boolean" || arg === null || arg === undefined
            || (typeof arg === "string" && !NUMBER_TEXT.test(arg)))) {
      throw new ExpressionError(`运算符 ${reprString(operator)} 的参数 ${quoted(arg)} 不是数值`);
    }
    if (BOOLEAN_OPERATORS.has(operator) && typeof arg !== "boolean") {
      throw new ExpressionError(`运算符 ${reprString(operator)} 的参数 ${quoted(arg)} 不是布尔值`);
    }
  }
}

class Validator {
  constructor() {
    this.nodes = 0;
  }

  countNodes(count) {
    this.nodes += count;
    if (this.nodes > MAX_NODES) throw new ExpressionError(`表达式超过 ${MAX_NODES} 个节点`);
  }

  visit(node, depth) {
    if (depth > MAX_DEPTH) throw new ExpressionError(`表达式嵌套超过 ${MAX_DEPTH} 层`);
    this.countNodes(1);
    if (Array.isArray(node)) {
      for (const child of node) this.visit(child, depth + 1);
    } else if (isMapping(node)) {
      this.visitOperation(node, depth);
    } else {
      literal(node);
    }
  }

  visitOperation(node, depth) {
    const size = Object.keys(node).length;
    if (size !== 1) throw new ExpressionError(`运算节点必须恰好有一个键（运算符），得到 ${size} 个`);
    const [operator, rawArgs] = onlyEntry(node);
    if (!OPERATORS.has(operator)) throw new ExpressionError(`未知运算符 ${quoted(operator)}`);
    const spec = OPERATORS.get(operator);
    const args = argumentsOf(rawArgs);
    if (args.length < spec.min || (spec.max !== null && args.length > spec.max)) {
      throw new ExpressionError(`运算符 ${reprString(operator)} 的参数个数不对：${args.length}`);
    }
    if (operator === "if" && args.length % 2 === 0) {
      throw new ExpressionError("运算符 'if' 需要奇数个参数：条件、结果……、否则");
    }
    if (spec.namesOnly) {
      this.countNodes(args.length);
      const names = operator === "var" ? args.slice(0, 1) : args;
      for (const name of names) checkName(name);
      if (operator === "var" && args.length === 2) literal(args[1]); // a plain value, never an expression
      return;
    }
    for (const arg of args) this.visit(arg, depth + 1);
    checkLiteralArguments(operator, args);
  }
}

/** Throw ExpressionError unless `tree` is a well-formed expression within the size limits. */
export function validateExpression(tree) {
  new Validator().visit(tree, 0);
}

/**
 * Every variable name a (validated) expression refers to; with `requiredOnly`, only those
 * referenced without a default (their absence makes a check incomplete). A Set.
 */
export function variablesOf(tree, { requiredOnly = false } = {}) {
  const names = new Set();
  const stack = [tree];
  while (stack.length) {
    const node = stack.pop();
    if (Array.isArray(node)) {
      stack.push(...node);
    } else if (isMapping(node) && Object.keys(node).length === 1) {
      const [operator, rawArgs] = onlyEntry(node);
      const args = argumentsOf(rawArgs);
      if (operator === "var") {
        if (!requiredOnly || args.length === 1) {
          // Python fails here too (IndexError, or a non-string name it cannot look up).
          if (args.length === 0) throw new TypeError("var without a name");
          names.add(args[0]);
        }
      } else if (operator === "missing" || operator === "present") {
        if (!requiredOnly) for (const name of args) names.add(name);
      } else {
        stack.push(...args);
      }
    }
  }
  return names;
}

// ------------------------------------------------------------------ evaluation

/**
 * Validate and evaluate `tree` against `context` (nested plain objects). Returns a boolean, a
 * Fraction, a string, null or an array. Throws MissingValue when a variable without a default
 * has no value, ExpressionError for anything malformed or ill-typed.
 */
export function evaluate(tree, context) {
  validateExpression(tree);
  return evaluateNode(tree, context);
}

function evaluateNode(node, context) {
  if (Array.isArray(node)) return node.map((child) => evaluateNode(child, context));
  if (!isMapping(node)) return literal(node);
  const [operator, rawArgs] = onlyEntry(node);
  return HANDLERS[operator](argumentsOf(rawArgs), context);
}

function lookup(context, name) {
  if (typeof name !== "string") throw new TypeError(`variable name is not a string: ${pyRepr(name)}`);
  let current = context;
  for (const part of name.split(".")) {
    // Own keys of plain objects only: a lookup never reaches a prototype ("constructor").
    if (!isMapping(current) || !hasOwn(current, part)) throw new MissingValue(name);
    current = current[part];
  }
  if (current === null || current === undefined) throw new MissingValue(name);
  return factValue(name, current);
}

function factValue(name, value) {
  if (Array.isArray(value)) {
    if (value.length > MAX_NODES) throw new ExpressionError(`变量 ${name} 的列表过长`);
    return value.map((item) => factValue(name, item));
  }
  if (isMapping(value)) throw new ExpressionError(`变量 ${name} 不是一个值，而是一组数据`);
  return literal(value);
}

function varHandler(args, context) {
  try {
    return lookup(context, args[0]);
  } catch (error) {
    if (error instanceof MissingValue && args.length === 2) return literal(args[1]);
    throw error;
  }
}

function missingNames(args, context) {
  const absent = [];
  for (const name of args) {
    try {
      lookup(context, name);
    } catch (error) {
      if (!(error instanceof MissingValue)) throw error;
      absent.push(name);
    }
  }
  return absent;
}

function asBoolean(value, operator) {
  if (typeof value !== "boolean") {
    throw new ExpressionError(`运算符 ${reprString(operator)} 需要布尔值，得到 ${describe(value)}`);
  }
  return value;
}

function asNumber(value, operator) {
  if (value instanceof Fraction) return value;
  if (typeof value === "string" && NUMBER_TEXT.test(value)) return toFraction(value);
  throw new ExpressionError(`运算符 ${reprString(operator)} 需要数值，得到 ${describe(value)}`);
}

function equal(left, right) {
  if (left instanceof Fraction || right instanceof Fraction) {
    try {
      return asNumber(left, "==").equals(asNumber(right, "=="));
    } catch (error) {
      if (error instanceof ExpressionError) return false;
      throw error;
    }
  }
  if (typeof left === "boolean" || typeof right === "boolean") return left === right;
  if (Array.isArray(left) && Array.isArray(right)) {
    return left.length === right.length && left.every((item, i) => equal(item, right[i]));
  }
  return left === right;
}

function comparison(operator, holds) {
  return (args, context) => {
    const values = args.map((arg) => asNumber(evaluateNode(arg, context), operator));
    return values.slice(1).every((value, i) => holds(values[i].compare(value)));
  };
}

function inHandler(args, context) {
  const needle = evaluateNode(args[0], context);
  const haystack = evaluateNode(args[1], context);
  if (Array.isArray(haystack)) return haystack.some((item) => equal(needle, item));
  if (typeof haystack === "string" && typeof needle === "string") return haystack.includes(needle);
  throw new ExpressionError(`运算符 'in' 需要列表或字符串，得到 ${describe(haystack)}`);
}

function ifHandler(args, context) {
  for (let i = 0; i + 1 < args.length; i += 2) {
    if (asBoolean(evaluateNode(args[i], context), "if")) return evaluateNode(args[i + 1], context);
  }
  return evaluateNode(args[args.length - 1], context);
}

const HANDLERS = {
  var: varHandler,
  missing: missingNames,
  present: (args, context) => missingNames(args, context).length === 0,
  and: (args, context) => args.every((arg) => asBoolean(evaluateNode(arg, context), "and")),
  or: (args, context) => args.some((arg) => asBoolean(evaluateNode(arg, context), "or")),
  "!": (args, context) => !asBoolean(evaluateNode(args[0], context), "!"),
  not: (args, context) => !asBoolean(evaluateNode(args[0], context), "!"),
  "==": (args, context) => equal(evaluateNode(args[0], context), evaluateNode(args[1], context)),
  "!=": (args, context) => !equal(evaluateNode(args[0], context), evaluateNode(args[1], context)),
  "<": comparison("<", (c) => c < 0),
  "<=": comparison("<=", (c) => c <= 0),
  ">": comparison(">", (c) => c > 0),
  ">=": comparison(">=", (c) => c >= 0),
  "+": (args, context) => args.reduce((sum, arg) => sum.add(asNumber(evaluateNode(arg, context), "+")), ZERO),
  "*": (args, context) => args.reduce((product, arg) => product.mul(asNumber(evaluateNode(arg, context), "*")), ONE),
  "-": (args, context) => {
    const values = args.map((arg) => asNumber(evaluateNode(arg, context), "-"));
    return values.length === 1 ? values[0].neg() : values[0].sub(values[1]);
  },
  "/": (args, context) => {
    const [dividend, divisor] = args.map((arg) => asNumber(evaluateNode(arg, context), "/"));
    if (divisor.isZero()) throw new ExpressionError("除数为零");
    return dividend.div(divisor);
  },
  in: inHandler,
  if: ifHandler,
};

// ------------------------------------------------------------------ checks and rules

/** Python's `sorted` of strings: by code point, not by UTF-16 unit. */
function compareCodePoints(a, b) {
  const left = codePoints(a);
  const right = codePoints(b);
  for (let i = 0; i < Math.min(left.length, right.length); i += 1) {
    const difference = left[i].codePointAt(0) - right[i].codePointAt(0);
    if (difference) return difference;
  }
  return left.length - right.length;
}

function given(mapping, key) {
  // Python's mapping.get(key): an absent key (or, in JS only, undefined) is None.
  return hasOwn(mapping, key) && mapping[key] !== undefined ? mapping[key] : null;
}

function condition(tree, context, what) {
  const value = evaluate(tree, context);
  if (typeof value !== "boolean") throw new ExpressionError(`${what}的结果必须是布尔值，得到 ${describe(value)}`);
  return value;
}

function isAbsent(context, name) {
  try {
    lookup(context, name);
  } catch (error) {
    if (error instanceof MissingValue) return true;
    if (error instanceof ExpressionError) return false;
    throw error;
  }
  return false;
}

/**
 * Evaluate one check ({code, description, applies_when?, expression}) against the facts:
 * {code, outcome, description, missing}. Throws ExpressionError for a malformed check, as Python.
 */
export function evaluateCheck(check, context) {
  const code = hasOwn(check, "code") ? check.code : "";
  const description = hasOwn(check, "description") ? check.description : "";
  const appliesWhen = given(check, "applies_when");
  try {
    if (appliesWhen !== null && !condition(appliesWhen, context, "适用条件")) {
      return { code, outcome: NOT_APPLICABLE, description, missing: [] };
    }
    if (!hasOwn(check, "expression") || check.expression === undefined) {
      // Python: check["expression"] raises KeyError('expression').
      const error = new Error("'expression'");
      error.name = "KeyError";
      throw error;
    }
    const outcome = condition(check.expression, context, "检查表达式") ? COMPLIANT : VIOLATION;
    return { code, outcome, description, missing: [] };
  } catch (error) {
    if (!(error instanceof MissingValue)) throw error;
    const trees = [appliesWhen, given(check, "expression")].filter((tree) => tree !== null);
    // A name used by both the condition and the expression is missing once.
    const absent = [...new Set(trees
      .flatMap((tree) => [...variablesOf(tree, { requiredOnly: true })].filter((name) => isAbsent(context, name))))]
      .sort(compareCodePoints);
    return { code, outcome: INCOMPLETE, description, missing: absent.length ? absent : [error.missingName] };
  }
}

// A violation outweighs a gap in the record, which outweighs compliance.
const VERDICT_ORDER = [VIOLATION, INCOMPLETE, COMPLIANT];

/**
 * Evaluate every check of a rule bundle ({code, items, checks}) and give its verdict:
 * {code, verdict, checks: [{code, outcome, description, missing, shown}]}, where `shown` is the
 * compared numbers as text (explainCheck) or null. The facts are venue.*, obs.* and any further
 * namespaces in `extraFacts`.
 */
export function evaluateRule(rule, { venue = null, observations = null, extraFacts = null } = {}) {
  // A null-prototype context: a fact namespace named "__proto__" stays an ordinary key.
  const context = Object.create(null);
  context.venue = venue || {};
  context.obs = observations || {};
  for (const [name, facts] of Object.entries(extraFacts || {})) context[name] = facts;
  const items = hasOwn(rule, "items") ? rule.items : null;
  const checks = (hasOwn(rule, "checks") ? rule.checks : []).map((check) => ({
    ...evaluateCheck(check, context),
    shown: explainCheck(check, context, items),
  }));
  const outcomes = new Set(checks.map((check) => check.outcome));
  const verdict = VERDICT_ORDER.find((outcome) => outcomes.has(outcome)) ?? NOT_APPLICABLE;
  return { code: hasOwn(rule, "code") ? rule.code : "", verdict, checks };
}

// ------------------------------------------------------------------ the numbers shown
// A port of rulecheck/explain.py; its docstring states the rules of the text.

/** Facts that are not checklist items: how to name them and their unit. */
export const FACT_LABELS = Object.freeze({
  "venue.approved_capacity": Object.freeze(["核定人数", "人"]),
});

const ORDERING = new Set(["<", "<=", ">", ">="]);
const EQUALITY = new Set(["==", "!="]);
const PROMPT_UNIT = /（([^（）]{1,4})）$/u;
const MAX_EXACT_PLACES = 4;

function asNumberOrNull(value) {
  if (value instanceof Fraction) return value;
  if (typeof value === "string" && NUMBER_TEXT.test(value)) {
    try {
      return toFraction(value);
    } catch (error) {
      if (error instanceof ExpressionError) return null;
      throw error;
    }
  }
  return null;
}

function varName(node) {
  if (isMapping(node) && Object.keys(node).length === 1 && hasOwn(node, "var")) {
    return argumentsOf(node.var)[0];
  }
  return null;
}

function isNumberLiteral(node) {
  if (typeof node === "number" || typeof node === "bigint") return true;
  return typeof node === "string" && asNumberOrNull(node) !== null;
}

function labelAndUnit(name, items) {
  if (hasOwn(FACT_LABELS, name)) return FACT_LABELS[name];
  if (name.startsWith("obs.") && Array.isArray(items) && items.length) {
    const code = name.slice("obs.".length);
    const item = items.find((candidate) => isMapping(candidate) && candidate.code === code);
    if (item && typeof item.prompt === "string") {
      const match = PROMPT_UNIT.exec(item.prompt);
      if (match) return [item.prompt.slice(0, match.index), match[1]];
    }
  }
  return ["", ""];
}

function quantity(text, unit) {
  return unit ? `${text} ${unit}` : text;
}

function decimal(scaled, places) {
  // `scaled` / 10**places written out, without trailing zeros.
  if (places === 0) return scaled.toString();
  const digits = scaled.toString().padStart(places + 1, "0");
  const whole = digits.slice(0, -places);
  const fraction = digits.slice(-places).replace(/0+$/, "");
  return fraction ? `${whole}.${fraction}` : whole;
}

/** A number for people: integers and short decimals exactly, anything else 约 two places. */
export function formatNumber(value) {
  if (value.d === 1n) return value.n.toString();
  let denominator = value.d;
  let twos = 0;
  let fives = 0;
  while (denominator % 2n === 0n) { denominator /= 2n; twos += 1; }
  while (denominator % 5n === 0n) { denominator /= 5n; fives += 1; }
  const sign = value.n < 0n ? "-" : "";
  const magnitude = value.n < 0n ? -value.n : value.n;
  if (denominator === 1n && Math.max(twos, fives) <= MAX_EXACT_PLACES) {
    const places = Math.max(twos, fives);
    return sign + decimal((magnitude * 10n ** BigInt(places)) / value.d, places);
  }
  const scaled = new Fraction(magnitude * 100n, value.d);
  let quotient = scaled.n / scaled.d;
  if (2n * (scaled.n % scaled.d) >= scaled.d) quotient += 1n;
  const text = decimal(quotient, 2);
  return "约" + (text !== "0" ? sign : "") + text;
}

function side(node, value, context, items) {
  // [the value's text with any label, its unit or "", a bracketed note or ""]
  const name = varName(node);
  if (name !== null) {
    const [label, unit] = labelAndUnit(name, items);
    let text = formatNumber(value);
    if (label && !name.startsWith("obs.")) text = `${label} ${text}`;
    return [text, unit, ""];
  }
  if (isMapping(node) && Object.keys(node).length === 1 && hasOwn(node, "*")) {
    const factors = argumentsOf(node["*"]);
    const names = factors.map(varName);
    const variables = names.filter((n) => n !== null);
    const literals = factors.filter((_, i) => names[i] === null);
    if (variables.length === 1 && literals.length && literals.every(isNumberLiteral)) {
      const [label, unit] = labelAndUnit(variables[0], items);
      const base = asNumberOrNull(evaluate(factors[names.indexOf(variables[0])], context));
      let ratio = ONE;
      for (const factor of literals) ratio = ratio.mul(asNumberOrNull(evaluate(factor, {})));
      const lead = label ? `${label} ` : "";
      const note = `（${lead}${quantity(formatNumber(base), unit)}的 ${formatNumber(ratio.mul(new Fraction(100n)))}%）`;
      return [formatNumber(value), unit, note];
    }
  }
  return [formatNumber(value), "", ""];
}

function relation(operator, left, right) {
  const order = left.compare(right);
  if (EQUALITY.has(operator)) return order === 0 ? "=" : "≠";
  return order < 0 ? "<" : order > 0 ? ">" : "=";
}

/**
 * The compared numbers of `check` under `context` as text, e.g. "7 人 > 6 人（核定人数 12 人的
 * 50%）", or null when there are none to show (not a comparison of numbers, not applicable,
 * incomplete or malformed). Same text as Python rulecheck.explain_check.
 */
export function explainCheck(check, context, items = null) {
  const expression = given(check, "expression");
  if (!isMapping(expression) || Object.keys(expression).length !== 1) return null;
  const [operator, rawArgs] = onlyEntry(expression);
  if (!ORDERING.has(operator) && !EQUALITY.has(operator)) return null;
  let args;
  let values;
  try {
    const appliesWhen = given(check, "applies_when");
    if (appliesWhen !== null && evaluate(appliesWhen, context) !== true) return null;
    validateExpression(expression);
    args = argumentsOf(rawArgs);
    values = args.map((arg) => evaluate(arg, context));
  } catch (error) {
    if (error instanceof MissingValue || error instanceof ExpressionError) return null;
    throw error;
  }
  // == compares numerically only when one side is a number (two number-like strings compare as
  // text); show nothing where the comparison was not between numbers.
  if (EQUALITY.has(operator) && !values.some((value) => value instanceof Fraction)) return null;
  const numbers = values.map(asNumberOrNull);
  if (numbers.some((number) => number === null)) return null;
  const sides = args.map((arg, i) => side(arg, numbers[i], context, items));
  const fallback = sides.find(([, unit]) => unit)?.[1] ?? "";
  const parts = sides.map(([text, unit, note]) => quantity(text, unit || fallback) + note);
  let out = parts[0];
  for (let i = 1; i < parts.length; i += 1) out += ` ${relation(operator, numbers[i - 1], numbers[i])} ${parts[i]}`;
  return out;
}
