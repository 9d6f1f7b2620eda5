"""Amendments that reach findings, penalties and notes as well as observations: each kind added
and withdrawn through the push API, each part checked as a first recording would be (422/409
naming the part), nothing deleted, and the enforcement bureau never sees a withdrawn penalty."""

from __future__ import annotations

import subprocess
import uuid
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from assignment_world import make_assignment, world  # noqa: F401  (fixtures)
from test_sync_api import (  # noqa: F401  (fixtures)
    Recording,
    count,
    dispatched,
    evidence_dir,
    inspection_row,
    leader,
    museum,
    now_text,
    operation,
    pushed,
    statuses,
)
from web_session import login

from server.audit.models.audit import AuditEvent
from server.enforcement.cases import proposed_by_inspectors
from server.field.inspection_record import inspection_record
from server.field.models.inspection import Amendment, ExampleNote, Finding, Penalty, Violation

K3 = "K3/k3_visitors_within_half_capacity"


def amendment(recording: Recording, content: dict, reason: str = "复核后更正") -> dict:
    amendment_uuid = str(uuid.uuid4())
    return operation("amendment", amendment_uuid, {
        "uuid": amendment_uuid, "inspection_uuid": recording.inspection_uuid, "reason": reason,
        "payload": content, "created_at": now_text()})


def penalty_op(finding_uuid: str, kind: str = "fine", amount: int | None = 2000) -> dict:
    penalty_uuid = str(uuid.uuid4())
    return operation("penalty", penalty_uuid, {
        "uuid": penalty_uuid, "finding_uuid": finding_uuid, "type": kind, "amount": amount, "basis_code": "B01",
        "created_at": now_text()})


@pytest.fixture
def submitted(client, db, leader, dispatched):  # noqa: F811
    """A submitted museum record: 401 visitors (K3 broken), a finding with a fine, a note."""
    _, recording = dispatched
    finding = recording.finding("K3", "k3_visitors_within_half_capacity", source="evaluator")
    fine = penalty_op(finding["entity_id"])
    note = recording.note("入口排队有序")
    results = pushed(client, leader, [recording.reveal(), recording.inspection(),
                                      recording.observation("k3_visitors", 401), finding, fine, note,
                                      recording.submission()])
    assert statuses(results) == [200] * 7, results
    return recording, finding["entity_id"], fine["entity_id"], note["entity_id"]


def by_uuid(db, model, value):
    return db.session.scalar(sa.select(model).where(model.uuid == value).execution_options(populate_existing=True))


def test_each_kind_is_added_and_withdrawn_append_only(client, db, leader, submitted):
    recording, finding_uuid, fine_uuid, note_uuid = submitted
    inspection = inspection_row(db, recording)
    new_finding, new_penalty, new_note = (str(uuid.uuid4()) for _ in range(3))
    first = amendment(recording, {
        "findings_added": [{"uuid": new_finding, "rule_code": "K3", "description": "未按要求张贴限流公告"}],
        "penalties_added": [{"uuid": new_penalty, "finding_uuid": new_finding, "type": "warning", "amount": None,
                             "basis_code": None}],
        "penalties_withdrawn": [fine_uuid],
        "notes_added": [{"uuid": new_note, "kind": "negative", "text": "出口处人员聚集"}],
        "notes_withdrawn": [note_uuid],
    }, "罚款建议改为警告")
    assert statuses(pushed(client, leader, [first])) == [200]
    stored = by_uuid(db, Amendment, first["entity_id"])

    added = by_uuid(db, Finding, new_finding)
    assert (added.source, added.check_code, added.amendment_id, added.withdrawn_at) == ("manual", None, stored.id, None)
    assert by_uuid(db, Penalty, new_penalty).amendment_id == stored.id
    assert by_uuid(db, ExampleNote, new_note).amendment_id == stored.id
    fine = by_uuid(db, Penalty, fine_uuid)
    assert fine.withdrawn_at is not None and fine.withdrawn_by_amendment_id == stored.id
    assert fine.amount == 2000  # kept as proposed
    note = by_uuid(db, ExampleNote, note_uuid)
    assert note.withdrawn_at is not None and note.withdrawn_by_amendment_id == stored.id

    # The same amendment again (a retried push) changes nothing more.
    assert statuses(pushed(client, leader, [first])) == [200]
    assert count(db, Finding, Finding.inspection_id == inspection.id) == 2
    assert count(db, Amendment, Amendment.inspection_id == inspection.id) == 1

    # Withdrawing a finding withdraws its live penalties with it; the rows stay.
    second = amendment(recording, {"findings_withdrawn": [new_finding]}, "公告问题核实不存在")
    assert statuses(pushed(client, leader, [second])) == [200]
    later = by_uuid(db, Amendment, second["entity_id"])
    assert by_uuid(db, Finding, new_finding).withdrawn_by_amendment_id == later.id
    assert by_uuid(db, Penalty, new_penalty).withdrawn_by_amendment_id == later.id
    assert count(db, Penalty, Penalty.uuid.in_([fine_uuid, new_penalty])) == 2

    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "inspection.amended")
                               .order_by(AuditEvent.seq.desc())).first()
    assert event.details["findings_withdrawn"] == [new_finding]
    assert event.details["penalties_withdrawn"] == [new_penalty]

    # The record as the 检查记录 and the page read it: corrected state, history kept.
    record = inspection_record(inspection_row(db, recording))
    assert [(p["description"], p["withdrawn"], p["amendment"], p["withdrawn_by"]) for p in record["penalties"]] == [
        ("罚款 2000 元", True, None, 1), ("警告", True, 1, 2)]
    assert [(n["text"], n["withdrawn"]) for n in record["notes"]] == [("入口排队有序", True), ("出口处人员聚集", False)]
    assert record["amendments"][0]["number"] == 1 and "撤回处罚建议：罚款 2000 元" in "；".join(
        record["amendments"][0]["changes"])
    assert any("撤回问题" in change for change in record["amendments"][1]["changes"])


