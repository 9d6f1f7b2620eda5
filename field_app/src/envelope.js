// Opens the sealed assignment envelope (format: sealing/envelope.py, version 1) on the phone,
// offline with the reveal code or online with the key the server releases. Same checks, same
// order, same `reason`s and the same Chinese messages as Python `sealing.envelope`; proven on
// envelopes sealed by Python (test/envelope_vectors.json, test/envelope.test.js).
//
// scrypt is @noble/hashes' scryptAsync: it yields to the event loop every few milliseconds, so
// the screen stays responsive during the ~0.1–0.5 s derivation. AES-256-GCM is WebCrypto
// (globalThis.crypto.subtle: browsers, Node 20). No DOM access.
import { scryptAsync } from "@noble/hashes/scrypt.js";

export const FORMAT = "anfang.envelope";
export const VERSION = 1;
export const ALGORITHM = "A256GCM";
export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const SALT_BYTES = 16;
export const CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; // Crockford base32
export const CODE_LENGTH = 10;
export const CODE_GROUP = 5;
// What the phone is willing to compute: a forged envelope must not make it spend minutes or
// gigabytes. scrypt needs 128 * n * r bytes; Python's _KDF_LIMITS and _MAX_SCRYPT_MEMORY.
export const KDF_LIMITS = Object.freeze({ n: [2 ** 10, 2 ** 18], r: [1, 16], p: [1, 4] });
export const MAX_SCRYPT_MEMORY = 64 * 2 ** 20;

