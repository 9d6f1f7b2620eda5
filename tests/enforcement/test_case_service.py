"""Penalty cases in the service: opening, officers, the state machine, version, audit, overdue."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa
from case_world import ACT_DATE, PERSON, UNIT, case_world, make_assignment, make_inspection, world  # noqa: F401

from server.audit.models.audit import AuditEvent
from server.enforcement import case_opening as opening
from server.enforcement import case_transitions
from server.enforcement import cases as service
from server.enforcement.models.case import CASE_STATES, CaseTransition, CaseViolation, EnforcementCase
from server.errors import Conflict, Forbidden, Invalid

NOTIFIED_ON = date(2026, 3, 13)  # a Friday: three working days later is Wednesday the 18th
IDPL = "idpl2025_art111_1_1"  # 传染病防治法 第一百一十一条, in force on the act date (2026-03-10)
# 传染病防治法 第一百一十一条: 责令改正 and 警告 always, the fine "可以并处".
WARNED = ["order_correction", "warning"]
FINED = ["order_correction", "warning", "fine"]
# The most the benchmark allows a unit's first offence (罚款5000元以下): no hearing right.
FINE = {"types": FINED, "fine_amount": 5000, "basis_code": IDPL}
W = {"types": WARNED, "fine_amount": None, "basis_code": IDPL}

# The data each target state needs, on the path the tests walk.
STEP_DATA = {
    "investigating": {},
    "notified": {"proposed_penalty": FINE, "notified_on": NOTIFIED_ON},
    "decided": {"decided_penalty": FINE, "decided_on": date(2026, 3, 19)},
    "served": {"served_on": date(2026, 3, 20), "service_method": "direct"},
    "executed": {"outcome": "paid", "paid_amount": 5000, "paid_on": date(2026, 3, 26)},
    "closed": {},
    "no_penalty": {"reason": "违法行为轻微并及时改正，没有造成危害后果"},
    "revoked": {"reason": "立案错误"},
}
MAIN_PATH = ("filed", "investigating", "notified", "decided", "served", "executed", "closed")


def open_unit_case(cw, violations=None, **overrides) -> EnforcementCase:
    values = dict(officers=[o.id for o in cw.officers], party=UNIT, circumstance="first",
                  actor=cw.officers[0])
    values.update(overrides)
    return opening.open_case([v.id for v in (violations or cw.violations)], **values)


def move(case, to_state, actor, **extra):
    data = dict(STEP_DATA[to_state], **extra)
    return case_transitions.transition(case, to_state, actor=actor, version=case.version, **data)


def case_in(cw, state) -> EnforcementCase:
    """A case walked along the main path (or to an end state) with the service."""
    case = open_unit_case(cw)
    actor = cw.officers[0]
    if state in ("no_penalty",):
        move(case, "investigating", actor)
        move(case, "no_penalty", actor)
        return case
    if state == "revoked":
        move(case, "revoked", actor)
        return case
    for step in MAIN_PATH[1:MAIN_PATH.index(state) + 1]:
        move(case, step, actor)
    return case


def test_open_case_copies_certificates_and_records_who_and_when(db, case_world):
    cw = case_world
    case = open_unit_case(cw)
    assert case.state == "filed" and case.version == 1
    assert case.act_date == ACT_DATE
    assert (case.officer1_certificate_no, case.officer2_certificate_no) == tuple(
        o.enforcement_certificate_no for o in cw.officers)
    assert case.party_unit_name == UNIT["unit_name"] and case.party_credit_code == UNIT["credit_code"]
    assert sorted(link.violation_id for link in case.links) == sorted(v.id for v in cw.violations)
    assert all(link.live for link in case.links)
    # A later change of certificate does not rewrite the case.
    cw.officers[0].enforcement_certificate_no = "浙执新00001"
    db.session.flush()
    db.session.refresh(case)
    assert case.officer1_certificate_no != "浙执新00001"
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "case.opened",
                                                          AuditEvent.object_id == str(case.id)))
    assert event.actor_id == cw.officers[0].id and event.details["violation_ids"] == [v.id for v in cw.violations]
    [first] = service.history(case)
    assert (first.from_state, first.to_state, first.actor_id) == (None, "filed", cw.officers[0].id)


@pytest.mark.parametrize("who", ["one", "same_twice", "inspector_with_certificate", "uncertified", "unknown"])
def test_two_certified_enforcement_officers_are_required(db, case_world, who):
    cw = case_world
    officers = {
        "one": [cw.officers[0].id],
        "same_twice": [cw.officers[0].id, cw.officers[0].id],
        "inspector_with_certificate": [cw.officers[0].id, cw.users["team_leader"].id],
        "uncertified": [cw.officers[0].id, cw.uncertified.id],
        "unknown": [cw.officers[0].id, 2**31 - 1],
    }[who]
    with pytest.raises(Invalid) as caught:
        open_unit_case(cw, officers=officers)
    assert caught.value.status == 422 and "officers" in caught.value.errors
    assert db.session.scalar(sa.select(sa.func.count(EnforcementCase.id))) == 0


@pytest.mark.parametrize("party, field", [
    ({"kind": "unit", "unit_name": "某公司", "legal_representative": "王某"}, "party.credit_code"),
    ({"kind": "individual", "name": "李某"}, "party.id_number"),
    ({"kind": "individual", "name": "李某", "id_number": "12345"}, "party.id_number"),
    ({"kind": "robot"}, "party.kind"),
])
def test_party_must_be_complete_for_its_kind(db, case_world, party, field):
    with pytest.raises(Invalid) as caught:
        open_unit_case(case_world, party=party)
    assert field in caught.value.errors


def test_violations_of_two_venues_are_not_one_case(db, case_world):
    with pytest.raises(Invalid):
        open_unit_case(case_world, violations=[case_world.violations[0], case_world.other_violation])


def test_every_allowed_transition_of_the_main_path_is_audited_with_its_actor(db, case_world):
    cw = case_world
    # A unit's serious case: the benchmark's 10000–20000 yuan, whose top carries the hearing right.
    case = open_unit_case(cw, circumstance="serious")
    actor = cw.officers[1]
    fine = dict(FINE, fine_amount=20000)
    large = {"notified": {"proposed_penalty": fine}, "decided": {"decided_penalty": fine},
             "executed": {"paid_amount": 20000}}
    for step in MAIN_PATH[1:]:
        before = case.version
        row = move(case, step, actor, **large.get(step, {}))
        assert case.state == step and case.version == before + 1
        assert (row.to_state, row.actor_id) == (step, actor.id)
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == f"case.{step}",
                                                              AuditEvent.object_id == str(case.id)))
        assert event is not None and event.actor_id == actor.id and event.details["to"] == step
    assert [t.to_state for t in service.history(case)] == list(MAIN_PATH)
    assert case.statement_deadline == date(2026, 3, 18)
    # A unit's 20000-yuan fine carries the hearing right (≥ 10000): five days to ask.
    assert case.hearing_offered and case.hearing_request_deadline == date(2026, 3, 18)
    assert (case.proposed_basis_code, case.decided_basis_code) == (IDPL, IDPL)
    assert (case.decided_penalty_types, case.decided_amount) == (["order_correction", "warning", "fine"], 20000)
    assert (case.execution_outcome, case.paid_amount) == ("paid", 20000)
    assert case.closed_on is not None


@pytest.mark.parametrize("from_state", ["investigating", "notified"])
def test_no_penalty_from_investigation_or_notice(db, case_world, from_state):
    case = case_in(case_world, from_state)
    move(case, "no_penalty", case_world.officers[0])
    assert case.state == "no_penalty" and case.end_reason == STEP_DATA["no_penalty"]["reason"]


@pytest.mark.parametrize("from_state", ["filed", "investigating", "notified", "decided", "served"])
def test_revoking_frees_the_violations_for_a_new_case(db, case_world, from_state):
    case = case_in(case_world, from_state)
    move(case, "revoked", case_world.officers[0])
    assert case.state == "revoked"
    assert all(link.live is None for link in case.links)
    again = open_unit_case(case_world)
    assert again.id != case.id and again.state == "filed"


@pytest.mark.parametrize("from_state", CASE_STATES)
def test_refused_transitions_are_409_naming_the_allowed_states(db, case_world, from_state):
    case = case_in(case_world, from_state)
    allowed = service.ALLOWED_TRANSITIONS[from_state]
    refused = [s for s in CASE_STATES[1:] if s not in allowed]
    assert refused
    for to_state in refused:
        with pytest.raises(Conflict) as caught:
            move(case, to_state, case_world.officers[0])
        detail = caught.value.detail
        assert service.STATE_LABELS[to_state] in detail
        for target in allowed:
            assert service.STATE_LABELS[target] in detail
        assert caught.value.extra["allowed"] == list(allowed)
        assert case.state == from_state


def test_state_table_as_the_issue_states_it():
    assert service.ALLOWED_TRANSITIONS == {
        "filed": ("investigating", "revoked"),
        "investigating": ("notified", "no_penalty", "revoked"),
        "notified": ("decided", "no_penalty", "revoked"),
        "decided": ("served", "revoked"),
        "served": ("executed", "revoked"),
        "executed": ("closed",),
        "closed": (), "no_penalty": (), "revoked": (),
    }


def test_stale_version_is_409_and_changes_nothing(db, case_world):
    case = open_unit_case(case_world)
    move(case, "investigating", case_world.officers[0])
    with pytest.raises(Conflict) as caught:
        case_transitions.transition(case, "notified", actor=case_world.officers[0], version=1, **STEP_DATA["notified"])
    assert caught.value.extra["current_version"] == 2
    assert case.state == "investigating" and case.proposed_penalty_types is None


def test_concurrent_writer_from_the_same_version_loses(db, case_world):
    """The conditional UPDATE: another transaction moved the row since this one read it."""
    case = open_unit_case(case_world)
    db.session.execute(sa.update(EnforcementCase).where(EnforcementCase.id == case.id)
                       .values(version=2, state="investigating"))
    with pytest.raises(Conflict):
        case_transitions.transition(case, "investigating", actor=case_world.officers[0], version=1)
    assert db.session.scalar(sa.select(sa.func.count(CaseTransition.id))
                             .where(CaseTransition.case_id == case.id)) == 1


def test_decision_waits_for_the_statement_period_unless_waived(db, case_world):
    case = case_in(case_world, "notified")
    early = date(2026, 3, 17)
    # A date the procedure does not allow is an invalid body (422 naming the dates), not a conflict.
    with pytest.raises(Invalid, match="陈述、申辩期限至2026年3月18日止"):
        move(case, "decided", case_world.officers[0], decided_on=early)
    move(case, "decided", case_world.officers[0], decided_on=early, statement_waived=True)
    assert case.state == "decided" and case.statement_waived


def test_requested_hearing_must_be_held_and_penalty_not_heavier(db, case_world):
    case = open_unit_case(case_world, circumstance="refused")
    officer = case_world.officers[0]
    move(case, "investigating", officer)
    # A unit that refused: 10000–20000 yuan; a unit's fine of 10000 yuan or more carries the hearing right.
    move(case, "notified", officer, proposed_penalty=dict(FINE, fine_amount=15000))
    assert case.hearing_offered
    with pytest.raises(Conflict, match="当事人要求听证，须举行听证后才能作出决定"):
        move(case, "decided", officer, hearing_requested=True, decided_penalty=dict(FINE, fine_amount=15000))
    # Within the benchmark, but heavier than the notice.
    with pytest.raises(Conflict, match="不得因当事人陈述、申辩而加重"):
        move(case, "decided", officer, decided_penalty=dict(FINE, fine_amount=18000))
    assert case.state == "notified" and case.decided_penalty_types is None
    move(case, "decided", officer, hearing_requested=True, hearing_held_on=date(2026, 3, 19),
         decided_penalty=dict(FINE, fine_amount=10000))
    assert case.decided_amount == 10000 and case.hearing_held_on == date(2026, 3, 19)


def test_a_heavier_kind_of_penalty_than_the_notice_is_refused(db, case_world):
    case = case_in(case_world, "investigating")
    officer = case_world.officers[0]
    move(case, "notified", officer, proposed_penalty=W)
    assert not case.hearing_offered and case.hearing_request_deadline is None
    # A fine the benchmark allows, but a fine is heavier than the warning notified.
    with pytest.raises(Conflict, match="不得因当事人陈述、申辩而加重"):
        move(case, "decided", officer, decided_penalty=dict(FINE, fine_amount=1000))
    move(case, "decided", officer, decided_penalty=W)
    assert (case.decided_penalty_types, case.decided_amount) == (["order_correction", "warning"], None)


@pytest.mark.parametrize("to_state, data, field", [
    ("notified", {"proposed_penalty": {"types": ["fine"], "fine_amount": 0, "basis_code": "X"}},
     "proposed_penalty.fine_amount"),
    ("notified", {"proposed_penalty": {"types": ["fine"], "fine_amount": 10.5, "basis_code": "X"}},
     "proposed_penalty.fine_amount"),
    ("notified", {"proposed_penalty": {"types": ["warning"], "fine_amount": 100, "basis_code": "X"}},
     "proposed_penalty.fine_amount"),
    ("notified", {"proposed_penalty": {"types": ["detention"], "fine_amount": None, "basis_code": "X"}},
     "proposed_penalty.detention_days"),
    ("notified", {"proposed_penalty": {"types": ["warning"], "detention_days": 5, "basis_code": "X"}},
     "proposed_penalty.detention_days"),
    ("notified", {"proposed_penalty": {"types": ["caning"], "fine_amount": None, "basis_code": "X"}},
     "proposed_penalty.types"),
    ("notified", {"proposed_penalty": {"types": [], "basis_code": "X"}}, "proposed_penalty.types"),
    ("notified", {"proposed_penalty": {"types": ["warning", "warning"], "basis_code": "X"}},
     "proposed_penalty.types"),
    ("notified", {"proposed_penalty": {"types": ["warning"], "fine_amount": None, "basis_code": ""}},
     "proposed_penalty.basis_code"),
    ("notified", {}, "proposed_penalty"),
    ("no_penalty", {"reason": "  "}, "reason"),
])
def test_transition_data_is_required(db, case_world, to_state, data, field):
    case = case_in(case_world, "investigating")
    with pytest.raises(Invalid) as caught:
        case_transitions.transition(case, to_state, actor=case_world.officers[0], version=case.version, **data)
    assert field in caught.value.errors
    assert case.state == "investigating" and case.version == 2


def test_served_and_executed_need_their_data(db, case_world):
    case = case_in(case_world, "decided")
    officer = case_world.officers[0]
    with pytest.raises(Invalid):
        case_transitions.transition(case, "served", actor=officer, version=case.version, served_on=date(2026, 3, 20))
    move(case, "served", officer)
    with pytest.raises(Invalid):
        case_transitions.transition(case, "executed", actor=officer, version=case.version, outcome="complied")
    with pytest.raises(Invalid):
        move(case, "executed", officer, paid_amount=4000)
    move(case, "executed", officer)
    assert case.state == "executed"


@pytest.mark.parametrize("party, circumstance, penalty, expected", [
    (UNIT, "first", dict(FINE, fine_amount=5000), False),
    (UNIT, "repeated", dict(FINE, fine_amount=9999), False),
    (UNIT, "repeated", dict(FINE, fine_amount=10000), True),  # the unit threshold, the top of "repeated"
    (UNIT, "refused", dict(FINE, fine_amount=10000), True),
    (UNIT, "serious", dict(FINE, fine_amount=20000), True),
    (UNIT, "refused", W, False),
    # The most this law allows an individual (1000) stays below the individual threshold (2000).
    (PERSON, "refused", dict(FINE, fine_amount=1000), False),
    (PERSON, "first", W, False),
])
def test_hearing_right_by_the_thresholds(db, case_world, party, circumstance, penalty, expected):
    case = open_unit_case(case_world, party=party, circumstance=circumstance)
    move(case, "investigating", case_world.officers[0])
    move(case, "notified", case_world.officers[0], proposed_penalty=penalty)
    assert case.hearing_offered is expected
    assert case.hearing_request_deadline == (date(2026, 3, 18) if expected else None)


@pytest.mark.parametrize("party_kind, types, amount, days, id_number, expected", [
    ("individual", ["fine"], 1999, None, None, False), ("individual", ["fine"], 2000, None, None, True),
    ("unit", ["fine"], 9999, None, None, False), ("unit", ["fine"], 10000, None, None, True),
    ("unit", ["suspend"], None, None, None, True), ("individual", ["suspend"], None, None, None, True),
    ("individual", ["warning"], None, None, None, False),
    # 治安管理处罚法 2025 第一百一十七条: detention carries the right for a minor only (17 on the act
    # date 2026-03-10 by the ID number's birth date; 18 the day before).
    ("individual", ["detention", "fine"], 500, 5, "330702200803110011", True),
    ("individual", ["detention"], None, 5, "330702200803100011", False),
    ("individual", ["detention"], None, 5, "330702198001010011", False),
    ("individual", ["detention"], None, 5, None, False),
])
def test_hearing_thresholds_the_case_applies(db, party_kind, types, amount, days, id_number, expected):
    """Also the rows no benchmark here reaches (an individual's 2000 yuan, 责令停产停业)."""
    case = EnforcementCase(party_kind=party_kind, party_id_number=id_number, act_date=ACT_DATE)
    penalty = {"types": types, "fine_amount": amount, "detention_days": days}
    assert case_transitions._hearing_right(case, penalty, on=ACT_DATE) is expected


BENCHMARK_TEXT = "的裁量基准为：责令改正、警告；或责令改正、警告并处罚款"


@pytest.mark.parametrize("party, circumstance, penalty, text, allowed", [
    (UNIT, "first", dict(FINE, fine_amount=5001), f"单位初次违法{BENCHMARK_TEXT}5000元以下；拟处责令改正、警告并处罚款5001元，罚款超出该范围",
     {"min_fine": None, "max_fine": 5000}),
    (UNIT, "refused", dict(FINE, fine_amount=9999),
     f"单位拒不配合{BENCHMARK_TEXT}10000元以上20000元以下；拟处责令改正、警告并处罚款9999元，罚款超出该范围", {"min_fine": 10000, "max_fine": 20000}),
    (UNIT, "serious", dict(FINE, fine_amount=20001),
     f"单位情节严重{BENCHMARK_TEXT}10000元以上20000元以下（", {"min_fine": 10000, "max_fine": 20000}),
    (PERSON, "first", dict(FINE, fine_amount=5000), f"个人初次违法{BENCHMARK_TEXT}200元以下；拟处责令改正、警告并处罚款5000元，罚款超出该范围",
     {"min_fine": None, "max_fine": 200}),
    (PERSON, "repeated", dict(FINE, fine_amount=199),
     f"个人再次违法{BENCHMARK_TEXT}200元以上500元以下；拟处责令改正、警告并处罚款199元，罚款超出该范围", {"min_fine": 200, "max_fine": 500}),
    (PERSON, "refused", dict(FINE, fine_amount=2000),
     f"个人拒不配合{BENCHMARK_TEXT}500元以上1000元以下；拟处责令改正、警告并处罚款2000元，罚款超出该范围", {"min_fine": 500, "max_fine": 1000}),
    (UNIT, "first", {"types": ["suspend"], "fine_amount": None, "basis_code": IDPL},
     "规定的处罚种类为：责令改正、警告、罚款，没有责令停产停业；不能据此处以责令停产停业",
     {"min_fine": None, "max_fine": 5000}),
    (UNIT, "first", dict(FINE, types=["order_correction", "fine"], fine_amount=1000),
     f"单位初次违法{BENCHMARK_TEXT}5000元以下；拟处责令改正并处罚款1000元不在允许的处罚组合之内（缺少必须同时给予的警告）",
     {"min_fine": None, "max_fine": 5000}),
], ids=["unit-first-5001", "unit-refused-9999", "unit-serious-20001", "individual-first-5000",
        "individual-repeated-199", "individual-refused-2000", "unit-first-suspend",
        "unit-first-fine-without-warning"])
def test_penalty_outside_the_benchmark_is_409_naming_the_range(db, case_world, party, circumstance, penalty, text,
                                                                allowed):
    case = open_unit_case(case_world, party=party, circumstance=circumstance)
    officer = case_world.officers[0]
    move(case, "investigating", officer)
    with pytest.raises(Conflict) as caught:
        move(case, "notified", officer, proposed_penalty=penalty)
    problem = caught.value
    assert problem.status == 409
    assert problem.detail.startswith("依据《中华人民共和国传染病防治法》第一百一十一条第一款第（一）项（2025年9月1日起施行）")
    assert text in problem.detail
    assert problem.extra["allowed"] == {"basis_code": IDPL, "combinations": [["order_correction", "warning"],
                                                                             ["order_correction", "warning", "fine"]],
                                        "min_detention_days": None, "max_detention_days": None, **allowed}
    assert (case.state, case.version, case.proposed_penalty_types, case.notified_on, case.hearing_offered) == (
        "investigating", 2, None, None, False)
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id)).where(
        AuditEvent.action == "case.notified", AuditEvent.object_id == str(case.id))) == 0


