"""Two devices of one team record the same assignment: both records are kept (the second as a
parallel record), the office sees where they differ and decides which stands; downstream
(violations, cases) follows the primary record alone."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from assignment_world import make_assignment, world  # noqa: F401  (fixtures)
from inspection_world import session_of
from sqlalchemy.exc import IntegrityError
# museum: a K3 venue, approved capacity 800 — more than 400 visitors is a violation.
from test_sync_api import Recording, bearer, museum, now_text, operation, pushed, statuses  # noqa: F401
from web_session import csrf

from server.accounts.models.user import User
from server.audit.models.audit import AuditEvent
from server.draws.models.draw import AssignmentTransition
from server.enforcement import case_opening
from server.extensions import db as _db
from server.field import parallel_records
from server.field.appliers import PARALLEL_RECORD_NOTICE
from server.field.models.adoption import RecordAdoption
from server.field.models.inspection import Inspection, Violation

LEADER_DEVICE = str(uuid.uuid4())
MEMBER_DEVICE = str(uuid.uuid4())
K3_CHECK = ("K3", "k3_visitors_within_half_capacity")
UNIT = {"kind": "unit", "unit_name": "金华某某文化有限公司", "credit_code": "91330701MA2D12345J"}


@pytest.fixture
def visit(make_assignment, museum):  # noqa: F811
    """A dispatched assignment and one recording per device of its team (leader, member)."""
    assignment = make_assignment("dispatched", venue=museum)
    return assignment, Recording(assignment), Recording(assignment)


def photo_op(recording: Recording) -> dict:
    photo_uuid = str(uuid.uuid4())
    return operation("photo", photo_uuid, {
        "uuid": photo_uuid, "inspection_uuid": recording.inspection_uuid, "finding_uuid": None,
        "sha256": uuid.uuid4().hex * 2, "size": 1000, "filename": f"{photo_uuid}.jpg", "original_name": None,
        "media_type": "image/jpeg", "caption": "入口", "exif_time": None, "latitude": None, "longitude": None,
        "orientation": None, "created_at": now_text()})


def record_both(client, world, leader_rec, member_rec, *, leader_visitors=500, member_visitors=300,  # noqa: F811
                submit=True) -> tuple[list[dict], list[dict]]:
    """The leader's phone records first (a finding), the member's second (a note and a photo)."""
    leader = bearer(world.users["team_leader"])
    member = bearer(world.users["team_member"])
    first = pushed(client, leader, [leader_rec.reveal(), leader_rec.inspection(),
                                    leader_rec.observation("k3_visitors", leader_visitors), leader_rec.finding()]
                   + ([leader_rec.submission()] if submit else []), device_id=LEADER_DEVICE)
    second = pushed(client, member, [member_rec.inspection(), member_rec.observation("k3_visitors", member_visitors),
                                     member_rec.note(), photo_op(member_rec)]
                    + ([member_rec.submission()] if submit else []), device_id=MEMBER_DEVICE)
    return first, second


def row(db, recording: Recording) -> Inspection:
    return db.session.scalar(sa.select(Inspection).where(Inspection.uuid == recording.inspection_uuid)
                             .execution_options(populate_existing=True))


def live_violations(db, inspection: Inspection) -> list[tuple[str, str]]:
    return [(v.rule_code, v.check_code) for v in db.session.scalars(
        sa.select(Violation).where(Violation.inspection_id == inspection.id, Violation.withdrawn_at.is_(None)))]


def test_both_devices_records_are_kept_and_only_the_primary_moves_downstream(client, db, world, visit):
    assignment, leader_rec, member_rec = visit
    first, second = record_both(client, world, leader_rec, member_rec)
    assert statuses(first) == [200] * 5 and statuses(second) == [200] * 5, second
    # The second device is told its record is kept as a parallel record; the first is not.
    assert "parallel_record" not in first[1] and "notice" not in first[1]
    assert second[0]["parallel_record"] is True and second[0]["notice"] == PARALLEL_RECORD_NOTICE
    assert all("parallel_record" not in result for result in second[1:])

    primary, parallel = row(db, leader_rec), row(db, member_rec)
    assert primary.is_primary is True and parallel.is_primary is None
    assert primary.assignment_id == parallel.assignment_id == assignment.id
    assert primary.status == "complete" and parallel.status == "awaiting_evidence"  # its photo is still to come
    assert parallel.device_id == MEMBER_DEVICE
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "inspection.parallel_record"))
    assert event.object_id == member_rec.inspection_uuid
    assert event.details["primary"] == leader_rec.inspection_uuid
    assert event.details["parallel"] == member_rec.inspection_uuid
    assert event.details["primary_device_id"] == LEADER_DEVICE
    assert event.details["parallel_device_id"] == MEMBER_DEVICE

    # The assignment was submitted once, by the primary record.
    moves = db.session.scalars(sa.select(AssignmentTransition.to_status)
                               .where(AssignmentTransition.assignment_id == assignment.id)).all()
    assert moves.count("submitted") == 1
    # The venue's violation is stored once, on the primary record; the queue holds one.
    assert live_violations(db, primary) == [K3_CHECK]
    assert live_violations(db, parallel) == []
    queue = [v for v in case_opening.open_violations(world.users["office"]) if v.venue_id == assignment.venue_id]
    assert [(v.inspection_id, v.rule_code) for v in queue] == [(primary.id, "K3")]


def test_a_replayed_parallel_check_in_answers_the_same_and_later_operations_apply(client, db, world, visit):
    assignment, leader_rec, member_rec = visit
    record_both(client, world, leader_rec, member_rec, submit=False)
    member = bearer(world.users["team_member"])
    again = operation("inspection", member_rec.inspection_uuid, {
        "uuid": member_rec.inspection_uuid, "assignment_uuid": member_rec.assignment_uuid,
        "checked_in_at": row(db, member_rec).checked_in_at.isoformat(), "latitude": 29.08, "longitude": 119.65,
        "device_time": now_text(), "status": "draft"})
    results = pushed(client, member, [again, member_rec.observation("k3_visitors", 310), member_rec.submission()],
                     device_id=MEMBER_DEVICE)
    assert statuses(results) == [200, 200, 200] and results[0]["parallel_record"] is True
    # The parallel record submitted first: the assignment waits for its primary record.
    db.session.refresh(assignment)
    assert assignment.status == "in_progress" and row(db, member_rec).status == "awaiting_evidence"


def test_both_devices_pull_the_assignments_changes_with_both_records(client, db, world, visit):
    assignment, leader_rec, member_rec = visit
    record_both(client, world, leader_rec, member_rec)
    for key in ("team_leader", "team_member"):
        answer = client.get("/api/v1/sync/pull?cursor=0", headers=bearer(world.users[key]))
        assert answer.status_code == 200
        records = {change["entity_id"]: change["data"]["primary"] for change in answer.get_json()["changes"]
                   if change["entity"] == "inspection"}
        assert records == {leader_rec.inspection_uuid: True, member_rec.inspection_uuid: False}, key
        assert any(change["entity"] == "assignment" and change["data"]["status"] == "submitted"
                   for change in answer.get_json()["changes"])


def test_the_differences_are_listed_from_the_data(client, db, world, visit):
    assignment, leader_rec, member_rec = visit
    record_both(client, world, leader_rec, member_rec)
    comparison = parallel_records.compare_records(assignment)
    assert not comparison.consistent
    assert [r["name"] for r in comparison.records] == ["甲记录", "乙记录"]
    assert [r["standing"] for r in comparison.records] == ["主记录（先到）", "并行记录（待办公室核定）"]
    texts = [d.text for d in comparison.differences]
    assert "现场接待人数（人）：甲记录为500，乙记录为300" in texts
    violation = [d for d in comparison.differences if d.kind == "violation"]
    assert len(violation) == 1 and violation[0].subject.startswith("K3 ")
    assert violation[0].text.endswith("：甲记录为违反，乙记录为未违反")
    counts = {d.subject: d.values for d in comparison.differences if d.kind == "count"}
    assert counts == {"记录的问题数": ["1", "0"], "照片数": ["0", "1"], "典型材料数": ["0", "1"]}


def test_records_that_agree_are_consistent_and_one_record_is_no_comparison(client, db, world, visit,
                                                                            make_assignment, museum):  # noqa: F811
    assignment, leader_rec, member_rec = visit
    leader, member = bearer(world.users["team_leader"]), bearer(world.users["team_member"])
    pushed(client, leader, [leader_rec.reveal(), leader_rec.inspection(), leader_rec.observation("k3_visitors", 7)],
           device_id=LEADER_DEVICE)
    pushed(client, member, [member_rec.inspection(), member_rec.observation("k3_visitors", 7)], device_id=MEMBER_DEVICE)
    comparison = parallel_records.compare_records(assignment)
    assert comparison.consistent and comparison.differences == []
    assert parallel_records.compare_records(make_assignment("dispatched", venue=museum)) is None


def test_the_office_adopts_the_parallel_record_with_a_reason(client, db, world, visit):
    assignment, leader_rec, member_rec = visit
    # This time the member's record finds the violation and the leader's does not.
    record_both(client, world, leader_rec, member_rec, leader_visitors=300, member_visitors=500)
    primary, parallel = row(db, leader_rec), row(db, member_rec)
    assert live_violations(db, primary) == [] and live_violations(db, parallel) == []
    office = bearer(world.users["office"])
    url = f"/api/v1/assignments/{assignment.id}/records/adopt"
    _db.session.commit()
    missing = client.post(url, headers=office, json={"inspection_id": parallel.id})
    assert missing.status_code == 422 and missing.mimetype == "application/problem+json"
    assert "reason" in missing.get_json()["errors"]
    blank = client.post(url, headers=office, json={"inspection_id": parallel.id, "reason": "   "})
    assert blank.status_code == 422 and "核定理由" in blank.get_json()["detail"]
    assert row(db, member_rec).is_primary is None

    answer = client.post(url, headers=office, json={"inspection_id": parallel.id, "reason": "组长核实现场照片，乙记录人数准确"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert [(r["name"], r["is_primary"], r["standing"]) for r in body["records"]] == [
        ("甲记录", False, "未采用"), ("乙记录", True, "采用（办公室核定）")]
    assert body["adoptions"][0]["reason"] == "组长核实现场照片，乙记录人数准确"
    primary, parallel = row(db, leader_rec), row(db, member_rec)
    assert primary.is_primary is None and parallel.is_primary is True  # the old one stays, not adopted
    # Downstream follows the adopted record: its violation is stored, and only its.
    assert live_violations(db, parallel) == [K3_CHECK] and live_violations(db, primary) == []
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "inspection.record_adopted"))
    assert event.details["reason"] == "组长核实现场照片，乙记录人数准确"
    assert event.details["adopted"] == member_rec.inspection_uuid
    assert event.details["replaced"] == leader_rec.inspection_uuid
    assert event.details["violations_stored"] == ["K3/k3_visitors_within_half_capacity"]
    assert db.session.scalar(sa.select(sa.func.count(RecordAdoption.id))
                             .where(RecordAdoption.assignment_id == assignment.id)) == 1
    # Adopting the record that stands already is a conflict, not a second decision.
    again = client.post(url, headers=office, json={"inspection_id": parallel.id, "reason": "再次"})
    assert again.status_code == 409
    # The comparison reads the same.
    compared = client.get(f"/api/v1/assignments/{assignment.id}/records", headers=office)
    assert compared.status_code == 200 and compared.get_json()["consistent"] is False


@pytest.mark.parametrize("role", ["team_leader", "enforcement", "department", "auditor", "propaganda"])
def test_only_the_office_and_admins_decide(client, db, world, visit, role):
    assignment, leader_rec, member_rec = visit
    record_both(client, world, leader_rec, member_rec)
    response = client.post(f"/api/v1/assignments/{assignment.id}/records/adopt", headers=bearer(world.users[role]),
                           json={"inspection_id": row(db, member_rec).id, "reason": "想改"})
    assert response.status_code == 403 and response.mimetype == "application/problem+json"
    assert row(db, member_rec).is_primary is None


def test_the_switch_is_refused_once_the_primarys_violations_opened_a_case(client, db, world, visit):
    assignment, leader_rec, member_rec = visit
    record_both(client, world, leader_rec, member_rec)
    officers = [User(username=f"officer{n}-{world.tag}", display_name=f"执法{n}", role="enforcement",
                     password_hash="x", enforcement_certificate_no=f"浙执{n}{world.tag}") for n in (1, 2)]
    db.session.add_all(officers)
    db.session.flush()
    primary = row(db, leader_rec)
    [violation] = db.session.scalars(sa.select(Violation).where(Violation.inspection_id == primary.id)).all()
    case = case_opening.open_case([violation.id], officers=[o.id for o in officers], party=UNIT,
                                  circumstance="first", actor=officers[0])
    _db.session.commit()
    response = client.post(f"/api/v1/assignments/{assignment.id}/records/adopt", headers=bearer(world.users["admin"]),
                           json={"inspection_id": row(db, member_rec).id, "reason": "乙记录更准确"})
    assert response.status_code == 409
    assert f"第 {case.id} 号案件" in response.get_json()["detail"]
    assert row(db, leader_rec).is_primary is True and row(db, member_rec).is_primary is None
    assert live_violations(db, row(db, leader_rec)) == [K3_CHECK]


def test_the_database_refuses_two_primary_records(client, db, world, visit):
    assignment, leader_rec, member_rec = visit
    record_both(client, world, leader_rec, member_rec, submit=False)
    parallel = row(db, member_rec)
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            parallel.is_primary = True
            db.session.flush()
    db.session.expire_all()
    assert row(db, member_rec).is_primary is None
    with pytest.raises(IntegrityError):
        with db.session.begin_nested():
            parallel = row(db, member_rec)
            parallel.is_primary = False  # neither True nor NULL: the check refuses it
            db.session.flush()


# --- pages ----------------------------------------------------------------------------------------


def test_the_pages_show_the_differences_and_the_office_decides_there(app, client, db, world, visit):
    assignment, leader_rec, member_rec = visit
    record_both(client, world, leader_rec, member_rec)
    primary, parallel = row(db, leader_rec), row(db, member_rec)
    office = session_of(app, world.users["office"])
    for url in (f"/inspections/{primary.id}", f"/inspections/{parallel.id}", f"/assignments/{assignment.id}"):
        html = office.get(url).get_data(as_text=True)
        assert "组内记录不一致" in html, url
        assert "现场接待人数（人）：甲记录为500，乙记录为300" in html
        assert "甲记录为违反，乙记录为未违反" in html and "照片数：甲记录为0，乙记录为1" in html
        assert "核定理由" in html
    assert "并行记录</strong>" in office.get(f"/inspections/{parallel.id}").get_data(as_text=True)
    # The team reads its records, without the office's section.
    member_html = session_of(app, world.users["team_member"]).get(f"/inspections/{parallel.id}").get_data(as_text=True)
    assert "组内记录不一致" not in member_html

    page = f"/assignments/{assignment.id}"
    action = f"/assignments/{assignment.id}/records/adopt"
    token = csrf(office, page)
    refused = office.post(action, data={"inspection_id": parallel.id, "reason": "", "csrf_token": token})
    assert refused.status_code == 302
    assert "请填写核定理由" in office.get(page).get_data(as_text=True)
    assert row(db, member_rec).is_primary is None
    no_token = office.post(action, data={"inspection_id": parallel.id, "reason": "乙记录准确"})
    assert no_token.status_code in (302, 400) and row(db, member_rec).is_primary is None

    done = office.post(action, data={"inspection_id": parallel.id, "reason": "乙记录准确", "csrf_token": csrf(office, page)})
    assert done.status_code == 302
    html = office.get(page).get_data(as_text=True)
    assert "已核定以第" in html and "采用（办公室核定）" in html and "未采用" in html and "乙记录准确" in html
    assert row(db, member_rec).is_primary is True and row(db, leader_rec).is_primary is None

    member = session_of(app, world.users["team_member"])
    forbidden = member.post(action, data={"inspection_id": primary.id, "reason": "改回",
                                          "csrf_token": csrf(member, f"/inspections/{parallel.id}")})
    assert forbidden.status_code == 403


def test_agreeing_records_say_so_on_the_page(app, client, db, world, visit):
    assignment, leader_rec, member_rec = visit
    leader, member = bearer(world.users["team_leader"]), bearer(world.users["team_member"])
    pushed(client, leader, [leader_rec.reveal(), leader_rec.inspection(), leader_rec.observation("k3_visitors", 9)],
           device_id=LEADER_DEVICE)
    pushed(client, member, [member_rec.inspection(), member_rec.observation("k3_visitors", 9)], device_id=MEMBER_DEVICE)
    html = session_of(app, world.users["office"]).get(f"/assignments/{assignment.id}").get_data(as_text=True)
    assert "组内记录一致" in html and "组内记录不一致" not in html
