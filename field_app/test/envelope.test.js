// The phone app's envelope opener against envelopes sealed by Python (envelope_vectors.json,
// written by make_envelope_vectors.py with sealing.envelope.seal): same targets, same refusals,
// same reasons and Chinese messages.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { EnvelopeError, keyWithCode, normaliseCode, openWithCode, openWithKey } from "../src/envelope.js";

const { cases } = JSON.parse(readFileSync(new URL("./envelope_vectors.json", import.meta.url), "utf-8"));

function open(vector, options) {
  return vector.method === "code"
    ? openWithCode(vector.envelope, vector.secret, vector.assignment, options)
    : openWithKey(vector.envelope, vector.secret, vector.assignment);
}

test("the vectors hold openings and every kind of refusal", () => {
  const reasons = new Set(cases.filter((c) => c.expect.error).map((c) => c.expect.error.reason));
  assert.deepEqual([...reasons].sort(), ["assignment", "code_format", "format", "wrong_code", "wrong_key"]);
  assert.ok(cases.filter((c) => c.expect.target).length >= 5);
});

for (const vector of cases) {
  test(`envelope: ${vector.name}`, async () => {
    const progress = [];
    const attempt = open(vector, { onProgress: (fraction) => progress.push(fraction) });
    if (vector.expect.target) {
      assert.deepEqual(await attempt, vector.expect.target);
      return;
    }
    await assert.rejects(attempt, (error) => {
      assert.ok(error instanceof EnvelopeError);
      assert.equal(error.reason, vector.expect.error.reason);
      assert.equal(error.message, vector.expect.error.message);
      return true;
    });
    if (vector.expect.error.reason === "format" || vector.expect.error.reason === "code_format") {
      // Refused before the key derivation started: a forged envelope costs the phone nothing.
      assert.deepEqual(progress, []);
    }
  });
}

test("the Chinese target survives intact (emoji, quotes, newlines, nulls)", async () => {
  const vector = cases.find((c) => c.expect.target && c.method === "code");
  const target = await openWithCode(vector.envelope, vector.secret, vector.assignment);
  assert.match(target.name, /KTV/);
  assert.ok(target.address.includes("😀"));
});

test("keyWithCode gives the key that openWithKey accepts", async () => {
  const byCode = cases.find((c) => c.name === "揭封码原样");
  const byKey = cases.find((c) => c.name === "密钥打开");
  const key = await keyWithCode(byCode.envelope, byCode.secret, byCode.assignment);
  assert.equal(key, byKey.secret);
  const bytes = Uint8Array.from(Buffer.from(key, "base64url"));
  assert.deepEqual(await openWithKey(byKey.envelope, bytes, byKey.assignment), byKey.expect.target);
});

test("normaliseCode reads codes as typed or heard", () => {
  assert.equal(normaliseCode("7kq2mxw9pa"), "7KQ2M-XW9PA");
  assert.equal(normaliseCode(" 7KQ2M - XW9PA "), "7KQ2M-XW9PA");
  assert.equal(normaliseCode("oil0o-il1oo"), "0110-0111-00".replace(/-/g, "").replace(/^(.{5})/, "$1-"));
  assert.throws(() => normaliseCode(42), { reason: "code_format", message: "揭封码应为文字。" });
  assert.throws(() => normaliseCode("\ufeff7KQ2M-XW9PA"), { reason: "code_format" }); // U+FEFF is no space in Python
});