def test_observations_and_a_new_penalty_in_one_amendment(client, db, leader, submitted):
    recording, finding_uuid, fine_uuid, _ = submitted
    inspection = inspection_row(db, recording)
    new_penalty = str(uuid.uuid4())
    both = amendment(recording, {"observations": {"k3_visitors": 399},
                                 "penalties_added": [{"uuid": new_penalty, "finding_uuid": finding_uuid,
                                                      "type": "fine", "amount": 500, "basis_code": "B01"}]})
    assert statuses(pushed(client, leader, [both])) == [200]
    assert not db.session.scalars(sa.select(Violation).where(Violation.inspection_id == inspection.id,
                                                             Violation.withdrawn_at.is_(None))).all()
    assert by_uuid(db, Penalty, new_penalty).amount == 500
    [row] = inspection_record(inspection)["observations"]
    assert (row["value"], row["corrected_from"], row["amendment"]) == ("399", "401", 1)


def test_the_page_shows_the_corrected_record_with_its_history(app, client, db, world, leader,  # noqa: F811
                                                                submitted):
    recording, _, fine_uuid, note_uuid = submitted
    content = {"penalties_withdrawn": [fine_uuid], "notes_withdrawn": [note_uuid],
               "notes_added": [{"uuid": str(uuid.uuid4()), "kind": "positive", "text": "测温扫码到位"}]}
    assert statuses(pushed(client, leader, [amendment(recording, content, "罚款建议撤回")])) == [200]
    office = app.test_client()
    login(office, world.users["office"])
    html = office.get(f"/inspections/{inspection_row(db, recording).id}").get_data(as_text=True)
    assert "罚款建议撤回" in html
    assert "<td>罚款 2000 元</td><td>已撤回</td>" in html  # old value → new value
    assert "测温扫码到位（第 1 次更正补充）" in html
    assert "已撤回" in html


@pytest.mark.parametrize(("content", "status", "words"), [
    ({"findings_added": [{"uuid": "x", "rule_code": "K3", "description": "d"}]}, 422, "新增问题第 1 项"),
    ({"findings_added": [{"uuid": str(uuid.uuid4()), "rule_code": "K1", "description": "未关停"}]}, 422,
     "规则 K1 不适用"),
    ({"findings_added": [{"uuid": str(uuid.uuid4()), "rule_code": "K3", "description": ""}]}, 422, "新增问题"),
    ({"findings_withdrawn": [str(uuid.uuid4())]}, 422, "撤回问题第 1 项"),
    ({"penalties_added": [{"uuid": str(uuid.uuid4()), "finding_uuid": "{finding}", "type": "fine", "amount": 0,
                           "basis_code": None}]}, 422, "金额须大于 0"),
    ({"penalties_added": [{"uuid": str(uuid.uuid4()), "finding_uuid": "{finding}", "type": "fine", "amount": None,
                           "basis_code": None}]}, 422, "罚款须有金额"),
    ({"penalties_added": [{"uuid": str(uuid.uuid4()), "finding_uuid": str(uuid.uuid4()), "type": "warning",
                           "amount": None, "basis_code": None}]}, 422, "不是该督查记录的问题"),
    ({"penalties_added": [{"uuid": str(uuid.uuid4()), "finding_uuid": "{finding}", "type": "jail", "amount": None,
                           "basis_code": None}]}, 422, "处罚类型无效"),
    ({"penalties_withdrawn": ["{finding}"]}, 422, "撤回处罚建议第 1 项"),
    ({"notes_added": [{"uuid": str(uuid.uuid4()), "kind": "neutral", "text": "x"}]}, 422, "新增典型材料第 1 项"),
    ({"notes_withdrawn": ["{note}", "{note}"]}, 422, "重复"),
    ({"notes_added": [{"uuid": "{note}", "kind": "positive", "text": "x"}]}, 409, "已被服务器上的另一条记录使用"),
    ({"findings_withdrawn": "{finding}"}, 422, "须为列表"),
    ({"visitors": 399}, 422, "更正内容应为"),
], ids=["bad-uuid", "rule-not-for-category", "empty-description", "unknown-finding", "zero-fine", "fine-no-amount",
        "penalty-foreign-finding", "penalty-type", "withdraw-a-finding-as-penalty", "note-kind",
        "withdraw-twice-in-one", "note-uuid-taken", "not-a-list", "unknown-part"])
