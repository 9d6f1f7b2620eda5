"""rulecheck: exact arithmetic, the operator table, check/rule outcomes, and refusal of bad trees."""

from __future__ import annotations

import ast
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

import rulecheck
from rulecheck import (
    COMPLIANT,
    INCOMPLETE,
    MAX_DEPTH,
    NOT_APPLICABLE,
    VIOLATION,
    ExpressionError,
    MissingValue,
    evaluate,
    evaluate_check,
    evaluate_rule,
    validate_expression,
    variables_of,
)

RULES_FILE = Path(__file__).resolve().parents[2] / "server" / "reference" / "rules.yaml"


@pytest.fixture(scope="module")
def rules() -> dict[str, dict]:
    """The rule data as shipped (plain dicts: the same shape the bundle API serves)."""
    return {rule["code"]: rule for rule in yaml.safe_load(RULES_FILE.read_text("utf-8"))["rules"]}


# ---------------------------------------------------------------- capacity rules (≤ 50 %)

CAPACITY_CASES = [
    (800, 400, COMPLIANT),
    (800, 401, VIOLATION),
    (11, 5, COMPLIANT),
    (11, 6, VIOLATION),
]


def _capacity_facts(rule_code: str, capacity: int, count: int) -> dict:
    if rule_code == "K3":
        return {"venue": {"approved_capacity": capacity}, "observations": {"k3_visitors": count}}
    if rule_code == "K4":
        return {"venue": {"approved_capacity": capacity}, "observations": {"k4_participants": count}}
    # K5: the private room's own approved seats are an observation, not a venue fact.
    return {"venue": {"approved_capacity": 10_000},
            "observations": {"k5_private_room_in_use": True, "k5_private_room_seats": capacity,
                             "k5_private_room_diners": count}}


@pytest.mark.parametrize("rule_code", ["K3", "K4", "K5"])
@pytest.mark.parametrize(("capacity", "count", "expected"), CAPACITY_CASES)
def test_capacity_rule_allows_at_most_half(rules, rule_code, capacity, count, expected):
    result = evaluate_rule(rules[rule_code], **_capacity_facts(rule_code, capacity, count))
    assert result.verdict == expected
    assert [check.outcome for check in result.checks] == [expected]


@pytest.mark.parametrize("rule_code", ["K3", "K4", "K5"])
def test_capacity_rule_without_the_count_is_incomplete(rules, rule_code):
    facts = _capacity_facts(rule_code, 800, 400)
    counts = ("k3_visitors", "k4_participants", "k5_private_room_diners")
    facts["observations"] = {k: v for k, v in facts["observations"].items() if k not in counts}
    result = evaluate_rule(rules[rule_code], **facts)
    assert result.verdict == INCOMPLETE
    assert result.checks[0].missing and all(name.startswith("obs.") for name in result.checks[0].missing)


def test_capacity_unknown_in_register_is_incomplete(rules):
    result = evaluate_rule(rules["K3"], venue={"approved_capacity": None}, observations={"k3_visitors": 3})
    assert result.verdict == INCOMPLETE
    assert result.checks[0].missing == ("venue.approved_capacity",)


def test_private_room_check_not_applicable_when_no_room_in_use(rules):
    result = evaluate_rule(rules["K5"], observations={"k5_private_room_in_use": False})
    assert result.verdict == NOT_APPLICABLE


def test_half_is_exact_not_floating_point():
    # 0.1 + 0.2 == 0.3 only with exact arithmetic; a float evaluator would answer False.
    assert evaluate({"==": [{"+": [0.1, 0.2]}, 0.3]}, {}) is True
    assert evaluate({"*": [11, "1/2"]}, {}) == Fraction(11, 2)


# ---------------------------------------------------------------- other rules as shipped


