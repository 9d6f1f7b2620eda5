"""The 违法事实 a case gets from the record: what was found (not the requirement) with its numbers,
when (Beijing), where, who, the requirement of 金市疫情防指办〔2021〕51号 by section in words, and
the evidence; an officer's own text kept as typed; the 决定书 printing it."""

from __future__ import annotations

import re
import shutil
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from case_world import UNIT, case_world, make_assignment, make_inspection, world  # noqa: F401
from document_helpers import flat_text, write
from web_session import CSRF, login

from server.columns import utcnow
from server.enforcement import case_documents, case_facts, case_transitions
from server.enforcement import case_opening as opening
from server.enforcement import documents as document_service
from server.enforcement.models.case import EnforcementCase
from server.extensions import db as _db
from server.field.models.inspection import Observation, Photo
from server.registry.loader import ReferenceDataError, load_reference
from server.registry.schemas.fact_template_records import check_kind

# 2026-11-02 21:15 in 金华 is 13:15 UTC; the notice and decision follow within the procedure's periods.
CHECKED_IN_AT = datetime(2026, 11, 2, 13, 15, tzinfo=timezone.utc)
PHOTO_AT = datetime(2026, 11, 2, 13, 16, tzinfo=timezone.utc)
NOTIFIED_ON, DECIDED_ON = date(2026, 11, 4), date(2026, 11, 16)
IDPL = "idpl2025_art111_1_1"  # a legal basis in force in 2026 (legal_bases.yaml)
# 传染病防治法 第一百一十一条: 责令改正 and 警告 always, the fine "可以并处".
FINED = ["order_correction", "warning", "fine"]
CODE = re.compile(r"K\d|[a-z0-9]+_[a-z0-9_]+")

# For every check with a numeric or yes/no (or option) comparison: facts that violate it, and what
# the sentence must say. A new rule's checks need a row here (the coverage test says so).
VIOLATING = {
    "k1_leisure_venue_closed": ({"category": "ktv"}, {"k1_operating": True}, {}, ["暂时关停期间仍在营业"]),
    "k1_offline_training_suspended": ({"category": "training_institution"}, {"k1_operating": True}, {},
                                      ["暂停线下培训期间仍在开展线下培训"]),
    "k2_semi_closed_management": ({}, {"k2_semi_closed": False}, {}, ["未实行半封闭式管理"]),
    "k2_nonessential_visits_suspended": ({}, {"k2_nonessential_visits": True}, {}, ["有非必要探访人员进入"]),
    "k3_visitors_within_half_capacity": ({"approved_capacity": 12}, {"k3_visitors": 7}, {},
                                         ["现场接待7人，超过核定人数12人的50%（6人）"]),
    "k4_participants_within_half_capacity": ({"approved_capacity": 11}, {"k4_participants": 6}, {},
                                             ["参加活动6人，超过场所容纳规模11人的50%（5.5人）"]),
    "k5_private_room_within_half_seats": ({}, {"k5_private_room_in_use": True, "k5_private_room_seats": 12,
                                               "k5_private_room_diners": 7}, {},
                                          ["包厢内聚餐7人，超过核定12座的50%（6人）"]),
    "k6_reported_and_approved": ({}, {"k6_event_in_progress": True, "k6_reported_approved": False}, {},
                                 ["正在举办红事或白事活动，未按规定报备审批"]),
    "k7_event_reported_and_approved": ({"category": "meeting_event"},
                                       {"k7_event_in_progress": True, "k7_event_approved": False}, {},
                                       ["举办单位未向主办部门报备审批"]),
    "k7_hosting_hotel_reported": ({"category": "hotel"}, {"k7_event_in_progress": True, "k7_event_approved": True,
                                                          "k7_hotel_reported": False}, {}, ["未向属地报备"]),
    "k8_codes_checked_at_entry": ({}, {"k8_codes_checked": False}, {}, ["入口未查验“行程卡”和健康码"]),
    "k8_starred_green_code_only": ({}, {"k8_starred_person_present": True, "k8_starred_admitted": True,
                                        "k8_starred_health_code": "yellow"}, {},
                                   ["健康码为黄码的人员未予拦阻，放行进入"]),
    "k8_nat_report_verified_before_entry": ({}, {"k8_starred_person_present": True, "k8_starred_admitted": True,
                                                 "k8_starred_health_code": "green", "k8_nat_report_verified": False},
                                            {}, ["未核验其24小时内核酸检测阴性报告即放行进入"]),
    "k8_no_risk_history_for_entry": ({}, {"k8_starred_person_present": True, "k8_starred_admitted": True,
                                          "k8_starred_health_code": "green", "k8_starred_risk_history": True}, {},
                                     ["有中高风险地区旅居史或需纳入“2+14”健康管理的人员放行进入"]),
    "k8_commitment_signed_before_entry": ({}, {"k8_starred_person_present": True, "k8_starred_admitted": True,
                                               "k8_starred_health_code": "green", "k8_starred_risk_history": False,
                                               "k8_commitment_signed": False}, {}, ["未签署承诺书即放行进入"]),
    "k10_temperature_at_entrance": ({}, {"k10_temperature_checked": False}, {}, ["入口处未对进入人员测温"]),
    "k10_health_code_at_entrance": ({}, {"k10_health_code_checked": False}, {}, ["入口处未查验健康码"]),
    "k10_travel_card_at_entrance": ({}, {"k10_travel_card_checked": False}, {}, ["入口处未查验行程卡"]),
    "k10_masks_at_entrance": ({}, {"k10_masks_worn": False}, {}, ["进入人员未佩戴口罩"]),
    "k10_staff_and_families_screened": ({}, {"k10_staff_screened": False}, {}, ["未主动排查本单位工作人员"]),
    "k11_dragnet_screening_done": ({}, {"k11_dragnet_screening": False}, {}, ["未开展拉网式大排查"]),
    "k11_three_codes_checked": ({}, {"k11_arrivals_sampled": 10, "k11_arrivals_unchecked": 3}, {},
                                ["抽查市外来金返金人员10人，其中3人未经"]),
}
# The numbers each numeric check's sentence must show: the observed value and the limit.
NUMBERS = {
    "k3_visitors_within_half_capacity": ("7", "6"),
    "k4_participants_within_half_capacity": ("6", "5.5"),
    "k5_private_room_within_half_seats": ("7", "6"),
    "k11_three_codes_checked": ("3", "10"),
}