def test_decided_penalty_outside_the_benchmark_is_409(db, case_world):
    case = case_in(case_world, "notified")
    with pytest.raises(Conflict, match="罚款5000元以下；拟处责令改正、警告并处罚款6000元，罚款超出该范围") as caught:
        move(case, "decided", case_world.officers[0], decided_penalty=dict(FINE, fine_amount=6000))
    assert caught.value.extra["allowed"]["max_fine"] == 5000
    assert case.state == "notified" and case.decided_penalty_types is None


@pytest.mark.parametrize("given, party, penalty, recorded", [
    # Codes of versions not in force on 2026-03-10 resolve to the version that is.
    ("idpl2013_art42", UNIT, {"types": FINED, "fine_amount": 5000}, IDPL),
    ("psapl2012_art50_1_1", PERSON, {"types": ["fine"], "fine_amount": 500}, "psapl2025_art61_1_1"),  # 2012: ≤ 200
    # The provision's key names the same law.
    ("idpl-epidemic-control-measures", UNIT, {"types": ["order_correction", "warning"], "fine_amount": None}, IDPL),
])
def test_basis_resolves_to_the_version_in_force_on_the_act_date(db, case_world, given, party, penalty, recorded):
    case = open_unit_case(case_world, party=party)
    officer = case_world.officers[0]
    move(case, "investigating", officer)
    move(case, "notified", officer, proposed_penalty=dict(penalty, basis_code=given))
    assert case.proposed_basis_code == recorded
    move(case, "decided", officer, decided_penalty=dict(penalty, basis_code=given))
    assert case.decided_basis_code == recorded