def test_each_part_is_checked_as_a_first_recording(client, db, leader, submitted, content, status, words):
    recording, finding_uuid, _, note_uuid = submitted
    text = str(content).replace("{finding}", finding_uuid).replace("{note}", note_uuid)
    content = eval(text)  # noqa: S307  (the test's own literal, with the record's uuids filled in)
    operation_ = amendment(recording, content)
    [result] = pushed(client, leader, [operation_])
    assert result["status"] == status and words in result["detail"], result
    assert count(db, Amendment, Amendment.uuid == operation_["entity_id"]) == 0
    assert count(db, Penalty, Penalty.withdrawn_at.is_not(None)) == 0


def test_a_withdrawn_row_cannot_be_withdrawn_again(client, db, leader, submitted):
    recording, _, fine_uuid, _ = submitted
    assert statuses(pushed(client, leader, [amendment(recording, {"penalties_withdrawn": [fine_uuid]})])) == [200]
    [again] = pushed(client, leader, [amendment(recording, {"penalties_withdrawn": [fine_uuid]})])
    assert again["status"] == 422 and "已撤回" in again["detail"]


def test_no_penalty_on_an_assignment_that_may_not_propose_them(client, db, leader, submitted, dispatched):  # noqa: F811
    recording, finding_uuid, _, _ = submitted
    assignment, _ = dispatched
    assignment.may_propose_penalties = False
    db.session.flush()
    content = {"penalties_added": [{"uuid": str(uuid.uuid4()), "finding_uuid": finding_uuid, "type": "warning",
                                    "amount": None, "basis_code": None}]}
    [result] = pushed(client, leader, [amendment(recording, content)])
    assert result["status"] == 409 and "新增处罚建议" in result["detail"] and "不允许提出处罚建议" in result["detail"]


def test_enforcement_ignores_withdrawn_penalties(client, db, leader, submitted):
    """What a case shows as the team's proposal (its violations' findings' penalties) is the live one."""
    recording, finding_uuid, fine_uuid, _ = submitted
    violation = db.session.scalar(sa.select(Violation).where(
        Violation.inspection_id == inspection_row(db, recording).id))
    assert violation.finding_id == by_uuid(db, Finding, finding_uuid).id
    warning = str(uuid.uuid4())
    content = {"penalties_withdrawn": [fine_uuid],
               "penalties_added": [{"uuid": warning, "finding_uuid": finding_uuid, "type": "warning", "amount": None,
                                    "basis_code": None}]}
    assert statuses(pushed(client, leader, [amendment(recording, content, "改为警告")])) == [200]
    case = SimpleNamespace(links=[SimpleNamespace(violation=violation)])  # what the function reads of a case
    assert proposed_by_inspectors(case) == [{"type": "warning", "amount": None, "basis_code": None, "description": "警告"}]


def test_an_explanation_only_amendment_still_applies(client, db, leader, submitted):
    recording, *_ = submitted
    assert statuses(pushed(client, leader, [amendment(recording, {}, "补充说明：现场负责人不在")])) == [200]
    record = inspection_record(inspection_row(db, recording))
    assert record["amendments"][-1]["changes"] == []


def test_the_inspection_record_document_prints_the_corrected_record(client, db, leader, submitted, tmp_path):
    """The 检查记录 (PDF) shows what was corrected, what was withdrawn, and by which amendment."""
    from server.enforcement.documents import inspection_record_context, preview_document

    recording, _, fine_uuid, _ = submitted
    content = {"observations": {"k3_visitors": 399}, "penalties_withdrawn": [fine_uuid]}
    assert statuses(pushed(client, leader, [amendment(recording, content, "人数复核为三百九十九人")])) == [200]
    path = tmp_path / "record.pdf"
    path.write_bytes(preview_document("inspection_record", inspection_record_context(inspection_row(db, recording))))
    # In the order the content was drawn (-raw: a table cell's wrapped lines stay together, not
    # interleaved with the next column's), without spaces and line breaks so that a phrase wrapped
    # over two lines is found, and without the preview's 样稿 mark, which lies across the lines.
    text = "".join(subprocess.run(["pdftotext", "-raw", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                                  check=True,
                                  timeout=60).stdout.decode("utf-8").split())
    text = text.replace("样", "").replace("稿", "")
    assert "人数复核为三百九十九人" in text and "撤回处罚建议：罚款2000元" in text
    assert "第1次更正，原记录401" in text and "已撤回（第1次更正）" in text