def reference(app, name: str) -> dict:
    return yaml.safe_load((Path(app.config["REFERENCE_DIR"]) / name).read_text("utf-8"))


def shipped_checks(app) -> list[tuple[dict, dict]]:
    """(rule, check) for every check in rules.yaml with a numeric, yes/no or option comparison."""
    return [(rule, check) for rule in reference(app, "rules.yaml")["rules"] for check in rule["checks"]
            if check_kind(check["expression"]) is not None]


def context_for(code: str) -> dict:
    venue, observations, extra, _ = VIOLATING[code]
    return {"venue": {"category": "x", "county": "y", "approved_capacity": None, **venue}, "obs": observations,
            **extra}


# --- one sentence per check ----------------------------------------------------------------------


def test_every_numeric_and_yes_no_check_is_in_the_table(app):
    kinds = {check["code"]: check_kind(check["expression"]) for _, check in shipped_checks(app)}
    assert {"numeric", "yes_no"} <= set(kinds.values())
    assert set(kinds) == set(VIOLATING), "每个检查条件都要有一行违规事实"
    assert {code for code, kind in kinds.items() if kind == "numeric"} == set(NUMBERS)


@pytest.mark.parametrize("code", sorted(VIOLATING))
def test_a_violation_is_stated_as_found_with_its_numbers(app, code):
    rule, check = next((r, c) for r, c in shipped_checks(app) if c["code"] == code)
    with app.app_context():
        template = case_facts.templates()[code]
    sentence = case_facts.violation_sentence(check, template, context_for(code), rule["items"])
    assert sentence, code
    for expected in VIOLATING[code][3]:
        assert expected in sentence, (code, sentence)
    for number in NUMBERS.get(code, ()):
        assert number in sentence, (code, sentence)
    # The violation, not the requirement: the check's description never stands for what was found,
    # and the sentence says what went wrong (not done, still done, more than allowed).
    assert sentence != check["description"] and not sentence.startswith(check["description"])
    assert any(word in sentence for word in ("未", "仍", "超过", "有")), sentence
    assert not CODE.search(sentence), sentence
    assert "{" not in sentence and "None" not in sentence and "True" not in sentence


