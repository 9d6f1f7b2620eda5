// canonicalJson and sha256Hex against what the field CLI computes in Python
// (digest_vectors.json, written by make_digest_vectors.py with field_client.store.canonical_json).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { canonicalJson, sha256Hex } from "../src/digest.js";

const vectors = JSON.parse(readFileSync(new URL("./digest_vectors.json", import.meta.url), "utf-8"));
const encoder = new TextEncoder();

for (const [index, { payload, canonical, sha256 }] of vectors.cases.entries()) {
  test(`payload ${index}: canonical JSON and hash equal Python's`, async () => {
    assert.equal(canonicalJson(payload), canonical);
    assert.equal(await sha256Hex(encoder.encode(canonicalJson(payload))), sha256);
    // What the app sends is JSON.stringify's text; the server parses it and hashes the same.
    assert.equal(canonicalJson(JSON.parse(JSON.stringify(payload))), canonical);
  });
}

test("sha256Hex takes a Blob, an ArrayBuffer, a typed array and a string", async () => {
  for (const { base64, sha256 } of vectors.bytes) {
    const bytes = Uint8Array.from(Buffer.from(base64, "base64"));
    assert.equal(await sha256Hex(bytes), sha256);
    assert.equal(await sha256Hex(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)), sha256);
    assert.equal(await sha256Hex(new Blob([bytes])), sha256);
    const offset = new Uint8Array(bytes.length + 3);
    offset.set(bytes, 3);
    assert.equal(await sha256Hex(offset.subarray(3)), sha256);
  }
  assert.equal(await sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
});

test("key order is by code point, as Python sorts str", () => {
  assert.equal(canonicalJson({ "😀": 1, "\uff01": 2, a: 3 }), '{"a":3,"！":2,"😀":1}');
});

test("numbers print as Python prints what it parses from the app's JSON", () => {
  assert.equal(canonicalJson([30, -0, 1e-7, 1e21, 0.5, 1e16]), "[30,0,1e-07,1e+21,0.5,10000000000000000]");
  assert.throws(() => canonicalJson({ x: NaN }), TypeError);
  assert.throws(() => canonicalJson([Infinity]), TypeError);
});

test("what JSON.stringify leaves out is left out", () => {
  assert.equal(canonicalJson({ a: undefined, b: [undefined, () => 1], c: new Date(0) }),
    '{"b":[null,null],"c":"1970-01-01T00:00:00.000Z"}');
});

test("lone surrogates and cycles are refused", () => {
  assert.throws(() => canonicalJson({ x: "\ud800" }), TypeError);
  const cycle = {};
  cycle.self = cycle;
  assert.throws(() => canonicalJson(cycle), TypeError);
});
