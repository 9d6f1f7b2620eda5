// Hashes and the canonical JSON of sync payloads, byte for byte as the server computes them.
//
// The server recomputes each pushed operation's `payload_sha256` from the payload it parsed, with
// Python `json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` (the
// field CLI's `field_client.store.canonical_json`); `canonicalJson` must give the same text:
//
// * object keys sorted by Unicode code point (Python's str order), not by UTF-16 unit;
// * strings escaped as Python escapes them: `"`, `\` and control characters below U+0020 (as
//   \n, \t … or \u00XX), everything else raw, non-ASCII included (JSON.stringify agrees);
// * numbers as Python prints the value it parsed. Python tells ints from floats, JS cannot:
//   an integral number below 1e21 is written as an int ("30"), which is also how JSON.stringify
//   sends it, so the server parses an int and hashes "30" too. Never put a value that must be a float
//   with an integral value (30.0) in a payload: it travels as 30 and the server sees an int.
//   Other numbers are written as Python's repr of the same double ("1e-07", "1e+16", "0.1");
//   NaN and Infinity are refused, as Python's allow_nan=False refuses them;
// * what JSON.stringify drops or changes (it is what goes on the wire): an undefined or function
//   value is left out of an object and becomes null in an array; an object with toJSON (a Date)
//   is written as its toJSON() value.
//
// No DOM access: WebCrypto (globalThis.crypto.subtle) exists in browsers and in Node 20.

import { pyFloatRepr } from "./python_float.js";

const encoder = new TextEncoder();

/** Python's str order: compare by code point (UTF-16 order differs above U+FFFF). */
function compareCodePoints(a, b) {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i += 1) {
    const x = a.codePointAt(i);
    const y = b.codePointAt(i);
    if (x !== y) return x - y;
    if (x > 0xffff) i += 1; // both sides hold the same surrogate pair here
  }
  return a.length - b.length;
}

const LONE_SURROGATE = /\p{Surrogate}/u;

function stringText(text) {
  // A lone surrogate cannot be encoded as UTF-8; Python fails on it, so must we.
  if (LONE_SURROGATE.test(text)) throw new TypeError("canonicalJson: 字符串含有无法编码的代理字符");
  return JSON.stringify(text);
}


function numberText(x) {
  if (!Number.isFinite(x)) throw new TypeError(`canonicalJson: ${x} 不是合法的 JSON 数值`);
  // What Python makes of JSON.stringify's text: below 1e21 an integral value goes out as digits
  // (Python: an int), from 1e21 on as "1e+21" (Python: a float).
  if (Number.isInteger(x) && Math.abs(x) < 1e21) return String(x === 0 ? 0 : x);
  return pyFloatRepr(x);
}

function skipped(value) {
  return value === undefined || typeof value === "function" || typeof value === "symbol";
}

function write(value, seen) {
  if (value !== null && typeof value === "object" && typeof value.toJSON === "function") value = value.toJSON();
  if (value === null) return "null";
  if (value === true) return "true";
  if (value === false) return "false";
  if (typeof value === "string") return stringText(value);
  if (typeof value === "number") return numberText(value);
  if (typeof value === "bigint") return value.toString();
  if (typeof value !== "object") throw new TypeError(`canonicalJson: 不支持的值类型 ${typeof value}`);
  if (seen.has(value)) throw new TypeError("canonicalJson: 循环引用");
  seen.add(value);
  let text;
  if (Array.isArray(value)) {
    text = `[${value.map((item) => (skipped(item) ? "null" : write(item, seen))).join(",")}]`;
  } else {
    const keys = Object.keys(value).filter((key) => !skipped(value[key])).sort(compareCodePoints);
    text = `{${keys.map((key) => `${stringText(key)}:${write(value[key], seen)}`).join(",")}}`;
  }
  seen.delete(value);
  return text;
}

/**
 * The canonical JSON text of `value`, equal to Python's
 * json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).
 * Hash its UTF-8 bytes: sha256Hex(new TextEncoder().encode(canonicalJson(value))).
 */
export function canonicalJson(value) {
  if (skipped(value)) throw new TypeError("canonicalJson: 没有可写出的值");
  return write(value, new Set());
}

async function bytesOf(data) {
  if (typeof Blob !== "undefined" && data instanceof Blob) return new Uint8Array(await data.arrayBuffer());
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (typeof data === "string") return encoder.encode(data);
  // A Blob from another realm (or a File polyfill) still has arrayBuffer().
  if (data && typeof data.arrayBuffer === "function") return new Uint8Array(await data.arrayBuffer());
  throw new TypeError("sha256Hex: 需要 Blob、ArrayBuffer、字节数组或字符串");
}

/** Lower-case hex SHA-256 of a Blob, an ArrayBuffer, a typed array/DataView, or a string's UTF-8. */
export async function sha256Hex(data) {
  const digest = await globalThis.crypto.subtle.digest("SHA-256", await bytesOf(data));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