@pytest.mark.parametrize(("category", "operating", "check_code", "expected"), [
    ("ktv", False, "k1_leisure_venue_closed", COMPLIANT),
    ("ktv", True, "k1_leisure_venue_closed", VIOLATION),
    ("training_institution", False, "k1_offline_training_suspended", COMPLIANT),
    ("training_institution", True, "k1_offline_training_suspended", VIOLATION),
])
def test_k1_closure_depends_on_category(rules, category, operating, check_code, expected):
    result = evaluate_rule(rules["K1"], venue={"category": category}, observations={"k1_operating": operating})
    outcomes = {check.code: check.outcome for check in result.checks}
    assert outcomes[check_code] == expected
    assert NOT_APPLICABLE in outcomes.values()
    assert result.verdict == expected


STARRED_GREEN_GUEST = {"k8_codes_checked": True, "k8_starred_person_present": True, "k8_starred_health_code": "green",
                       "k8_starred_admitted": True, "k8_starred_risk_history": False}


@pytest.mark.parametrize(("report", "commitment", "violated"), [
    (True, True, set()),
    (False, True, {"k8_nat_report_verified_before_entry"}),  # a commitment does not replace the report
    (True, False, {"k8_commitment_signed_before_entry"}),  # nor a report the commitment
    (False, False, {"k8_nat_report_verified_before_entry", "k8_commitment_signed_before_entry"}),
])
def test_k8_needs_the_report_and_the_commitment(rules, report, commitment, violated):
    result = evaluate_rule(rules["K8"], venue={"category": "hotel"}, observations={
        **STARRED_GREEN_GUEST, "k8_nat_report_verified": report, "k8_commitment_signed": commitment})
    assert {check.code for check in result.checks if check.outcome == VIOLATION} == violated
    assert result.verdict == (VIOLATION if violated else COMPLIANT)


@pytest.mark.parametrize(("changes", "violated"), [
    ({"k8_starred_health_code": "yellow"}, "k8_starred_green_code_only"),
    ({"k8_starred_health_code": "red"}, "k8_starred_green_code_only"),
    ({"k8_starred_risk_history": True}, "k8_no_risk_history_for_entry"),
])
def test_k8_a_person_with_no_way_in_admitted_is_a_violation(rules, changes, violated):
    observations = {**STARRED_GREEN_GUEST, "k8_nat_report_verified": True, "k8_commitment_signed": True, **changes}
    result = evaluate_rule(rules["K8"], venue={"category": "station"}, observations=observations)
    assert [check.code for check in result.checks if check.outcome == VIOLATION] == [violated]
    refused = evaluate_rule(rules["K8"], venue={"category": "station"},
                            observations={**observations, "k8_starred_admitted": False})
    assert refused.verdict == COMPLIANT


def test_k8_without_a_starred_person_only_the_entrance_check_applies(rules):
    result = evaluate_rule(rules["K8"], venue={"category": "airport"},
                           observations={"k8_codes_checked": True, "k8_starred_person_present": False})
    assert [check.outcome for check in result.checks] == [COMPLIANT] + [NOT_APPLICABLE] * 4


def test_k8_an_admitted_guest_without_the_facts_is_incomplete(rules):
    result = evaluate_rule(rules["K8"], venue={"category": "hotel"}, observations={
        "k8_codes_checked": True, "k8_starred_person_present": True, "k8_starred_admitted": True})
    assert result.verdict == INCOMPLETE
    assert "obs.k8_starred_health_code" in result.checks[1].missing


def test_k9_has_nothing_to_check_at_a_venue(rules):
    k9 = rules["K9"]
    assert (k9["categories"], k9["items"], k9["checks"]) == ([], [], [])
    assert "数据研判组" in k9["off_checklist_reason"]
    assert evaluate_rule(k9).verdict == NOT_APPLICABLE


@pytest.mark.parametrize(("sampled", "unchecked", "expected"), [
    (None, None, COMPLIANT),  # no sample taken: the three-code check does not apply
    (10, 0, COMPLIANT),
    (10, 2, VIOLATION),
    (10, None, INCOMPLETE),
])
def test_k11_three_code_check(rules, sampled, unchecked, expected):
    observations = {"k11_dragnet_screening": True, "k11_arrivals_sampled": sampled,
                    "k11_arrivals_unchecked": unchecked}
    assert evaluate_rule(rules["K11"], observations=observations).verdict == expected


