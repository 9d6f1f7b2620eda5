"""The rules of 三、重点任务 held to the document's own words, clause by clause.

Each test quotes the clause exactly as the source document prints it (and checks that the quote
occurs in the document), then shows that the rule data does what the sentence says: evaluated
alone (rulecheck, as the phone app evaluates it) and, where a venue is inspected, in the server's
own evaluation of a submitted inspection.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from assignment_world import make_assignment, world  # noqa: F401  (fixtures)

from rulecheck import COMPLIANT, NOT_APPLICABLE, VIOLATION, evaluate_rule
from server.accounts.auth import issue_device_token
from server.columns import utcnow
from server.extensions import db as _db
from server.field.models.inspection import Inspection, Violation
from server.registry.loader import ReferenceDataError, load_reference, rules_bundle_for_category
from server.registry.models.reference import County, Rule, VenueCategory

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "server" / "reference"
# 金市疫情防指办〔2021〕51号 as issued, byte for byte.
SOURCE = (REFERENCE_DIR / "source" / "jinshi_yiqing_fangzhiban_2021_51.txt").read_text("utf-8")

K1_TEXT = ("1.暂时关停网吧、KTV、酒吧、棋牌室、麻将馆、游戏厅、桌游室、密室逃脱、SPA馆、艾灸馆、洗浴、足浴场所等"
           "室内密闭休闲场所；暂停教育培训机构线下培训。")
K8_TEXT = ("8.“行程卡”带*号健康码为绿码的人员，进入机场车站、宾馆酒店需核验 24 小时内核酸检测阴性报告，"
           "如其无中高风险地区旅居史也无需纳入“2+14”健康管理的，签署承诺书后方可进入。")
K9_TEXT = "9.严密涉疫数据的研判、比对、推送、排查、处置、反馈等工作流程，实现涉疫人员闭环管控到位。"
K9_GROUP_TEXT = "数据研判组设在市公安局刑侦支队，牵头负责重点人群数据处置、区域协查管控等工作"


def shipped_rules() -> dict[str, dict]:
    return {rule["code"]: rule for rule in yaml.safe_load((REFERENCE_DIR / "rules.yaml").read_text("utf-8"))["rules"]}


def joined(text: str) -> str:
    """The document with its page breaks (line breaks inside a clause) removed."""
    return "".join(text.split("\n"))


@pytest.mark.parametrize("clause", [K1_TEXT, K8_TEXT, K9_TEXT])
def test_the_quoted_clauses_are_whole_lines_of_the_document(clause):
    assert clause in SOURCE.splitlines()


@pytest.mark.parametrize("code", [f"K{n}" for n in range(1, 12)])
def test_every_rule_quotes_its_clause_verbatim(code):
    rule = shipped_rules()[code]
    assert f"{code[1:]}.{rule['source_text']}" in joined(SOURCE)


# ---------------------------------------------------------------- 三.8 (K8)

STARRED_GUEST = {"k8_codes_checked": True, "k8_starred_person_present": True, "k8_starred_health_code": "green",
                 "k8_starred_admitted": True, "k8_starred_risk_history": False}


def test_k8_quotes_the_clause():
    assert K8_TEXT in SOURCE
    assert K8_TEXT.removeprefix("8.") == shipped_rules()["K8"]["source_text"]


# (what the hotel did for a starred guest with a green code and no risk history, the checks violated)
K8_GREEN_GUEST = [
    # "需核验 24 小时内核酸检测阴性报告 …… 签署承诺书后方可进入": both, not either.
    ({"k8_nat_report_verified": True, "k8_commitment_signed": True}, set()),
    ({"k8_nat_report_verified": False, "k8_commitment_signed": True}, {"k8_nat_report_verified_before_entry"}),
    ({"k8_nat_report_verified": True, "k8_commitment_signed": False}, {"k8_commitment_signed_before_entry"}),
]


@pytest.mark.parametrize(("handling", "violated"), K8_GREEN_GUEST)
def test_k8_report_and_commitment_are_both_required(handling, violated):
    assert K8_TEXT in SOURCE
    result = evaluate_rule(shipped_rules()["K8"], venue={"category": "hotel"},
                           observations={**STARRED_GUEST, **handling})
    assert {check.code for check in result.checks if check.outcome == VIOLATION} == violated


@pytest.mark.parametrize(("guest", "violated"), [
    # Only "带*号健康码为绿码的人员" may enter, and only those without a risk history sign their way in.
    ({"k8_starred_health_code": "yellow"}, "k8_starred_green_code_only"),
    ({"k8_starred_health_code": "red"}, "k8_starred_green_code_only"),
    ({"k8_starred_risk_history": True}, "k8_no_risk_history_for_entry"),
])
def test_k8_a_guest_with_no_way_in_is_recordable_and_admitting_them_is_a_violation(guest, violated):
    assert K8_TEXT in SOURCE
    rule = shipped_rules()["K8"]
    observations = {**STARRED_GUEST, "k8_nat_report_verified": True, "k8_commitment_signed": True, **guest}
    admitted = evaluate_rule(rule, venue={"category": "station"}, observations=observations)
    assert [check.code for check in admitted.checks if check.outcome == VIOLATION] == [violated]
    turned_away = evaluate_rule(rule, venue={"category": "station"},
                                observations={**observations, "k8_starred_admitted": False})
    assert turned_away.verdict == COMPLIANT


def test_k8_items_record_exactly_the_facts_of_the_clause():
    items = {item["code"]: item for item in shipped_rules()["K8"]["items"]}
    assert {c["value"] for c in items["k8_starred_health_code"]["choices"]} == {"green", "yellow", "red"}
    assert "中高风险地区旅居史" in items["k8_starred_risk_history"]["prompt"]
    assert "“2+14”健康管理" in items["k8_starred_risk_history"]["prompt"]
    assert "24小时内的核酸检测阴性报告" in items["k8_nat_report_verified"]["prompt"]
    assert "承诺书" in items["k8_commitment_signed"]["prompt"]
    # The phone app renders yes/no, numbers, choices and text; K8 uses nothing else.
    assert {item["value_type"] for item in items.values()} <= {"boolean", "choice"}


# ---------------------------------------------------------------- 三.9 (K9)


def test_k9_is_in_no_venue_checklist_and_the_data_says_why(db):
    assert K9_TEXT in SOURCE and K9_GROUP_TEXT in SOURCE
    k9 = shipped_rules()["K9"]
    assert K9_TEXT.removeprefix("9.") == k9["source_text"]
    assert (k9["categories"], k9["items"], k9["checks"]) == ([], [], [])
    reason = k9["off_checklist_reason"]
    assert "数据研判组" in reason and "设在市公安局刑侦支队" in reason and "不列入任何场所检查表" in reason
    rule = db.session.scalar(sa.select(Rule).filter_by(code="K9"))
    assert (rule.categories, rule.items, rule.checks) == ([], [], [])
    for category in db.session.scalars(sa.select(VenueCategory)):
        assert "K9" not in [bundle["code"] for bundle in rules_bundle_for_category(category)]


# ---------------------------------------------------------------- 三.1 (K1)


def test_k1_applies_to_every_kind_the_clause_names(db):
    assert K1_TEXT in SOURCE
    k1 = db.session.scalar(sa.select(Rule).filter_by(code="K1"))
    leisure = db.session.scalars(sa.select(VenueCategory).filter_by(group="室内密闭休闲场所")).all()
    assert len(leisure) == 12
    for category in leisure:
        # 洗浴、足浴场所 are printed as one phrase; the category names keep the word 场所.
        assert category.name.removesuffix("场所").removesuffix("馆") in K1_TEXT
        assert k1 in category.rules
    assert "training_institution" in [category.code for category in k1.categories]


# ---------------------------------------------------------------- the server's evaluation


@pytest.fixture(autouse=True)
def evidence_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(tmp_path / "evidence"))


def _operation(entity: str, entity_id: str, payload: dict) -> dict:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return {"op_id": str(uuid.uuid4()), "entity": entity, "entity_id": entity_id, "payload": payload,
            "payload_sha256": hashlib.sha256(body).hexdigest()}


def submit(client, db, inspector, assignment, observations: dict) -> set[str]:
    """Push a whole record as the phone app does (reveal, check-in, observations, submission); the
    checks the server stores as violated."""
    raw, token = issue_device_token(inspector, "测试手机", channel="api")
    token.last_used_at = utcnow()
    moment = datetime.now(UTC).isoformat(timespec="seconds")
    record = str(uuid.uuid4())
    operations = [
        _operation("assignment_reveal", assignment.uuid, {"assignment_uuid": assignment.uuid, "how": "code",
                                                          "revealed_at": moment, "device_time": moment}),
        _operation("inspection", record, {"uuid": record, "assignment_uuid": assignment.uuid,
                                          "checked_in_at": moment, "latitude": 29.08, "longitude": 119.65,
                                          "device_time": moment, "status": "draft"}),
        *(_operation("observation", f"{record}/{code}", {"inspection_uuid": record, "item_code": code,
                                                         "value": value, "recorded_at": moment})
          for code, value in observations.items()),
        _operation("inspection_submission", record, {"inspection_uuid": record, "submitted_at": moment,
                                                     "device_time": moment}),
    ]
    _db.session.commit()
    response = client.post("/api/v1/sync/push", headers={"Authorization": f"Bearer {raw}"},
                           json={"device_id": str(uuid.uuid4()), "device_time": moment, "operations": operations})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert {result["status"] for result in response.get_json()["results"]} == {200}, response.get_json()
    inspection = db.session.scalar(sa.select(Inspection).where(Inspection.uuid == record)
                                   .execution_options(populate_existing=True))
    assert inspection.status == "complete"
    return set(db.session.scalars(sa.select(Violation.check_code).where(Violation.inspection_id == inspection.id)))


def _venue_of(db, make_venue, category_code: str):
    category = db.session.scalar(sa.select(VenueCategory).filter_by(code=category_code))
    county = db.session.scalar(sa.select(County).filter_by(code="wucheng"))
    return make_venue(category=category, county=county, approved_capacity=200)


@pytest.mark.parametrize(("guest", "violated"), [
    # The hotel lets a starred guest in on a signed commitment, with no NAT report: a K8 violation.
    ({"k8_nat_report_verified": False, "k8_commitment_signed": True}, {"k8_nat_report_verified_before_entry"}),
    ({"k8_nat_report_verified": True, "k8_commitment_signed": True}, set()),
    ({"k8_starred_health_code": "yellow", "k8_nat_report_verified": True, "k8_commitment_signed": True},
     {"k8_starred_green_code_only"}),
])
def test_k8_in_a_submitted_hotel_inspection(client, db, world, make_assignment, make_venue,  # noqa: F811
                                            guest, violated):
    assert K8_TEXT in SOURCE
    hotel = _venue_of(db, make_venue, "hotel")
    assignment = make_assignment("dispatched", venue=hotel)
    observations = {**STARRED_GUEST, **guest, "k7_event_in_progress": False}
    assert submit(client, db, world.users["team_leader"], assignment, observations) == violated


def test_a_new_kind_of_enclosed_leisure_venue_is_one_record_of_data(client, db, app, world, make_assignment,  # noqa: F811
                                                                    make_venue, tmp_path):
    """"……等室内密闭休闲场所": a kind the clause does not name (剧本杀) added to categories.yaml falls
    under K1 with no other change, on the evaluator and in a submitted inspection."""
    assert K1_TEXT in SOURCE
    copy = tmp_path / "reference"
    shutil.copytree(app.config["REFERENCE_DIR"], copy)
    path = copy / "categories.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    template = next(record for record in data["categories"] if record["code"] == "escape_room")
    data["categories"].append({**template, "code": "script_murder", "name": "剧本杀"})
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "utf-8")
    assert "script_murder" not in (copy / "rules.yaml").read_text("utf-8")

    load_reference(copy)

    [bundle] = rules_bundle_for_category("script_murder")
    assert bundle["code"] == "K1"
    open_result = evaluate_rule(bundle, venue={"category": "script_murder"}, observations={"k1_operating": True})
    assert {check.code: check.outcome for check in open_result.checks} == {
        "k1_leisure_venue_closed": VIOLATION, "k1_offline_training_suspended": NOT_APPLICABLE}

    venue = _venue_of(db, make_venue, "script_murder")
    assignment = make_assignment("dispatched", venue=venue)
    assert submit(client, db, world.users["team_leader"], assignment, {"k1_operating": True}) == {
        "k1_leisure_venue_closed"}


# ---------------------------------------------------------------- the data is refused when it says less


@pytest.fixture
def reference_copy(app, tmp_path) -> Path:
    directory = tmp_path / "reference"
    shutil.copytree(app.config["REFERENCE_DIR"], directory)
    return directory


def _edit(directory: Path, old: str, new: str) -> None:
    path = directory / "rules.yaml"
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")


@pytest.mark.parametrize(("old", "new", "words"), [
    ("    category_groups: [室内密闭休闲场所]\n", "    category_groups: [室内娱乐场所]\n", "没有分组为“室内娱乐场所”"),
    ("    off_checklist_reason: >-\n", "    off_checklist_ignored: >-\n", "未知字段"),
    ("    categories: []\n    items: []\n    checks: []\n",
     "    categories: [community]\n    items: []\n    checks: []\n", "不能再有场所类别"),
])
def test_rules_that_say_less_than_the_document_are_refused(db, reference_copy, old, new, words):
    _edit(reference_copy, old, new)
    with pytest.raises(ReferenceDataError) as refused:
        load_reference(reference_copy)
    assert words in " ".join(str(issue) for issue in refused.value.issues)


def test_a_rule_with_no_venue_and_no_reason_is_refused(db, reference_copy):
    _edit(reference_copy, "    off_checklist_reason: >-\n", "    # no reason given\n    source_note: >-\n")
    path = reference_copy / "rules.yaml"
    text = path.read_text("utf-8")
    start = text.index("    source_note: >-\n")
    end = text.index("    categories: []\n", start)
    path.write_text(text[:start] + text[end:], "utf-8")
    with pytest.raises(ReferenceDataError) as refused:
        load_reference(reference_copy)
    assert "off_checklist_reason" in " ".join(str(issue) for issue in refused.value.issues)