# 2025-08-12 09:30 in 金华: before the 2025 传染病防治法 (2025-09-01) and 治安管理处罚法 (2026-01-01).
OLD_ACT = datetime(2025, 8, 12, 1, 30, tzinfo=timezone.utc)


def test_an_act_under_the_old_laws_is_judged_by_them(db, case_world, make_inspection):
    cw = case_world
    officer = cw.officers[0]
    _, violations = make_inspection(checks=("k1_closed",), checked_in_at=OLD_ACT)
    case = open_unit_case(cw, violations=violations, party=PERSON)
    assert case.act_date == date(2025, 8, 12)
    move(case, "investigating", officer)
    # The 2025 治安管理处罚法 would allow 500; the 2012 text in force then allows 200.
    with pytest.raises(Conflict) as caught:
        move(case, "notified", officer, proposed_penalty={"types": ["fine"], "fine_amount": 500,
                                                          "basis_code": "psapl2025_art61_1_1"})
    assert "第五十条第一款第（一）项（2006年3月1日起施行，2025年12月31日止）" in caught.value.detail
    assert "罚款200元以下" in caught.value.detail
    assert caught.value.extra["allowed"]["basis_code"] == "psapl2012_art50_1_1"
    # The 2013 传染病防治法 fined nobody for this: only an order to correct, so no warning or fine.
    with pytest.raises(Conflict) as caught:
        move(case, "notified", officer, proposed_penalty=W)
    assert "第四十二条（2004年12月1日起施行，2025年8月31日止）" in caught.value.detail
    assert caught.value.extra["allowed"]["basis_code"] == "idpl2013_art42"
    assert case.state == "investigating"
    move(case, "notified", officer, proposed_penalty={"types": ["fine"], "fine_amount": 200,
                                                     "basis_code": "psapl2025_art61_1_1"})
    assert case.proposed_basis_code == "psapl2012_art50_1_1"