def test_k7_hotel_check_applies_only_to_hotels(rules):
    observations = {"k7_event_in_progress": True, "k7_event_approved": True, "k7_hotel_reported": False}
    assert evaluate_rule(rules["K7"], venue={"category": "hotel"}, observations=observations).verdict == VIOLATION
    assert evaluate_rule(rules["K7"], venue={"category": "meeting_event"},
                         observations=observations).verdict == COMPLIANT


# ---------------------------------------------------------------- operators

CONTEXT = {"obs": {"n": 7, "flag": True, "kind": "b", "tags": ["x", "y"], "none": None},
           "venue": {"approved_capacity": 800}}


@pytest.mark.parametrize(("tree", "expected"), [
    ({"var": "obs.n"}, Fraction(7)),
    ({"var": ["obs.absent", 3]}, Fraction(3)),
    ({"var": ["obs.none", "d"]}, "d"),
    ({"missing": ["obs.n", "obs.absent", "obs.none"]}, ["obs.absent", "obs.none"]),
    ({"present": ["obs.n", "obs.flag"]}, True),
    ({"present": ["obs.n", "obs.absent"]}, False),
    ({"and": [True, {"var": "obs.flag"}]}, True),
    ({"and": [False, {"var": "obs.absent"}]}, False),  # short-circuit: the missing value is not needed
    ({"or": [True, {"var": "obs.absent"}]}, True),
    ({"or": [False, False]}, False),
    ({"!": True}, False),
    ({"not": [False]}, True),
    ({"==": [1, 1]}, True),
    ({"==": ["1/2", 0.5]}, True),
    ({"==": [{"var": "obs.n"}, "7"]}, True),
    ({"==": [True, 1]}, False),
    ({"==": [None, None]}, True),
    ({"==": ["a", "a"]}, True),
    ({"!=": ["a", "b"]}, True),
    ({"!=": [2, "2/1"]}, False),
    ({"<": [1, 2]}, True),
    ({"<": [1, 2, 2]}, False),
    ({"<=": [1, 2, 2]}, True),
    ({">": [{"var": "obs.n"}, 7]}, False),
    ({">=": [{"var": "obs.n"}, 7]}, True),
    ({"+": [1, "1/2", 0.25]}, Fraction(7, 4)),
    ({"-": [5]}, Fraction(-5)),
    ({"-": [5, 7]}, Fraction(-2)),
    ({"*": [{"var": "venue.approved_capacity"}, "1/2"]}, Fraction(400)),
    ({"/": [1, 3]}, Fraction(1, 3)),
    ({"in": ["x", {"var": "obs.tags"}]}, True),
    ({"in": ["z", ["x", "y"]]}, False),
    ({"in": [2, [1, "2", 3]]}, True),
    ({"in": ["ell", "hello"]}, True),
    ({"if": [True, "yes", "no"]}, "yes"),
    ({"if": [False, "a", {"==": [{"var": "obs.kind"}, "b"]}, "b", "c"]}, "b"),
    ({"if": [False, "a", False, "b", "c"]}, "c"),
    ([1, "x", True], [Fraction(1), "x", True]),
])
def test_operator(tree, expected):
    result = evaluate(tree, CONTEXT)
    assert result == expected
    assert type(result) is type(expected)


def test_missing_variable_raises_missing_value():
    with pytest.raises(MissingValue) as caught:
        evaluate({"<": [{"var": "obs.absent"}, 1]}, CONTEXT)
    assert caught.value.name == "obs.absent"


def test_variables_of_lists_every_reference():
    tree = {"and": [{"var": "obs.a"}, {"present": ["obs.b"]}, {"<": [{"var": ["venue.c", 0]}, 1]}]}
    assert variables_of(tree) == {"obs.a", "obs.b", "venue.c"}


# ---------------------------------------------------------------- checks and verdicts