const READINGS = { O: "0", I: "1", L: "1" };
// Python's str.strip(): Unicode whitespace (not JS trim(), which also strips U+FEFF).
const EDGE_SPACE = /^[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g;

const UNREADABLE = "信封格式不正确或已损坏。";

/**
 * An envelope that cannot be opened as asked. `reason`: "format" (not a readable envelope),
 * "assignment" (another assignment's), "code_format" (not a well-formed reveal code),
 * "wrong_code", "wrong_key" (or altered); the message says it in Chinese, for the inspector.
 */
export class EnvelopeError extends Error {
  constructor(reason, message) {
    super(message);
    this.name = "EnvelopeError";
    this.reason = reason;
  }
}

// --- reveal codes ------------------------------------------------------------------------------

function grouped(symbols) {
  const groups = [];
  for (let i = 0; i < symbols.length; i += CODE_GROUP) groups.push(symbols.slice(i, i + CODE_GROUP));
  return groups.join("-");
}

/**
 * The canonical form of a reveal code as typed or heard ("7kq2m xw9pa" → "7KQ2M-XW9PA"): case,
 * spaces, tabs, underscores and dashes do not matter, O reads as 0, I and L as 1.
 */
export function normaliseCode(text) {
  if (typeof text !== "string") throw new EnvelopeError("code_format", "揭封码应为文字。");
  const symbols = Array.from(text.replace(EDGE_SPACE, "").toUpperCase().replace(/[- _\t]/g, ""),
    (symbol) => READINGS[symbol] ?? symbol).join("");
  if (symbols.length !== CODE_LENGTH || [...symbols].some((symbol) => !CODE_ALPHABET.includes(symbol))) {
    throw new EnvelopeError("code_format",
      `揭封码格式不正确：应为 ${CODE_LENGTH} 位字母或数字（如 7KQ2M-XW9PA），请核对后重新输入。`);
  }
  return grouped(symbols);
}

// --- opening -----------------------------------------------------------------------------------

/**
 * The target inside the envelope, opened with the reveal code (no network needed). Async: the
 * key derivation takes a moment; `onProgress(fraction)` may follow it.
 */
export async function openWithCode(envelopeText, code, assignmentUuid, { onProgress } = {}) {
  const key = await unwrapKey(envelopeText, code, assignmentUuid, onProgress);
  return openTarget(parse(envelopeText, assignmentUuid), key, assignmentUuid);
}

/**
 * The assignment key (base64url, as the API sends it) unwrapped with the reveal code, for a
 * device that keeps it once the envelope is open.
 */
export async function keyWithCode(envelopeText, code, assignmentUuid, { onProgress } = {}) {
  return base64url(await unwrapKey(envelopeText, code, assignmentUuid, onProgress));
}

/** The target inside the envelope, opened with the assignment key (base64url text, or 32 bytes). */
export async function openWithKey(envelopeText, key, assignmentUuid) {
  if (typeof key === "string") {
    // As the field CLI: open_with_key(envelope, key_from_text(text), uuid) — the key's form first.
    const keyBytes = unbase64url(key, KEY_BYTES, "wrong_key", "密钥格式不正确。");
    return openTarget(parse(envelopeText, assignmentUuid), keyBytes, assignmentUuid);
  }
  // Bytes, as Python's open_with_key(envelope, key, uuid): the envelope first, then the key.
  const document = parse(envelopeText, assignmentUuid);
  return openTarget(document, checkKey(key instanceof ArrayBuffer ? new Uint8Array(key) : key), assignmentUuid);
}

async function unwrapKey(envelopeText, code, assignmentUuid, onProgress) {
  const normalised = normaliseCode(code);
  const document = parse(envelopeText, assignmentUuid);
  const part = document.key;
  const kdf = Object.fromEntries(["name", "n", "r", "p"].map((name) => [name, got(part.kdf, name)]));
  checkKdf(kdf); // before any work: a forged envelope must not make the phone compute for long
  const salt = unbase64url(got(part.kdf, "salt"), SALT_BYTES);
  const options = { N: kdf.n, r: kdf.r, p: kdf.p, dkLen: KEY_BYTES, maxmem: MAX_SCRYPT_MEMORY + 2 ** 20 };
  if (onProgress) options.onProgress = onProgress;
  const kek = await scryptAsync(new TextEncoder().encode(normalised), salt, options);
  const nonce = unbase64url(got(part, "nonce"), NONCE_BYTES);
  const ciphertext = unbase64url(got(part, "ciphertext"));
  const key = await decrypt(kek, nonce, ciphertext, aad("key", assignmentUuid));
  if (key === null) throw new EnvelopeError("wrong_code", "揭封码不正确，无法打开信封；请核对后重新输入。");
  return checkKey(key);
}

async function openTarget(document, key, assignmentUuid) {
  const part = document.target;
  const nonce = unbase64url(got(part, "nonce"), NONCE_BYTES);
  const ciphertext = unbase64url(got(part, "ciphertext"));
  const plaintext = await decrypt(key, nonce, ciphertext, aad("target", assignmentUuid));
  if (plaintext === null) throw new EnvelopeError("wrong_key", "密钥不正确或信封已被改动，无法打开。");
  let target;
  try {
    // ignoreBOM keeps a BOM in the text, so that JSON.parse refuses it as Python's json does.
    target = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(plaintext));
  } catch {
    throw new EnvelopeError("format", "信封内容无法读取。");
  }
  if (!isObject(target)) throw new EnvelopeError("format", "信封内容无法读取。");
  return target;
}

// --- internals ---------------------------------------------------------------------------------

// Object.hasOwn is missing from Safari before 15.4 (the build targets safari15).
function hasOwn(object, key) {
  return Object.prototype.hasOwnProperty.call(object, key);
}

function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Python's dict.get(name): an absent key is None (null). */
function got(mapping, name) {
  return hasOwn(mapping, name) ? mapping[name] : null;
}

function checkUuid(value) {
  if (typeof value !== "string" || !value) throw new EnvelopeError("assignment", "缺少任务编号（uuid）。");
  return value;
}

