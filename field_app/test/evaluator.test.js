// The phone app's evaluator against every conformance vector produced by Python rulecheck
// (rulecheck/make_conformance_vectors.py): same verdicts, outcomes, missing lists, descriptions,
// numbers shown and error messages.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  COMPLIANT, ExpressionError, Fraction, INCOMPLETE, NOT_APPLICABLE, VIOLATION, evaluate, evaluateRule,
  formatNumber,
} from "../src/evaluator.js";

const vectors = JSON.parse(readFileSync(new URL("../../rulecheck/conformance_vectors.json", import.meta.url), "utf-8"));

test("the vector file is there and covers all outcomes", () => {
  assert.ok(vectors.length > 100);
  const verdicts = new Set(vectors.filter((v) => v.verdict).map((v) => v.verdict));
  assert.deepEqual([...verdicts].sort(), [COMPLIANT, INCOMPLETE, NOT_APPLICABLE, VIOLATION].sort());
  assert.ok(vectors.some((v) => v.error));
});

for (const vector of vectors) {
  test(`vector: ${vector.name}`, () => {
    const facts = { venue: vector.venue, observations: vector.observations, extraFacts: vector.extra_facts ?? null };
    if (vector.error) {
      assert.throws(() => evaluateRule(vector.rule, facts), (error) => {
        assert.equal(error.name, vector.error.type);
        assert.equal(error.message, vector.error.message);
        return true;
      });
      return;
    }
    const result = evaluateRule(vector.rule, facts);
    assert.equal(result.code, vector.rule.code);
    assert.equal(result.verdict, vector.verdict);
    assert.deepEqual(result.checks, vector.checks);
  });
}

test("errors are ExpressionError instances", () => {
  assert.throws(() => evaluate({ "<": [1] }, {}), ExpressionError);
});

test("numbers are exact: 13 × 1/2 is 13/2, and 0.1 + 0.2 is 3/10", () => {
  assert.deepEqual(evaluate({ "*": [13, "1/2"] }, {}), new Fraction(13n, 2n));
  assert.ok(evaluate({ "+": [0.1, 0.2] }, {}).equals(new Fraction(3n, 10n)));
  assert.equal(formatNumber(new Fraction(13n, 2n)), "6.5");
  assert.equal(formatNumber(new Fraction(-1n, 3n)), "约-0.33");
});