@pytest.mark.parametrize(("code", "observations"), [
    ("k3_visitors_within_half_capacity", {"k3_visitors": 6}),
    ("k10_health_code_at_entrance", {"k10_health_code_checked": True}),
    ("k5_private_room_within_half_seats", {"k5_private_room_in_use": True, "k5_private_room_seats": 12}),
])
def test_no_sentence_claims_what_the_record_does_not_show(app, code, observations):
    # Compliant, or a value missing: no sentence (the facts then name the requirement as unmet).
    rule, check = next((r, c) for r, c in shipped_checks(app) if c["code"] == code)
    with app.app_context():
        template = case_facts.templates()[code]
    context = {"venue": {"approved_capacity": 12}, "obs": observations}
    assert case_facts.violation_sentence(check, template, context, rule["items"]) is None


@pytest.mark.parametrize(("section", "words"), [("三.3", "第三条第3项"), ("三.11", "第三条第11项"), ("三", "第三条"),
                                                ("12.1", "第十二条第1项")])
def test_sections_in_words(section, words):
    assert case_facts.section_words(section) == words


def test_times_people_read_are_beijing():
    assert case_facts.beijing_minute(datetime(2026, 12, 3, 13, 15, tzinfo=timezone.utc)) == "2026年12月3日21时15分"
    assert case_facts.beijing_minute(datetime(2026, 12, 31, 16, 5)) == "2027年1月1日0时5分"  # naive is UTC


# --- the templates file is reference data ----------------------------------------------------------


@pytest.fixture
def reference_copy(app, tmp_path) -> Path:
    directory = tmp_path / "reference"
    shutil.copytree(app.config["REFERENCE_DIR"], directory)
    return directory


@pytest.mark.parametrize(("old", "new", "message"), [
    ("  - check: k10_masks_at_entrance\n    rule: K10\n    kind: yes_no\n    violation: 进入人员未佩戴口罩\n", "",
     "缺少检查条件 k10_masks_at_entrance"),
    ("check: k3_visitors_within_half_capacity\n    rule: K3\n    kind: numeric",
     "check: k3_visitors_within_half_capacity\n    rule: K3\n    kind: yes_no", "数值比较"),
    ("现场接待{observed}人", "现场接待{obs.k4_participants}人", "占位符 {obs.k4_participants} 不可用"),
    ("rule: K4\n", "rule: K3\n", "属于规则 K4"),
    ("check: k11_dragnet_screening_done", "check: k11_dragnet", "未知检查条件代码 k11_dragnet"),
])
def test_loading_refuses_a_template_file_that_does_not_fit_the_rules(db, reference_copy, old, new, message):
    path = reference_copy / "fact_templates.yaml"
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")
    with pytest.raises(ReferenceDataError) as caught:
        load_reference(reference_copy)
    assert any(message in str(issue) and issue.file == "fact_templates.yaml" for issue in caught.value.issues), \
        [str(issue) for issue in caught.value.issues]


# --- a case's facts from the record ----------------------------------------------------------------


@pytest.fixture
def recorded(db, case_world, make_inspection):
    """A K3 and a K10 violation of the world's venue with the observations behind them and photos."""
    venue = case_world.world.venue
    venue.approved_capacity = 12
    inspection, violations = make_inspection(
        checks=("k3_visitors_within_half_capacity", "k10_health_code_at_entrance"), checked_in_at=CHECKED_IN_AT)
    _db.session.add_all([
        Observation(inspection_id=inspection.id, item_code="k3_visitors", value=7, recorded_at=CHECKED_IN_AT),
        Observation(inspection_id=inspection.id, item_code="k10_health_code_checked", value=False,
                    recorded_at=CHECKED_IN_AT)])
    for n, caption in enumerate(("馆内游客", "入口无人查码", None)):
        _db.session.add(Photo(uuid=str(uuid.uuid4()), inspection_id=inspection.id, sha256=f"{n:064d}", size=10,
                              filename=f"{n}.jpg", media_type="image/jpeg", caption=caption,
                              taken_at=PHOTO_AT.replace(minute=16 + n), received_at=utcnow()))
    _db.session.flush()
    return violations