def test_a_law_for_individuals_has_no_benchmark_for_a_unit(db, case_world):
    case = case_in(case_world, "investigating")
    with pytest.raises(Conflict, match="没有适用于单位初次违法的裁量基准") as caught:
        move(case, "notified", case_world.officers[0],
             proposed_penalty={"types": ["warning"], "fine_amount": None, "basis_code": "psapl2025_art61_1_1"})
    assert caught.value.extra["allowed"] == {"basis_code": "psapl2025_art61_1_1", "combinations": [],
                                             "min_fine": None, "max_fine": None, "min_detention_days": None,
                                             "max_detention_days": None}
    assert case.state == "investigating"


def test_an_unknown_basis_is_invalid_naming_the_field(db, case_world):
    case = case_in(case_world, "investigating")
    with pytest.raises(Invalid) as caught:
        move(case, "notified", case_world.officers[0],
             proposed_penalty={"types": ["warning"], "fine_amount": None, "basis_code": "no-such-law"})
    assert list(caught.value.errors) == ["proposed_penalty.basis_code"]
    assert "no-such-law" in caught.value.errors["proposed_penalty.basis_code"][0]
    assert case.state == "investigating"


def test_a_violation_is_in_one_live_case_only(db, case_world):
    open_unit_case(case_world)
    with pytest.raises(Conflict, match="已在办理中的案件"):
        open_unit_case(case_world, violations=case_world.violations[:1])


