"""rulecheck against its own conformance vectors (rulecheck/conformance_vectors.json).

The phone app's evaluator is held to the same file (field_app/test/evaluator.test.js, run by
tests/field_app/test_js_tests.py), so a change of rulecheck that disagrees with the file fails
here, and a change of rules.yaml not reflected in the file fails `test_every_rule_is_covered`.
Regenerate with `.venv/bin/python -m rulecheck.make_conformance_vectors` after an intended change.
"""

from __future__ import annotations

import json

import pytest

from rulecheck import (
    COMPLIANT,
    INCOMPLETE,
    NOT_APPLICABLE,
    VIOLATION,
    ExpressionError,
    evaluate_rule,
    explain_check,
)
from rulecheck.make_conformance_vectors import VECTORS_FILE, build, load_rules, render, rule_context

VECTORS = json.loads(VECTORS_FILE.read_text("utf-8"))


@pytest.mark.parametrize("vector", VECTORS, ids=[vector["name"] for vector in VECTORS])
def test_rulecheck_agrees_with_vector(vector):
    facts = {"venue": vector["venue"], "observations": vector["observations"],
             "extra_facts": vector.get("extra_facts")}
    if "error" in vector:
        with pytest.raises((ExpressionError, KeyError)) as raised:
            evaluate_rule(vector["rule"], **facts)
        assert {"type": type(raised.value).__name__, "message": str(raised.value)} == vector["error"]
        return
    result = evaluate_rule(vector["rule"], **facts)
    context = rule_context(vector["venue"], vector["observations"], vector.get("extra_facts"))
    checks = [
        {**check_result.as_dict(), "shown": explain_check(check, context, vector["rule"].get("items"))}
        for check, check_result in zip(vector["rule"].get("checks", ()), result.checks)
    ]
    assert result.verdict == vector["verdict"]
    assert checks == vector["checks"]


def test_every_rule_is_covered():
    """Each rule of rules.yaml, as it is now, is in the vectors with every verdict it can reach."""
    for code, rule in load_rules().items():
        vectors = [vector for vector in VECTORS if vector["rule"] == rule]
        assert vectors, f"{code}: not in the vectors as rules.yaml has it (regenerate the vectors)"
        verdicts = {vector.get("verdict") for vector in vectors}
        if not rule["checks"]:  # a task in no venue checklist (rules.yaml off_checklist_reason)
            assert verdicts == {NOT_APPLICABLE}, (code, verdicts)
            continue
        assert {COMPLIANT, VIOLATION, INCOMPLETE} <= verdicts, (code, verdicts)
        for index, check in enumerate(rule["checks"]):
            outcomes = {vector["checks"][index]["outcome"] for vector in vectors if "checks" in vector}
            expected = {COMPLIANT, VIOLATION, INCOMPLETE}
            if "applies_when" in check:
                expected.add(NOT_APPLICABLE)
            assert expected <= outcomes, (code, check["code"], outcomes)


def test_capacity_rules_show_the_numbers():
    shown = {vector["name"]: vector["checks"][0]["shown"] for vector in VECTORS if vector["rule"]["code"] == "K3"
             and "checks" in vector}
    assert shown["K3 核定 12 人，接待 7 人"] == "7 人 > 6 人（核定人数 12 人的 50%）"
    assert shown["K3 核定 13 人，接待 6 人"] == "6 人 < 6.5 人（核定人数 13 人的 50%）"


def test_the_file_is_what_the_generator_writes():
    """The committed file is regenerated output, byte for byte (the generator is deterministic)."""
    assert render(build()) == VECTORS_FILE.read_text("utf-8")