def open_with(case_world, violations, facts=None) -> EnforcementCase:
    return opening.open_case([v.id for v in violations], officers=[o.id for o in case_world.officers], party=UNIT,
                             circumstance="first", actor=case_world.officers[0], facts=facts)


def test_blank_facts_are_written_from_the_record(db, case_world, recorded):
    venue = case_world.world.venue
    facts = open_with(case_world, recorded).facts
    for expected in (
        "2026年11月2日21时15分",  # when (Beijing)
        venue.name, venue.address,  # where
        f"当事单位{UNIT['unit_name']}",  # who
        "现场接待7人，超过核定人数12人的50%（6人）",  # what, with its numbers
        "入口处未查验健康码",
        "金市疫情防指办〔2021〕51号第三条第3项“全市景区",  # which requirement, by section in words
        "第三条第10项“各党政机关",
        "现场检查记录1份、现场照片3张（2026年11月2日21时16分“馆内游客”等）",  # the evidence
    ):
        assert expected in facts, (expected, facts)
    assert not CODE.search(facts), facts
    # The requirements are quoted as the document's text, never given as what was found.
    assert "接待人数不超过核定人数的50%" not in facts.split("上述行为违反了")[0]


def test_an_officers_own_text_is_kept_as_typed(db, case_world, recorded):
    typed = "经查，当事单位于2026年11月2日晚超员接待，且未查验健康码。"
    assert open_with(case_world, recorded, facts=typed).facts == typed


def test_the_decision_prints_the_facts_written_from_the_record(db, case_world, recorded, tmp_path):
    case = open_with(case_world, recorded)
    officer = case_world.officers[0]
    fine = {"types": FINED, "fine_amount": 5000, "basis_code": IDPL}
    for to_state, data in (("investigating", {}), ("notified", {"proposed_penalty": fine, "notified_on": NOTIFIED_ON}),
                           ("decided", {"decided_penalty": fine, "decided_on": DECIDED_ON})):
        case_transitions.transition(case, to_state, actor=officer, version=case.version, **data)
    [decision] = [d for d in case_documents.documents_of(case) if d.kind == "penalty_decision"]
    text = flat_text(write(tmp_path, document_service.document_path(decision).read_bytes(), "decision.pdf"))
    for expected in ("2026年11月2日21时15分", case_world.world.venue.name,
                     "现场接待7人，超过核定人数12人的50%（6人）", "入口处未查验健康码", "第三条第3项",
                     "现场照片3张"):
        assert expected in text, expected
    # (The random verification code may itself hold "K3": left out.)
    assert "k3_visitors" not in text and "K3" not in text.replace(decision.verification_code, "")


def test_the_case_form_proposes_the_facts_and_composes_them_again_if_left_unchanged(client, db, case_world,
                                                                                      recorded):
    login(client, case_world.officers[0])
    page = client.get("/cases/new?" + "&".join(f"violation={v.id}" for v in recorded)).get_data(as_text=True)
    assert "现场接待7人，超过核定人数12人的50%（6人）" in page
    # The party is prefilled from the venue (a unit named as the venue), and the proposal names it
    # once, not as "当事单位X经营的X".
    venue = case_world.world.venue
    assert f"对当事单位{venue.name}（地址：{venue.address}）进行检查" in page
    assert "经营的" not in page
    proposed = case_facts.compose_facts(recorded, {"kind": "unit", "unit_name": case_world.world.venue.name})
    data = {"csrf_token": CSRF.search(page).group(1), "violation_ids": [v.id for v in recorded],
            "party_kind": "unit", "party_unit_name": UNIT["unit_name"], "party_credit_code": UNIT["credit_code"],
            "circumstance": "first", "officer1": case_world.officers[0].id, "officer2": case_world.officers[1].id,
            "facts": proposed.replace("\n", "\r\n"), "facts_proposed": proposed}
    assert client.post("/cases/new", data=data).status_code == 302
    _db.session.expire_all()
    [case] = _db.session.scalars(sa.select(EnforcementCase)).all()
    assert f"当事单位{UNIT['unit_name']}经营的" in case.facts and "经营者" not in case.facts