def test_the_database_settles_two_concurrent_openings(db, case_world, monkeypatch):
    """Both requests pass the check before either inserts: the unique (violation, live) pair lets
    one win and turns the other into a 409, with nothing of it stored."""
    first = open_unit_case(case_world)
    monkeypatch.setattr(opening, "_check_open", lambda violations: None)
    with pytest.raises(Conflict, match="刚被其他案件立案"):
        open_unit_case(case_world, violations=case_world.violations[:1])
    assert db.session.scalar(sa.select(sa.func.count(EnforcementCase.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(CaseViolation.id))) == len(first.links)


def test_decline_removes_from_the_queue_and_is_audited(db, case_world):
    cw = case_world
    enforcement = cw.officers[0]
    queue = {v.id for v in opening.open_violations(enforcement)}
    assert {v.id for v in cw.violations} <= queue
    opening.decline_violations([cw.violations[0].id], reason="已当场整改到位", actor=enforcement)
    queue = {v.id for v in opening.open_violations(enforcement)}
    assert cw.violations[0].id not in queue and cw.violations[1].id in queue
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "violation.declined"))
    assert event.actor_id == enforcement.id and event.object_id == str(cw.violations[0].id)
    with pytest.raises(Conflict, match="不予立案"):
        open_unit_case(cw)
    open_unit_case(cw, violations=cw.violations[1:])
    assert cw.violations[1].id not in {v.id for v in opening.open_violations(enforcement)}
    with pytest.raises(Conflict):
        opening.decline_violations([cw.violations[1].id], reason="重复", actor=enforcement)
    with pytest.raises(Invalid):
        opening.decline_violations([cw.other_violation.id], reason=" ", actor=enforcement)


