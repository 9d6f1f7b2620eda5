"""A small, safe evaluator for rule checks over JSON expression trees.

An expression is plain JSON (a JSONLogic-like subset), so rule data can travel to the field client
and be stored in the database as it is:

    {"<=": [{"var": "obs.k3_visitors"}, {"*": [{"var": "venue.approved_capacity"}, "1/2"]}]}

Nothing here calls eval/exec or getattr: variables are looked up key by key in nested mappings,
and operators come from a fixed table. Numbers are `fractions.Fraction` so that ratios are exact
("1/2" of 11 is 11/2, and 6 > 11/2 is a violation with no rounding anywhere). Trees are checked
for depth and size before anything is evaluated, so hostile input cannot exhaust the stack.

Operators (arguments are a list, or a single non-list argument):

    var        ["name"] or ["name", default]   dotted name, e.g. venue.approved_capacity
    missing    ["name", ...]                   list of the names that are absent or null
    present    ["name", ...]                   true when every name has a value
    and, or    [a, b, ...]                     booleans only, short-circuit
    !, not     [a]
    ==, !=     [a, b]                          numbers compare by value ("1/2" == 0.5)
    <, <=      [a, b] or [a, b, c]             three arguments: a < b < c (between)
    >, >=      [a, b]
    +, *       [a, ...]
    -          [a] or [a, b]
    /          [a, b]
    in         [needle, list-or-string]
    if         [cond, then, (cond, then,)* else]

A string literal that spells a number ("1/2", "0.5", "-3") counts as that exact number wherever a
number is needed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

COMPLIANT = "compliant"
VIOLATION = "violation"
NOT_APPLICABLE = "not_applicable"
INCOMPLETE = "incomplete"

MAX_DEPTH = 32
MAX_NODES = 1000
MAX_STRING_LENGTH = 256
# Bounds every number that enters (literal or observation) so products stay small.
MAX_NUMBER_DIGITS = 30

# The facts a check may name. `obs` is the rule's own checklist items (the loader checks that each
# `obs.X` is an item of the same rule); `venue` comes from the venue record. Every rule is about
# what is seen at a venue: a task with nothing to observe there is in no checklist (rules.yaml
# `off_checklist_reason`) rather than checked over facts of another kind.
FACT_NAMESPACES: dict[str, frozenset[str] | None] = {
    "venue": frozenset({"category", "county", "approved_capacity"}),
    "obs": None,
}

_NUMBER_LIMIT = 10**MAX_NUMBER_DIGITS
_NAME = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*\Z")
_NUMBER_TEXT = re.compile(r"-?\d+(?:\.\d+)?\Z|-?\d+/\d+\Z")


class ExpressionError(ValueError):
    """The expression is malformed, uses an unknown operator, or meets a value it cannot use."""


class MissingValue(LookupError):
    """A variable the evaluation needed has no value (an observation not recorded yet)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


@dataclass(frozen=True)
class _Spec:
    min_args: int
    max_args: int | None
    names_only: bool = False  # arguments are variable names, not expressions


_OPERATORS: dict[str, _Spec] = {
    "var": _Spec(1, 2, names_only=True),
    "missing": _Spec(1, None, names_only=True),
    "present": _Spec(1, None, names_only=True),
    "and": _Spec(1, None),
    "or": _Spec(1, None),
    "!": _Spec(1, 1),
    "not": _Spec(1, 1),
    "==": _Spec(2, 2),
    "!=": _Spec(2, 2),
    "<": _Spec(2, 3),
    "<=": _Spec(2, 3),
    ">": _Spec(2, 2),
    ">=": _Spec(2, 2),
    "+": _Spec(1, None),
    "*": _Spec(1, None),
    "-": _Spec(1, 2),
    "/": _Spec(2, 2),
    "in": _Spec(2, 2),
    "if": _Spec(3, None),
}


# ---------------------------------------------------------------- validation


def validate_expression(tree) -> None:
    """Raise ExpressionError unless `tree` is a well-formed expression within the size limits."""
    _Validator().visit(tree, 0)