def test_check_outcomes():
    check = {"code": "c", "description": "d", "applies_when": {"var": "obs.applies"},
             "expression": {"<=": [{"var": "obs.n"}, 5]}}
    assert evaluate_check(check, {"obs": {"applies": False}}).outcome == NOT_APPLICABLE
    assert evaluate_check(check, {"obs": {"applies": True, "n": 5}}).outcome == COMPLIANT
    assert evaluate_check(check, {"obs": {"applies": True, "n": 6}}).outcome == VIOLATION
    incomplete = evaluate_check(check, {"obs": {"applies": True}})
    assert (incomplete.outcome, incomplete.missing) == (INCOMPLETE, ("obs.n",))
    # When even applicability is unknown, every value the check could need is listed.
    assert evaluate_check(check, {"obs": {}}).missing == ("obs.applies", "obs.n")


@pytest.mark.parametrize(("outcomes", "verdict"), [
    ([], NOT_APPLICABLE),
    ([NOT_APPLICABLE, NOT_APPLICABLE], NOT_APPLICABLE),
    ([COMPLIANT, NOT_APPLICABLE], COMPLIANT),
    ([COMPLIANT, INCOMPLETE], INCOMPLETE),
    ([INCOMPLETE, VIOLATION, COMPLIANT], VIOLATION),
])
def test_rule_verdict(outcomes, verdict):
    trees = {
        NOT_APPLICABLE: {"applies_when": {"==": [1, 2]}, "expression": {"==": [1, 1]}},
        COMPLIANT: {"expression": {"==": [1, 1]}},
        VIOLATION: {"expression": {"==": [1, 2]}},
        INCOMPLETE: {"expression": {"var": "obs.absent"}},
    }
    rule = {"code": "R", "checks": [{"code": f"c{i}", **trees[o]} for i, o in enumerate(outcomes)]}
    result = evaluate_rule(rule)
    assert result.verdict == verdict
    assert [c.outcome for c in result.checks] == outcomes
    assert result.as_dict()["verdict"] == verdict


def test_non_boolean_check_is_an_error():
    with pytest.raises(ExpressionError, match="布尔"):
        evaluate_check({"code": "c", "expression": {"+": [1, 2]}}, {})


# ---------------------------------------------------------------- refusal


def _nested(depth: int, operator: str = "!"):
    tree = True
    for _ in range(depth):
        tree = {operator: [tree]}
    return tree


def _nested_lists(depth: int):
    tree: list = []
    for _ in range(depth):
        tree = [tree]
    return tree


MALFORMED = [
    pytest.param({"eval": ["1+1"]}, id="eval-operator"),
    pytest.param({"__import__": "os"}, id="import-operator"),
    pytest.param({"exec": "print(1)"}, id="exec-operator"),
    pytest.param({}, id="empty-operation"),
    pytest.param({"==": [1, 1], "!=": [1, 2]}, id="two-operators"),
    pytest.param({"var": "__class__"}, id="dunder-name"),
    pytest.param({"var": "obs.__dict__"}, id="dunder-segment"),
    pytest.param({"var": "obs..n"}, id="empty-segment"),
    pytest.param({"var": "Obs.N"}, id="uppercase-name"),
    pytest.param({"var": {"var": "obs.name"}}, id="computed-name"),
    pytest.param({"var": ["obs.n", {"var": "obs.m"}]}, id="computed-default"),
    pytest.param({"var": []}, id="var-without-name"),
    pytest.param({"missing": [{"var": "x"}]}, id="missing-computed"),
    pytest.param({"==": [1]}, id="too-few-args"),
    pytest.param({"==": [1, 2, 3]}, id="too-many-args"),
    pytest.param({"-": [1, 2, 3]}, id="minus-three-args"),
    pytest.param({"if": [True, 1]}, id="if-even-args"),
    pytest.param({1: [1, 2]}, id="non-string-operator"),
    pytest.param("x" * 10_000, id="huge-string"),
    pytest.param(10**40, id="huge-integer"),
    pytest.param(float("nan"), id="nan"),
    pytest.param(float("inf"), id="infinity"),
    pytest.param(object(), id="python-object"),
    pytest.param({"==": [{1, 2}, 1]}, id="set-literal"),
    pytest.param(b"bytes", id="bytes"),
    pytest.param({"*": [{"var": "venue.approved_capacity"}, "half"]}, id="text-literal-in-arithmetic"),
    pytest.param({"<=": [{"var": "obs.n"}, None]}, id="null-literal-in-comparison"),
    pytest.param({"+": [True, 1]}, id="boolean-literal-in-arithmetic"),
    pytest.param({"and": [{"var": "obs.flag"}, 1]}, id="number-literal-in-and"),
    pytest.param({"!": "yes"}, id="text-literal-in-not"),
    pytest.param(_nested(MAX_DEPTH + 1), id="too-deep"),
    pytest.param(_nested(100_000), id="hostile-depth"),
    pytest.param(_nested_lists(100_000), id="hostile-list-depth"),
    pytest.param({"in": [1, list(range(100_000))]}, id="hostile-width"),
    pytest.param({"missing": ["obs.n"] * 100_000}, id="hostile-name-list"),
]