def test_overdue_notice_and_unpaid_fine(db, case_world):
    cw = case_world
    notified = case_in(cw, "notified")
    served = case_in_with(cw, "served", violations=[cw.other_violation])
    on_time = service.overdue_cases(on=date(2026, 3, 18))
    assert notified not in on_time
    assert notified in service.overdue_cases(on=date(2026, 3, 19))
    # Served on the 24th: the fine is due by 2026-04-04.
    assert served not in service.overdue_cases(on=date(2026, 4, 4))
    assert served in service.overdue_cases(on=date(2026, 4, 5))
    assert service.is_overdue(served, date(2026, 4, 5)) and not service.is_overdue(served, date(2026, 4, 4))
    page = service.list_cases(cw.officers[0], overdue=True, on=date(2026, 4, 5))
    assert {c.id for c in page.items} == {notified.id, served.id}
    assert service.list_cases(cw.officers[0], overdue=False, on=date(2026, 3, 16)).total == 2


def case_in_with(cw, state, violations):
    case = open_unit_case(cw, violations=violations)
    for step in MAIN_PATH[1:MAIN_PATH.index(state) + 1]:
        move(case, step, cw.officers[0])
    return case


def test_working_days_skip_weekends_and_listed_holidays(app):
    with app.app_context():
        rules = service.periods()
    assert rules.add_working_days(date(2026, 3, 13), 3) == date(2026, 3, 18)
    holiday_rules = service.CasePeriods(3, 5, 15, frozenset({date(2026, 3, 16)}), frozenset({date(2026, 3, 14)}))
    assert holiday_rules.add_working_days(date(2026, 3, 13), 3) == date(2026, 3, 18)
    assert holiday_rules.add_working_days(date(2026, 3, 13), 2) == date(2026, 3, 17)