class _Validator:
    def __init__(self):
        self.nodes = 0

    def visit(self, node, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise ExpressionError(f"表达式嵌套超过 {MAX_DEPTH} 层")
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ExpressionError(f"表达式超过 {MAX_NODES} 个节点")
        if isinstance(node, list):
            for child in node:
                self.visit(child, depth + 1)
        elif isinstance(node, dict):
            self.visit_operation(node, depth)
        else:
            _literal(node)

    def visit_operation(self, node: dict, depth: int) -> None:
        if len(node) != 1:
            raise ExpressionError(f"运算节点必须恰好有一个键（运算符），得到 {len(node)} 个")
        operator, raw_args = next(iter(node.items()))
        if not isinstance(operator, str) or operator not in _OPERATORS:
            raise ExpressionError(f"未知运算符 {str(operator)[:40]!r}")
        spec = _OPERATORS[operator]
        args = _arguments(raw_args)
        if len(args) < spec.min_args or (spec.max_args is not None and len(args) > spec.max_args):
            raise ExpressionError(f"运算符 {operator!r} 的参数个数不对：{len(args)}")
        if operator == "if" and len(args) % 2 == 0:
            raise ExpressionError("运算符 'if' 需要奇数个参数：条件、结果……、否则")
        if spec.names_only:
            self.nodes += len(args)
            if self.nodes > MAX_NODES:
                raise ExpressionError(f"表达式超过 {MAX_NODES} 个节点")
            names = args[:1] if operator == "var" else args
            for name in names:
                _check_name(name)
            if operator == "var" and len(args) == 2:
                _literal(args[1])  # the default is a plain value, never an expression
            return
        for arg in args:
            self.visit(arg, depth + 1)
        _check_literal_arguments(operator, args)


_NUMERIC_OPERATORS = frozenset({"<", "<=", ">", ">=", "+", "-", "*", "/"})
_BOOLEAN_OPERATORS = frozenset({"and", "or", "!", "not"})


def _check_literal_arguments(operator: str, args: list) -> None:
    """Refuse literals that could never work where they stand (found at load, not in the field)."""
    for arg in args:
        if isinstance(arg, (dict, list)):
            continue
        if operator in _NUMERIC_OPERATORS and (
                isinstance(arg, bool) or arg is None or (isinstance(arg, str) and not _NUMBER_TEXT.match(arg))):
            raise ExpressionError(f"运算符 {operator!r} 的参数 {str(arg)[:40]!r} 不是数值")
        if operator in _BOOLEAN_OPERATORS and not isinstance(arg, bool):
            raise ExpressionError(f"运算符 {operator!r} 的参数 {str(arg)[:40]!r} 不是布尔值")


def _arguments(raw_args) -> list:
    # JSONLogic lets a single argument stand alone: {"var": "x"} means {"var": ["x"]}.
    return raw_args if isinstance(raw_args, list) else [raw_args]


def _check_name(name) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 128:
        raise ExpressionError(f"变量名无效：{str(name)[:40]!r}（应为小写字母、数字、下划线组成的点分名称）")
    return name


def _literal(value):
    """Check a literal and return it normalised (numbers as Fraction)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal, Fraction)):
        return _to_fraction(value)
    if isinstance(value, str):
        if len(value) > MAX_STRING_LENGTH:
            raise ExpressionError(f"字符串超过 {MAX_STRING_LENGTH} 个字符")
        return value
    raise ExpressionError(f"不支持的值类型：{type(value).__name__}")


def _to_fraction(value) -> Fraction:
    try:
        if isinstance(value, float):
            # repr gives the shortest decimal that round-trips: 0.1 becomes exactly 1/10.
            value = Fraction(repr(value))
        else:
            value = Fraction(value)
    except (ValueError, OverflowError, ZeroDivisionError, TypeError):
        raise ExpressionError(f"无效数值：{str(value)[:40]!r}") from None
    if abs(value.numerator) >= _NUMBER_LIMIT or value.denominator >= _NUMBER_LIMIT:
        raise ExpressionError(f"数值超过 {MAX_NUMBER_DIGITS} 位")
    return value


def variables_of(tree, *, required_only: bool = False) -> set[str]:
    """Every variable name a (validated) expression refers to; with `required_only`, only those
    referenced without a default (their absence makes a check incomplete)."""
    names: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict) and len(node) == 1:
            operator, raw_args = next(iter(node.items()))
            args = _arguments(raw_args)
            if operator == "var":
                if not required_only or len(args) == 1:
                    names.add(args[0])
            elif operator in ("missing", "present"):
                if not required_only:
                    names.update(args)
            else:
                stack.extend(args)
    return names


# ---------------------------------------------------------------- evaluation


def evaluate(tree, context: Mapping):
    """Validate and evaluate `tree` against `context` (nested mappings).

    Returns a bool, a Fraction, a string, None or a list. Raises MissingValue when a variable
    without a default has no value, ExpressionError for anything malformed or ill-typed.
    """
    validate_expression(tree)
    return _evaluate(tree, context)


def _evaluate(node, context):
    if isinstance(node, list):
        return [_evaluate(child, context) for child in node]
    if not isinstance(node, dict):
        return _literal(node)
    operator, raw_args = next(iter(node.items()))
    args = _arguments(raw_args)
    return _HANDLERS[operator](args, context)


def _lookup(context, name: str):
    current = context
    for part in name.split("."):
        # Mappings only: a key lookup can never reach an attribute or a method.
        if not isinstance(current, Mapping) or part not in current:
            raise MissingValue(name)
        current = current[part]
    if current is None:
        raise MissingValue(name)
    return _fact_value(name, current)


def _fact_value(name: str, value):
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_NODES:
            raise ExpressionError(f"变量 {name} 的列表过长")
        return [_fact_value(name, item) for item in value]
    if isinstance(value, Mapping):
        raise ExpressionError(f"变量 {name} 不是一个值，而是一组数据")
    return _literal(value)


def _var(args, context):
    try:
        return _lookup(context, args[0])
    except MissingValue:
        if len(args) == 2:
            return _literal(args[1])
        raise


def _missing_names(args, context) -> list[str]:
    absent = []
    for name in args:
        try:
            _lookup(context, name)
        except MissingValue:
            absent.append(name)
    return absent


def _boolean(value, operator: str) -> bool:
    if not isinstance(value, bool):
        raise ExpressionError(f"运算符 {operator!r} 需要布尔值，得到 {_describe(value)}")
    return value


def _number(value, operator: str) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, str) and _NUMBER_TEXT.match(value):
        return _to_fraction(value)
    raise ExpressionError(f"运算符 {operator!r} 需要数值，得到 {_describe(value)}")


def _describe(value) -> str:
    if isinstance(value, Fraction):
        return f"数值 {value}"
    return f"{type(value).__name__} {str(value)[:40]!r}"


def _equal(left, right) -> bool:
    if isinstance(left, Fraction) or isinstance(right, Fraction):
        try:
            return _number(left, "==") == _number(right, "==")
        except ExpressionError:
            return False
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_equal(a, b) for a, b in zip(left, right))
    return left == right


def _and(args, context):
    for arg in args:
        if not _boolean(_evaluate(arg, context), "and"):
            return False
    return True


def _or(args, context):
    for arg in args:
        if _boolean(_evaluate(arg, context), "or"):
            return True
    return False


def _not(args, context):
    return not _boolean(_evaluate(args[0], context), "!")


def _comparison(operator: str, compare):
    def handler(args, context):
        values = [_number(_evaluate(arg, context), operator) for arg in args]
        return all(compare(a, b) for a, b in zip(values, values[1:]))

    return handler


def _add(args, context):
    return sum((_number(_evaluate(arg, context), "+") for arg in args), Fraction(0))


def _multiply(args, context):
    product = Fraction(1)
    for arg in args:
        product *= _number(_evaluate(arg, context), "*")
    return product


def _subtract(args, context):
    values = [_number(_evaluate(arg, context), "-") for arg in args]
    return -values[0] if len(values) == 1 else values[0] - values[1]


def _divide(args, context):
    dividend, divisor = (_number(_evaluate(arg, context), "/") for arg in args)
    if divisor == 0:
        raise ExpressionError("除数为零")
    return dividend / divisor


def _in(args, context):
    needle = _evaluate(args[0], context)
    haystack = _evaluate(args[1], context)
    if isinstance(haystack, list):
        return any(_equal(needle, item) for item in haystack)
    if isinstance(haystack, str) and isinstance(needle, str):
        return needle in haystack
    raise ExpressionError(f"运算符 'in' 需要列表或字符串，得到 {_describe(haystack)}")


def _if(args, context):
    for condition, outcome in zip(args[0:-1:2], args[1:-1:2]):
        if _boolean(_evaluate(condition, context), "if"):
            return _evaluate(outcome, context)
    return _evaluate(args[-1], context)


_HANDLERS = {
    "var": _var,
    "missing": _missing_names,
    "present": lambda args, context: not _missing_names(args, context),
    "and": _and,
    "or": _or,
    "!": _not,
    "not": _not,
    "==": lambda args, context: _equal(_evaluate(args[0], context), _evaluate(args[1], context)),
    "!=": lambda args, context: not _equal(_evaluate(args[0], context), _evaluate(args[1], context)),
    "<": _comparison("<", lambda a, b: a < b),
    "<=": _comparison("<=", lambda a, b: a <= b),
    ">": _comparison(">", lambda a, b: a > b),
    ">=": _comparison(">=", lambda a, b: a >= b),
    "+": _add,
    "*": _multiply,
    "-": _subtract,
    "/": _divide,
    "in": _in,
    "if": _if,
}


# ---------------------------------------------------------------- checks and rules


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check: compliant, violation, not_applicable or incomplete."""

    code: str
    outcome: str
    description: str = ""
    missing: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {"code": self.code, "outcome": self.outcome, "description": self.description,
                "missing": list(self.missing)}


@dataclass(frozen=True)
class RuleResult:
    """A rule's verdict and the result of each of its checks."""

    code: str
    verdict: str
    checks: tuple[CheckResult, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict:
        return {"code": self.code, "verdict": self.verdict, "checks": [c.as_dict() for c in self.checks]}


def _condition(tree, context, what: str) -> bool:
    value = evaluate(tree, context)
    if not isinstance(value, bool):
        raise ExpressionError(f"{what}的结果必须是布尔值，得到 {_describe(value)}")
    return value


def evaluate_check(check: Mapping, context: Mapping) -> CheckResult:
    """Evaluate one check ({code, description, applies_when?, expression}) against the facts."""
    code = check.get("code", "")
    description = check.get("description", "")
    applies_when = check.get("applies_when")
    try:
        if applies_when is not None and not _condition(applies_when, context, "适用条件"):
            return CheckResult(code, NOT_APPLICABLE, description)
        outcome = COMPLIANT if _condition(check["expression"], context, "检查表达式") else VIOLATION
    except MissingValue as missing:
        trees = [tree for tree in (applies_when, check.get("expression")) if tree is not None]
        # A name used by both the condition and the expression is missing once.
        absent = sorted({
            name for tree in trees for name in variables_of(tree, required_only=True) if _is_absent(context, name)
        })
        return CheckResult(code, INCOMPLETE, description, tuple(absent) or (missing.name,))
    return CheckResult(code, outcome, description)


def _is_absent(context, name: str) -> bool:
    try:
        _lookup(context, name)
    except MissingValue:
        return True
    except ExpressionError:
        return False
    return False


# A violation outweighs a gap in the record, which outweighs compliance.
_VERDICT_ORDER = (VIOLATION, INCOMPLETE, COMPLIANT)


def evaluate_rule(rule: Mapping, *, venue: Mapping | None = None, observations: Mapping | None = None,
                  extra_facts: Mapping | None = None) -> RuleResult:
    """Evaluate every check of a rule bundle ({code, items, checks}) and give its verdict.

    The facts are `venue.*` (the venue record), `obs.*` (the inspector's observations, keyed by
    checklist item code) and any further namespaces in `extra_facts`.
    """
    context = {"venue": venue or {}, "obs": observations or {}}
    context.update(extra_facts or {})
    results = tuple(evaluate_check(check, context) for check in rule.get("checks", ()))
    outcomes = {result.outcome for result in results}
    verdict = next((outcome for outcome in _VERDICT_ORDER if outcome in outcomes), NOT_APPLICABLE)
    return RuleResult(rule.get("code", ""), verdict, results)