@pytest.mark.parametrize("tree", MALFORMED)
def test_malformed_expression_is_refused(tree):
    with pytest.raises(ExpressionError):
        validate_expression(tree)
    with pytest.raises(ExpressionError):
        evaluate(tree, CONTEXT)


def test_depth_limit_is_exact():
    validate_expression(_nested(MAX_DEPTH))
    with pytest.raises(ExpressionError, match=str(MAX_DEPTH)):
        validate_expression(_nested(MAX_DEPTH + 1))


@pytest.mark.parametrize("tree", [
    pytest.param({"+": [{"var": "obs.kind"}, 1]}, id="text-in-arithmetic"),
    pytest.param({"<": [{"var": "obs.kind"}, {"var": "obs.kind"}]}, id="text-ordering"),
    pytest.param({"and": [{"var": "obs.n"}, True]}, id="number-in-and"),
    pytest.param({"!": {"var": "obs.kind"}}, id="text-in-not"),
    pytest.param({"if": [1, 2, 3]}, id="number-as-condition"),
    pytest.param({"/": [1, 0]}, id="division-by-zero"),
    pytest.param({"in": [1, 2]}, id="in-number"),
    pytest.param({"+": [{"var": "obs.tags"}, 1]}, id="list-in-arithmetic"),
    pytest.param({"var": "obs"}, id="namespace-as-value"),
    pytest.param({"+": [{"var": "obs.big"}, 1]}, id="huge-observation"),
])
def test_ill_typed_evaluation_is_refused(tree):
    with pytest.raises(ExpressionError):
        evaluate(tree, {**CONTEXT, "obs": {**CONTEXT["obs"], "big": 10**50}})


def test_variables_never_reach_attributes():
    # Only mapping keys are looked up: an object's attributes and a dict's methods are invisible.
    assert evaluate({"var": ["venue.approved_capacity", "none"]},
                    {"venue": SimpleNamespace(approved_capacity=5)}) == "none"
    assert evaluate({"missing": ["obs.keys", "obs.items"]}, {"obs": {}}) == ["obs.keys", "obs.items"]


FORBIDDEN_CALLS = {"eval", "exec", "compile", "getattr", "setattr", "__import__", "globals", "locals", "vars"}


def test_evaluator_source_has_no_eval_or_attribute_lookup():
    for module in (rulecheck.evaluator,):
        tree = ast.parse(Path(module.__file__).read_text("utf-8"))
        called = {node.func.id for node in ast.walk(tree)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
        assert not called & FORBIDDEN_CALLS
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                    for alias in node.names} | {node.module for node in ast.walk(tree)
                                                 if isinstance(node, ast.ImportFrom)}
        assert not any(name and name.split(".")[0] in {"server", "os", "subprocess", "importlib"}
                       for name in imported)