function parse(envelope, assignmentUuid) {
  const uuid = checkUuid(assignmentUuid);
  const unreadable = () => new EnvelopeError("format", UNREADABLE);
  let text = envelope;
  if (envelope instanceof ArrayBuffer || ArrayBuffer.isView(envelope)) {
    const bytes = envelope instanceof ArrayBuffer
      ? new Uint8Array(envelope) : new Uint8Array(envelope.buffer, envelope.byteOffset, envelope.byteLength);
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
    } catch {
      throw unreadable();
    }
  }
  if (typeof text !== "string") throw unreadable();
  let document;
  try {
    document = JSON.parse(text);
  } catch {
    throw unreadable();
  }
  if (!isObject(document) || got(document, "format") !== FORMAT) throw unreadable();
  if (got(document, "version") !== VERSION) {
    throw new EnvelopeError("format", `不支持的信封版本 ${pyRepr(got(document, "version"))}，请升级现场客户端。`);
  }
  for (const name of ["target", "key"]) {
    const part = got(document, name);
    if (!isObject(part) || got(part, "alg") !== ALGORITHM) throw unreadable();
  }
  if (!isObject(got(document.key, "kdf"))) throw unreadable();
  if (got(document, "assignment") !== uuid) throw new EnvelopeError("assignment", "该信封不属于这项任务。");
  return document;
}

function checkKdf(kdf) {
  if (kdf.name !== "scrypt") throw new EnvelopeError("format", "信封的密钥派生参数不受支持。");
  const outOfRange = () => new EnvelopeError("format", "信封的密钥派生参数超出允许范围。");
  for (const [name, [low, high]] of Object.entries(KDF_LIMITS)) {
    const value = kdf[name];
    if (typeof value !== "number" || !Number.isInteger(value) || value < low || value > high) throw outOfRange();
  }
  if ((kdf.n & (kdf.n - 1)) !== 0 || 128 * kdf.n * kdf.r > MAX_SCRYPT_MEMORY) throw outOfRange();
}

function checkKey(key) {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) {
    throw new EnvelopeError("wrong_key", `密钥应为 ${KEY_BYTES} 字节。`);
  }
  return key;
}

function aad(part, uuid) {
  return new TextEncoder().encode(`${FORMAT}/${VERSION}/${part}/${uuid}`);
}

/** AES-256-GCM decryption; null when the tag does not verify (wrong key, or altered). */
async function decrypt(keyBytes, nonce, ciphertext, additionalData) {
  const subtle = globalThis.crypto.subtle;
  const key = await subtle.importKey("raw", keyBytes, { name: "AES-GCM" }, false, ["decrypt"]);
  try {
    return new Uint8Array(await subtle.decrypt(
      { name: "AES-GCM", iv: nonce, additionalData, tagLength: 128 }, key, ciphertext));
  } catch (error) {
    if (error && error.name === "OperationError") return null;
    throw error;
  }
}

const B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function base64url(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; i += 3) {
    const chunk = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const symbols = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let j = 0; j < symbols; j += 1) out += B64_ALPHABET[(chunk >> (18 - 6 * j)) & 63];
  }
  return out;
}

/** base64url without padding (RFC 4648 §5) to bytes; EnvelopeError when malformed or of another length. */
function unbase64url(text, length = null, reason = "format", message = UNREADABLE) {
  if (typeof text !== "string") throw new EnvelopeError(reason, message);
  // Python's urlsafe_b64decode also takes "+" and "/" and tolerates padding.
  const body = text.replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  if (!/^[A-Za-z0-9_-]*$/.test(body) || body.length % 4 === 1) throw new EnvelopeError(reason, message);
  const bytes = new Uint8Array(Math.floor((body.length * 6) / 8));
  let buffer = 0;
  let bits = 0;
  let index = 0;
  for (const symbol of body) {
    buffer = (buffer << 6) | B64_ALPHABET.indexOf(symbol);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[index] = (buffer >> bits) & 0xff;
      index += 1;
    }
    buffer &= (1 << bits) - 1;
  }
  if (length !== null && bytes.length !== length) throw new EnvelopeError(reason, message);
  return bytes;
}

/** Python's repr() of a JSON value, for the version message (e.g. 2, '1', None); the common cases. */
function pyRepr(value) {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return String(value); // JS cannot tell 2.0 (Python "2.0") from 2
  if (typeof value === "string") {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    const escaped = value.replace(/\\/g, "\\\\").replace(new RegExp(quote, "g"), `\\${quote}`)
      .replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t");
    return `${quote}${escaped}${quote}`;
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(", ")}]`;
  return `{${Object.entries(value).map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`).join(", ")}}`;
}