@pytest.mark.parametrize("role", ["inspector", "department", "county", "propaganda", "auditor"])
def test_other_roles_cannot_read_cases(db, case_world, role):
    case = open_unit_case(case_world)
    user = next(u for u in case_world.users.values() if u.role == role)
    with pytest.raises(Forbidden):
        service.find_case(case.id, user)
    with pytest.raises(Forbidden):
        service.list_cases(user)
    with pytest.raises(Forbidden):
        opening.open_violations(user)


@pytest.mark.parametrize("role", ["office", "admin"])
def test_office_and_admin_read_but_do_not_act(db, case_world, role):
    case = open_unit_case(case_world)
    user = case_world.users[role]
    assert service.find_case(case.id, user) is case
    with pytest.raises(Forbidden):
        move(case, "investigating", user)
    with pytest.raises(Forbidden):
        open_unit_case(case_world, actor=user)


def test_party_data_columns_are_marked_personal():
    from server.columns import personal_columns

    assert {"party_name", "party_id_number", "party_legal_representative", "party_address",
            "party_phone"} <= set(personal_columns(EnforcementCase))


def test_a_case_decides_the_combinations_of_its_benchmark(db, case_world):
    from server.registry.models.reference import LEGAL_PENALTY_TYPES

    assert set(service.CASE_PENALTY_TYPES) == set(LEGAL_PENALTY_TYPES)
    assert service.PENALTY_LABELS["order_correction"] == "责令改正"
    case = case_in(case_world, "investigating")
    officer = case_world.officers[0]
    # 传染病防治法 第一百一十一条 has no detention, and a unit is never detained.
    with pytest.raises(Conflict, match="行政拘留只能对个人适用"):
        move(case, "notified", officer, proposed_penalty={"types": ["detention"], "detention_days": 5,
                                                          "basis_code": IDPL})
    # 责令改正 alone is not enough: 警告 is mandatory (给予警告).
    with pytest.raises(Conflict, match="缺少必须同时给予的警告"):
        move(case, "notified", officer, proposed_penalty={"types": ["order_correction"], "basis_code": IDPL})
    move(case, "notified", officer, proposed_penalty=W)
    move(case, "decided", officer, decided_penalty=W)
    assert (case.state, case.decided_penalty_types) == ("decided", ["order_correction", "warning"])


def test_a_decision_on_another_provision_than_the_notice_needs_a_new_notice(db, case_world):
    case = case_in(case_world, "investigating")
    officer = case_world.officers[0]
    move(case, "notified", officer, proposed_penalty=W)
    # 突发事件应对法 第九十八条 also allows an order to correct, but it is not the provision notified.
    with pytest.raises(Conflict, match="须重新告知") as caught:
        move(case, "decided", officer,
             decided_penalty={"types": ["order_correction"], "fine_amount": None, "basis_code": "erl2024_art98"})
    assert caught.value.extra["decided_basis_code"] == "erl2024_art98"
    assert (case.state, case.decided_penalty_types) == ("notified", None)


def test_circumstance_labels_have_one_source():
    from server.registry.models.reference import CIRCUMSTANCE_LABELS

    assert opening.CIRCUMSTANCE_LABELS is CIRCUMSTANCE_LABELS and CIRCUMSTANCE_LABELS["refused"] == "拒不配合"
