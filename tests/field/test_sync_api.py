"""/api/v1/sync: idempotent push of a device's outbox, photos by tus, violations, pull.

Operations are built exactly as the field client queues them (field_client/fieldwork.py): the
same entities, payload fields and canonical-JSON hash.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import threading
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from assignment_world import make_assignment, world  # noqa: F401  (fixtures)
from PIL import Image

from server.accounts.auth import issue_device_token
from server.accounts.models.user import User
from server.audit.models.audit import AuditEvent
from server.columns import utcnow
from server.draws.assignments import record_created
from server.draws.models.draw import Assignment, AssignmentMember, AssignmentTransition, Draw
from server.draws.server_keys import wrap_secret
from server.extensions import db as _db
from server.field.models.inspection import (
    Amendment,
    ExampleNote,
    Finding,
    Inspection,
    Observation,
    Penalty,
    Photo,
    SyncOperation,
    Violation,
)
from server.registry.models.reference import County, Department, VenueCategory
from server.registry.models.venue import Venue

PUSH = "/api/v1/sync/push"
PULL = "/api/v1/sync/pull"
DEVICE = str(uuid.uuid4())


# --- operations as the field client makes them --------------------------------------------------


def now_text(offset: timedelta = timedelta(0)) -> str:
    return (datetime.now(UTC) + offset).isoformat(timespec="seconds")


def operation(entity: str, entity_id: str, payload: dict, *, op_id: str | None = None) -> dict:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return {"op_id": op_id or str(uuid.uuid4()), "entity": entity, "entity_id": entity_id, "payload": payload,
            "payload_sha256": hashlib.sha256(body).hexdigest()}


class Recording:
    """One device's record of one assignment, as outbox operations."""

    def __init__(self, assignment: Assignment):
        self.assignment_uuid = assignment.uuid
        self.inspection_uuid = str(uuid.uuid4())

    def reveal(self) -> dict:
        moment = now_text()
        return operation("assignment_reveal", self.assignment_uuid, {
            "assignment_uuid": self.assignment_uuid, "how": "code", "revealed_at": moment, "device_time": moment})

    def inspection(self) -> dict:
        moment = now_text()
        return operation("inspection", self.inspection_uuid, {
            "uuid": self.inspection_uuid, "assignment_uuid": self.assignment_uuid, "checked_in_at": moment,
            "latitude": 29.08, "longitude": 119.65, "device_time": moment, "status": "draft"})

    def observation(self, code: str, value) -> dict:
        return operation("observation", f"{self.inspection_uuid}/{code}", {
            "inspection_uuid": self.inspection_uuid, "item_code": code, "value": value, "recorded_at": now_text()})

    def finding(self, rule_code: str = "K3", check_code: str | None = None, *, source: str = "manual",
                finding_uuid: str | None = None, description: str = "现场人数明显超限") -> dict:
        finding_uuid = finding_uuid or str(uuid.uuid4())
        return operation("finding", finding_uuid, {
            "uuid": finding_uuid, "inspection_uuid": self.inspection_uuid, "rule_code": rule_code,
            "check_code": check_code, "description": description, "source": source, "created_at": now_text()})

    def note(self, text: str = "入口处测温、扫码有序", *, note_uuid: str | None = None) -> dict:
        note_uuid = note_uuid or str(uuid.uuid4())
        return operation("note", note_uuid, {"uuid": note_uuid, "inspection_uuid": self.inspection_uuid,
                                             "kind": "positive", "text": text, "created_at": now_text()})

    def photo(self, data: bytes, finding_uuid: str | None = None) -> dict:
        photo_uuid = str(uuid.uuid4())
        return operation("photo", photo_uuid, {
            "uuid": photo_uuid, "inspection_uuid": self.inspection_uuid, "finding_uuid": finding_uuid,
            "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "filename": f"{photo_uuid}.jpg",
            "original_name": "IMG_0001.jpg", "media_type": "image/jpeg", "caption": "入口", "exif_time": None,
            "latitude": None, "longitude": None, "orientation": None, "created_at": now_text()})

    def submission(self) -> dict:
        moment = now_text()
        return operation("inspection_submission", self.inspection_uuid, {
            "inspection_uuid": self.inspection_uuid, "submitted_at": moment, "device_time": moment})

    def amendment(self, reason: str = "人数记错", values: dict | None = None) -> dict:
        amendment_uuid = str(uuid.uuid4())
        return operation("amendment", amendment_uuid, {
            "uuid": amendment_uuid, "inspection_uuid": self.inspection_uuid, "reason": reason,
            "payload": {"observations": values or {"k3_visitors": 399}}, "created_at": now_text()})


# --- helpers --------------------------------------------------------------------------------------


def bearer(user: User) -> dict:
    raw, token = issue_device_token(user, "测试手机", channel="api")
    token.last_used_at = utcnow()  # so that requests do not write to the token row
    return {"Authorization": f"Bearer {raw}"}


def push(client, headers: dict, operations: list[dict], *, device_time: str | None = None, **extra):
    # The test's rows are committed (a savepoint here): on SQLite a push starts by ending the
    # request's read snapshot, and an error answer rolls back.
    _db.session.commit()
    return client.post(PUSH, headers=headers, json={"device_id": DEVICE, "device_time": device_time or now_text(),
                                                   "operations": operations, **extra})


def pushed(client, headers: dict, operations: list[dict], **kwargs) -> list[dict]:
    response = push(client, headers, operations, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["results"]


def statuses(results: list[dict]) -> list[int]:
    return [result["status"] for result in results]


def jpeg_bytes() -> bytes:
    image = Image.frombytes("RGB", (48, 32), os.urandom(48 * 32 * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def tus_upload(client, headers: dict, data: bytes):
    """Upload `data` in one PATCH through the tus endpoint, declaring its SHA-256 in the metadata."""
    _db.session.commit()
    metadata = ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in (
        ("sha256", hashlib.sha256(data).hexdigest()), ("filename", "现场.jpg"), ("filetype", "image/jpeg")))
    tus = {"Tus-Resumable": "1.0.0", **headers}
    created = client.post("/api/v1/uploads/", headers={**tus, "Upload-Length": str(len(data)),
                                                       "Upload-Metadata": metadata})
    assert created.status_code == 201, created.get_data(as_text=True)
    response = client.patch(created.headers["Location"], data=data, headers={
        **tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert response.status_code == 204, response.get_data(as_text=True)
    return response


def count(db, model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def inspection_row(db, recording: Recording) -> Inspection:
    return db.session.scalar(sa.select(Inspection).where(Inspection.uuid == recording.inspection_uuid)
                             .execution_options(populate_existing=True))


@pytest.fixture(autouse=True)
def evidence_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(tmp_path / "evidence"))


@pytest.fixture
def museum(db, make_venue, world):  # noqa: F811
    """A K3 venue (museum, approved capacity 800) in a real county."""
    category = db.session.scalar(sa.select(VenueCategory).where(VenueCategory.code == "museum"))
    county = db.session.scalar(sa.select(County).where(County.code == "wucheng"))
    return make_venue(category=category, county=county, approved_capacity=800)


@pytest.fixture
def leader(db, world):  # noqa: F811
    return bearer(world.users["team_leader"])


@pytest.fixture
def dispatched(make_assignment, museum):  # noqa: F811
    """A dispatched assignment to the museum for the world's team, and its recording."""
    assignment = make_assignment("dispatched", venue=museum)
    return assignment, Recording(assignment)


# --- push -----------------------------------------------------------------------------------------


def test_a_record_applies_once_and_a_replay_returns_the_original_results(client, db, leader, dispatched):
    assignment, recording = dispatched
    finding = recording.finding()
    batch = [recording.reveal(), recording.inspection(), recording.observation("k3_visitors", 380), finding,
             recording.note()]
    first = pushed(client, leader, batch)
    assert statuses(first) == [200] * 5
    assert [result["op_id"] for result in first] == [op["op_id"] for op in batch]
    sequence = [result["server_seq"] for result in first]
    assert sequence == sorted(sequence) and len(set(sequence)) == 5

    again = pushed(client, leader, batch)
    assert again == first
    assert count(db, Inspection, Inspection.uuid == recording.inspection_uuid) == 1
    assert count(db, Finding, Finding.uuid == finding["entity_id"]) == 1
    assert count(db, SyncOperation, SyncOperation.op_id.in_([op["op_id"] for op in batch])) == 5
    db.session.refresh(assignment)
    assert assignment.status == "in_progress"
    moves = db.session.scalars(sa.select(AssignmentTransition.to_status)
                               .where(AssignmentTransition.assignment_id == assignment.id)).all()
    assert moves == ["sealed", "revealed", "in_progress"]


def test_the_same_record_under_another_op_id_is_one_row_and_different_content_is_409(client, db, leader,
                                                                                        dispatched):
    _, recording = dispatched
    note = recording.note("第一次")
    pushed(client, leader, [recording.reveal(), recording.inspection(), note])
    same = operation("note", note["entity_id"], note["payload"])  # the same change, queued twice
    changed = recording.note("改过的内容", note_uuid=note["entity_id"])
    results = pushed(client, leader, [same, changed])
    assert statuses(results) == [200, 409]
    assert "内容不同" in results[1]["detail"]
    assert count(db, ExampleNote, ExampleNote.uuid == note["entity_id"]) == 1


def penalty_op(finding: dict, amount: int = 500) -> dict:
    penalty_uuid = str(uuid.uuid4())
    return operation("penalty", penalty_uuid, {
        "uuid": penalty_uuid, "finding_uuid": finding["entity_id"], "type": "fine", "amount": amount,
        "basis_code": None, "created_at": now_text()})


def test_one_batch_settles_repeats_corrections_and_conflicts_among_its_own_operations(client, db, leader,
                                                                                      dispatched):
    """Rows of one run are written together; what they meet inside the run is settled as it would
    be across pushes: the same record twice is one row, other content under its UUID is 409 (and
    leaves no stored operation), a corrected observation keeps the later value, the same operation
    twice answers the same result, and a penalty finds the finding written just before it."""
    _, recording = dispatched
    finding = recording.finding()
    twin = operation("finding", finding["entity_id"], finding["payload"])
    clash = recording.finding(finding_uuid=finding["entity_id"], description="另一种说法")
    note = recording.note()
    batch = [recording.reveal(), recording.inspection(), recording.observation("k3_visitors", 380), finding, twin,
             clash, recording.observation("k3_visitors", 390), note, note, penalty_op(finding)]
    results = pushed(client, leader, batch)
    assert statuses(results) == [200, 200, 200, 200, 200, 409, 200, 200, 200, 200]
    assert "内容不同" in results[5]["detail"] and "server_seq" not in results[5]
    assert results[8] == results[7]
    sequence = [result["server_seq"] for index, result in enumerate(results) if index not in (5, 8)]
    assert sequence == sorted(sequence) and len(set(sequence)) == len(sequence)
    inspection = inspection_row(db, recording)
    assert db.session.scalar(sa.select(Observation.value).where(Observation.inspection_id == inspection.id)) == 390
    assert count(db, Finding, Finding.uuid == finding["entity_id"]) == 1
    assert db.session.scalar(sa.select(Finding.description).where(Finding.uuid == finding["entity_id"])) == "现场人数明显超限"
    assert count(db, ExampleNote, ExampleNote.uuid == note["entity_id"]) == 1
    assert count(db, Penalty, Penalty.finding_id.in_(sa.select(Finding.id).where(Finding.uuid == finding["entity_id"]))) == 1
    assert count(db, SyncOperation, SyncOperation.op_id == clash["op_id"]) == 0
    assert count(db, SyncOperation, SyncOperation.op_id.in_([op["op_id"] for op in batch])) == 8
    # The refused operation may come again once corrected; the rest replays as it was.
    again = pushed(client, leader, batch)
    assert [r for i, r in enumerate(again) if i != 5] == [r for i, r in enumerate(results) if i != 5]
    assert again[5]["status"] == 409


def test_op_id_reused_for_another_payload_is_409_and_the_rest_of_the_batch_applies(client, db, leader, dispatched):
    _, recording = dispatched
    note = recording.note("原来的")
    pushed(client, leader, [recording.reveal(), recording.inspection(), note])
    impostor = recording.note("冒用操作编号", note_uuid=str(uuid.uuid4()))
    impostor["op_id"] = note["op_id"]
    other = recording.note("另一条")
    results = pushed(client, leader, [impostor, other])
    assert statuses(results) == [409, 200]
    assert results[0]["detail"] and "server_seq" not in results[0]
    assert count(db, ExampleNote, ExampleNote.uuid == impostor["entity_id"]) == 0
    assert count(db, ExampleNote, ExampleNote.uuid == other["entity_id"]) == 1


def test_a_wrong_payload_hash_refuses_that_operation_only(client, db, leader, dispatched):
    _, recording = dispatched
    bad = recording.note("哈希不符")
    bad["payload_sha256"] = hashlib.sha256(b"something else").hexdigest()
    invalid = recording.note("")  # empty text: the payload fails its schema
    results = pushed(client, leader, [recording.reveal(), recording.inspection(), bad, invalid, recording.note()])
    assert statuses(results) == [200, 200, 422, 422, 200]
    assert "SHA-256" in results[2]["detail"] and "典型材料内容无效" in results[3]["detail"]
    assert count(db, ExampleNote, ExampleNote.uuid == bad["entity_id"]) == 0
    # Refusals are not stored: the corrected operation can be sent again under its op_id.
    fixed = operation("note", bad["entity_id"], bad["payload"], op_id=bad["op_id"])
    assert statuses(pushed(client, leader, [fixed])) == [200]


@pytest.mark.parametrize("where", ["request", "operation", "types"])
def test_unknown_fields_or_wrong_types_refuse_the_whole_request(client, db, leader, dispatched, where):
    _, recording = dispatched
    batch = [recording.reveal(), recording.inspection()]
    extra = {}
    if where == "request":
        extra = {"priority": "high"}
    elif where == "operation":
        batch[1]["retries"] = 3
    else:
        batch[1]["payload"] = "not an object"
    response = push(client, leader, batch, **extra)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"]
    assert count(db, Inspection, Inspection.uuid == recording.inspection_uuid) == 0
    assert count(db, SyncOperation, SyncOperation.op_id.in_([op["op_id"] for op in batch])) == 0


def test_more_than_500_operations_is_a_422_problem(client, db, leader, dispatched):
    _, recording = dispatched
    response = push(client, leader, [recording.note(f"第{n}条") for n in range(501)])
    assert response.status_code == 422 and "500" in json.dumps(response.get_json(), ensure_ascii=False)


def test_someone_outside_the_team_is_refused_per_operation(client, db, world, dispatched):  # noqa: F811
    assignment, recording = dispatched
    outsider = bearer(world.users["outsider"])
    results = pushed(client, outsider, [recording.reveal(), recording.inspection()])
    assert statuses(results) == [404, 404]
    assert count(db, Inspection, Inspection.uuid == recording.inspection_uuid) == 0
    db.session.refresh(assignment)
    assert assignment.status == "dispatched"
    # A member's record stays out of an outsider's reach once it exists, too.
    pushed(client, bearer(world.users["team_member"]), [recording.reveal(), recording.inspection()])
    assert statuses(pushed(client, outsider, [recording.note()])) == [404]
    # Roles that never record are refused before any operation is read.
    office = client.post(PUSH, headers=bearer(world.users["office"]),
                         json={"device_id": DEVICE, "device_time": now_text(), "operations": []})
    assert office.status_code == 403


def test_order_is_the_servers_and_a_clock_three_days_off_is_flagged(client, db, leader, dispatched):
    _, recording = dispatched
    first = push(client, leader, [recording.reveal(), recording.inspection()])
    assert first.status_code == 200
    body = first.get_json()
    assert abs(body["clock_skew_seconds"]) < 60 and body["skew_flagged"] is False

    # The device's clock now runs three days behind: its later operations still come later.
    late = [recording.observation("k3_visitors", 100), recording.observation("k3_visitors", 200)]
    for op in late:
        op["payload"]["recorded_at"] = now_text(timedelta(days=-3))
        op.update(operation(op["entity"], op["entity_id"], op["payload"], op_id=op["op_id"]))
    second = push(client, leader, late, device_time=now_text(timedelta(days=-3)))
    body = second.get_json()
    assert body["skew_flagged"] is True
    assert -3 * 86400 - 60 < body["clock_skew_seconds"] < -3 * 86400 + 60
    seqs = [result["server_seq"] for result in body["results"]]
    assert min(seqs) > max(result["server_seq"] for result in first.get_json()["results"])
    assert seqs[0] < seqs[1]
    stored = db.session.scalars(sa.select(SyncOperation).where(SyncOperation.op_id.in_([op["op_id"] for op in late]))
                                .order_by(SyncOperation.id)).all()
    assert [row.skew_flagged for row in stored] == [True, True]
    assert all(row.skew_seconds < -3 * 86400 + 60 for row in stored)
    # The later operation (by the server's sequence) holds the value.
    inspection = inspection_row(db, recording)
    assert db.session.scalar(sa.select(Observation.value).where(Observation.inspection_id == inspection.id)) == 200


# --- submission, photos, violations ---------------------------------------------------------------


@pytest.mark.parametrize(("visitors", "violated"), [(401, True), (400, False)])
def test_submission_without_photos_completes_and_stores_violations(client, db, leader, dispatched, museum,
                                                                    visitors, violated):
    assignment, recording = dispatched
    results = pushed(client, leader, [recording.reveal(), recording.inspection(),
                                      recording.observation("k3_visitors", visitors), recording.submission()])
    assert statuses(results) == [200] * 4
    inspection = inspection_row(db, recording)
    assert inspection.status == "complete" and inspection.completed_at is not None
    db.session.refresh(assignment)
    assert assignment.status == "submitted"
    violations = db.session.scalars(sa.select(Violation).where(Violation.inspection_id == inspection.id)).all()
    if not violated:
        assert violations == []
        return
    [violation] = violations
    assert (violation.rule_code, violation.check_code) == ("K3", "k3_visitors_within_half_capacity")
    assert violation.venue_id == museum.id and violation.county_id == museum.county_id
    assert violation.department_ids == sorted(d.id for d in museum.category.departments) != []
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_id == inspection.uuid)).all()
    assert {"inspection.submitted", "inspection.completed"} <= set(actions)
    # The submission again (another op id): nothing changes, no second violation.
    assert statuses(pushed(client, leader, [recording.submission()])) == [200]
    assert count(db, Violation, Violation.inspection_id == inspection.id) == 1


def test_push_before_upload_waits_for_evidence_then_completes(client, db, leader, dispatched):
    _, recording = dispatched
    photos = [jpeg_bytes(), jpeg_bytes()]
    results = pushed(client, leader, [recording.reveal(), recording.inspection(), recording.photo(photos[0]),
                                      recording.photo(photos[1]), recording.submission()])
    assert statuses(results) == [200] * 5
    assert [result.get("photo_received") for result in results[2:4]] == [False, False]  # to be uploaded
    assert inspection_row(db, recording).status == "awaiting_evidence"
    tus_upload(client, leader, photos[0])
    assert inspection_row(db, recording).status == "awaiting_evidence"
    tus_upload(client, leader, photos[1])
    inspection = inspection_row(db, recording)
    assert inspection.status == "complete"
    assert all(photo.received_at and photo.evidence_file_id for photo in db.session.scalars(
        sa.select(Photo).where(Photo.inspection_id == inspection.id)))


def test_upload_before_push_completes_at_submission(client, db, leader, dispatched):
    _, recording = dispatched
    data = jpeg_bytes()
    tus_upload(client, leader, data)
    results = pushed(client, leader, [recording.reveal(), recording.inspection(), recording.photo(data)])
    assert statuses(results) == [200] * 3
    assert results[2]["photo_received"] is True  # the device need not send the bytes again
    assert "photo_received" not in results[0] and "photo_received" not in results[1]
    photo = db.session.scalar(sa.select(Photo).where(Photo.sha256 == hashlib.sha256(data).hexdigest()))
    assert photo.received_at is not None
    assert inspection_row(db, recording).status == "draft"
    assert statuses(pushed(client, leader, [recording.submission()])) == [200]
    assert inspection_row(db, recording).status == "complete"


def test_a_submitted_record_refuses_changes_but_accepts_amendments(client, db, leader, dispatched):
    _, recording = dispatched
    pushed(client, leader, [recording.reveal(), recording.inspection(), recording.observation("k3_visitors", 401),
                            recording.submission()])
    amendment = recording.amendment()
    results = pushed(client, leader, [recording.observation("k3_visitors", 399), recording.note(), amendment,
                                      recording.observation("k3_visitors", 401)])
    assert statuses(results) == [409, 409, 200, 200]  # the last repeats the submitted value
    assert "更正" in results[0]["detail"]
    inspection = inspection_row(db, recording)
    assert db.session.scalar(sa.select(Observation.value).where(Observation.inspection_id == inspection.id)) == 401
    stored = db.session.scalar(sa.select(Amendment).where(Amendment.uuid == amendment["entity_id"]))
    assert stored.reason == "人数记错" and stored.payload == {"observations": {"k3_visitors": 399}}


def live_violations(db, inspection) -> set[str]:
    return {f"{v.rule_code}/{v.check_code}" for v in db.session.scalars(
        sa.select(Violation).where(Violation.inspection_id == inspection.id, Violation.withdrawn_at.is_(None)))}


def test_amendments_evaluate_the_rules_again(client, db, leader, dispatched):
    """401 visitors in an 800-person museum breaks K3; corrected to 399 the violation is withdrawn
    (kept, naming the amendment); corrected to 420 it is live again. The original observation
    is never overwritten."""
    _, recording = dispatched
    pushed(client, leader, [recording.reveal(), recording.inspection(), recording.observation("k3_visitors", 401),
                            recording.submission()])
    inspection = inspection_row(db, recording)
    k3 = "K3/k3_visitors_within_half_capacity"
    assert live_violations(db, inspection) == {k3}

    lower = recording.amendment("人数复核为399人", {"k3_visitors": 399})
    assert statuses(pushed(client, leader, [lower])) == [200]
    assert live_violations(db, inspection) == set()
    [violation] = db.session.scalars(sa.select(Violation).where(Violation.inspection_id == inspection.id)).all()
    first = db.session.scalar(sa.select(Amendment).where(Amendment.uuid == lower["entity_id"]))
    assert violation.withdrawn_at is not None and violation.withdrawn_by_amendment_id == first.id
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "inspection.amended")
                               .order_by(AuditEvent.seq.desc())).first()
    assert event.details["violations_withdrawn"] == [k3] and event.details["violations_added"] == []

    # The same amendment again (a retried push) changes nothing more.
    assert statuses(pushed(client, leader, [lower])) == [200]
    assert count(db, Amendment, Amendment.inspection_id == inspection.id) == 1

    # An explanation only: no observation changes, nothing re-evaluated differently.
    remark = recording.amendment("补充说明")
    remark = operation("amendment", remark["entity_id"], dict(remark["payload"], payload={"observations": {}}))
    assert statuses(pushed(client, leader, [remark])) == [200]
    assert live_violations(db, inspection) == set()

    higher = recording.amendment("再次复核为420人", {"k3_visitors": 420})
    assert statuses(pushed(client, leader, [higher])) == [200]
    assert live_violations(db, inspection) == {k3}
    db.session.refresh(violation)
    second = db.session.scalar(sa.select(Amendment).where(Amendment.uuid == higher["entity_id"]))
    assert violation.withdrawn_at is None and violation.amendment_id == second.id
    assert db.session.scalar(sa.select(Observation.value).where(Observation.inspection_id == inspection.id)) == 401


@pytest.mark.parametrize(("payload", "words"), [
    ({"observations": {"k3_visitors": "很多"}}, "非负整数"),
    ({"observations": {"no_such_item": 1}}, "不属于"),
    ({"observations": {"k3_visitors": 399}, "visitors": 399}, "更正内容应为"),
    ({"observations": [399]}, "更正内容应为"),
], ids=["wrong-type", "unknown-item", "extra-key", "not-a-mapping"])
def test_an_amendment_with_invalid_observations_is_refused(client, db, leader, dispatched, payload, words):
    _, recording = dispatched
    pushed(client, leader, [recording.reveal(), recording.inspection(), recording.observation("k3_visitors", 401),
                            recording.submission()])
    amendment = recording.amendment()
    amendment_uuid = amendment["entity_id"]
    amendment = operation("amendment", amendment_uuid, dict(amendment["payload"], payload=payload))
    [result] = pushed(client, leader, [amendment])
    assert result["status"] == 422 and words in result["detail"]
    assert count(db, Amendment, Amendment.uuid == amendment_uuid) == 0
    assert live_violations(db, inspection_row(db, recording)) == {"K3/k3_visitors_within_half_capacity"}


def test_observation_values_are_checked_against_the_checklist(client, db, leader, dispatched):
    _, recording = dispatched
    results = pushed(client, leader, [recording.reveal(), recording.inspection(),
                                      recording.observation("k3_visitors", "很多"),
                                      recording.observation("k1_closed", True)])
    assert statuses(results) == [200, 200, 422, 422]


# --- the field client's own outbox -----------------------------------------------------------------


def test_the_field_clients_outbox_applies_as_it_is(client, db, leader, dispatched, museum, tmp_path):
    """The contract: operations exactly as field_client/fieldwork.py queues them."""
    from field_client import fieldwork
    from field_client.store import Store
    from server.field import appliers
    from server.registry.loader import rules_bundle_for_category

    assignment, _ = dispatched
    rules = [dict(rule, categories=["museum"]) for rule in rules_bundle_for_category(museum.category)]
    target = {"category_code": "museum", "county_code": "wucheng", "approved_capacity": 800}
    picture = tmp_path / "入口.jpg"
    picture.write_bytes(jpeg_bytes())
    with Store(tmp_path / "home") as store:
        fieldwork.store_pull(store, [{"id": assignment.id, "uuid": assignment.uuid, "status": "dispatched",
                                      "may_propose_penalties": True, "members": []}], rules, "v1")
        local = fieldwork.find_assignment(store, str(assignment.id))
        fieldwork.reveal(store, local, target, how="code", latitude=29.1, longitude=119.6)
        inspection = fieldwork.inspection_of(store, local)
        venue = fieldwork.venue_facts(target)
        for visitors in (401, 300, 401):  # a finding, withdrawn on a correction, then found again
            fieldwork.record(store, inspection, fieldwork.rules_for(store, target), venue, {"k3_visitors": visitors})
        [finding] = store.query("SELECT * FROM findings WHERE withdrawn_at IS NULL")
        fieldwork.add_photo(store, inspection, picture, finding_uuid=finding["uuid"], caption="入口排队")
        fieldwork.add_penalty(store, local, finding, "fine", 2000, "B01")
        fieldwork.add_note(store, inspection, "negative", "入口未限流")
        handwriting = io.BytesIO()
        Image.new("RGBA", (60, 20), (0, 0, 0, 255)).save(handwriting, "PNG")
        fieldwork.add_signature(store, inspection, "inspector", "孙某", png=handwriting.getvalue())
        fieldwork.add_signature(store, inspection, "venue_person", "钱某某", witness_note="拒绝签字，保安李某见证")
        fieldwork.submit(store, inspection)
        fieldwork.amend(store, inspection, "人数复核有误", {"k3_visitors": 402})
        outbox = [{"op_id": row["op_id"], "entity": row["entity"], "entity_id": row["entity_id"],
                   "payload": json.loads(row["payload"]), "payload_sha256": row["payload_sha256"]}
                  for row in store.query("SELECT * FROM outbox ORDER BY seq")]
        inspection_uuid = inspection["uuid"]

    results = pushed(client, leader, outbox)
    assert statuses(results) == [200] * len(outbox), results
    assert pushed(client, leader, outbox) == results
    inspection = db.session.scalar(sa.select(Inspection).where(Inspection.uuid == inspection_uuid))
    assert inspection.status == "awaiting_evidence"
    tus_upload(client, leader, picture.read_bytes())
    inspection = db.session.scalar(sa.select(Inspection).where(Inspection.uuid == inspection_uuid)
                                   .execution_options(populate_existing=True))
    assert inspection.status == "complete"
    [violation] = db.session.scalars(sa.select(Violation).where(Violation.inspection_id == inspection.id)).all()
    stored_finding = db.session.scalar(sa.select(Finding).where(Finding.uuid == finding["uuid"]))
    assert violation.rule_code == "K3" and violation.finding_id == stored_finding.id
    assert count(db, Amendment, Amendment.inspection_id == inspection.id) == 1
    assert count(db, Finding, Finding.inspection_id == inspection.id, Finding.withdrawn_at.is_not(None)) == 1
    assert {op["entity"] for op in outbox} == set(appliers.APPLIERS) | set(appliers.PLANNERS)


# --- pull -----------------------------------------------------------------------------------------


def test_pull_returns_the_teams_changes_after_the_cursor(client, db, world, leader, dispatched,  # noqa: F811
                                                         make_assignment):  # noqa: F811
    assignment, recording = dispatched
    _db.session.commit()
    start = client.get(PULL, headers=leader)
    assert start.status_code == 200
    cursor = start.get_json()["cursor"]
    other = make_assignment("dispatched", team=[world.users["outsider"]])
    other_recording = Recording(other)
    pushed(client, bearer(world.users["outsider"]), [other_recording.reveal(), other_recording.inspection()])
    data = jpeg_bytes()
    pushed(client, leader, [recording.reveal(), recording.inspection(), recording.photo(data),
                            recording.submission()])
    tus_upload(client, leader, data)

    body = client.get(PULL, headers=leader, query_string={"cursor": cursor}).get_json()
    changes = body["changes"]
    assert all(change["seq"] > cursor for change in changes)
    assert [change["seq"] for change in changes] == sorted(change["seq"] for change in changes)
    assert body["cursor"] == changes[-1]["seq"] and body["more"] is False
    assert {change["entity_id"] for change in changes} == {assignment.uuid, recording.inspection_uuid}
    assert [c["data"]["status"] for c in changes if c["entity"] == "assignment"] == [
        "revealed", "in_progress", "submitted"]
    assert [c["data"]["status"] for c in changes if c["entity"] == "inspection"] == ["awaiting_evidence", "complete"]
    assert not any(assignment.venue.name in json.dumps(change, ensure_ascii=False) for change in changes)

    rest = client.get(PULL, headers=leader, query_string={"cursor": body["cursor"]}).get_json()
    assert rest == {"changes": [], "cursor": body["cursor"], "more": False, "head": body["head"],
                    "reveal_clock_tolerance_s": 600}
    assert body["head"] >= body["cursor"]

    # A cursor the server never gave (its database restored from an older backup): refused, with the head.
    beyond = client.get(PULL, headers=leader, query_string={"cursor": body["head"] + 1})
    assert beyond.status_code == 409 and beyond.mimetype == "application/problem+json"
    assert beyond.get_json()["head"] == body["head"] and "超过服务器当前的变化序号" in beyond.get_json()["detail"]
    assert client.get(PULL, headers=leader, query_string={"cursor": -1}).status_code == 422
    assert client.get(PULL, headers=leader, query_string={"cursr": 0}).status_code == 422


def test_pull_pages_by_500(client, db, leader, dispatched, monkeypatch):
    from server.field import pull

    _, recording = dispatched
    pushed(client, leader, [recording.reveal(), recording.inspection()])
    monkeypatch.setattr(pull, "PULL_PAGE_SIZE", 1)
    first = client.get(PULL, headers=leader).get_json()
    assert len(first["changes"]) == 1 and first["more"] is True
    second = client.get(PULL, headers=leader, query_string={"cursor": first["cursor"]}).get_json()
    assert second["changes"][0]["seq"] > first["cursor"]


def test_openapi_documents_sync(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert {"post"} <= paths["/api/v1/sync/push"].keys() and {"get"} <= paths["/api/v1/sync/pull"].keys()


# --- concurrency ----------------------------------------------------------------------------------
#
# Real transactions on a database of its own: 20 threads push the same batch at the same moment.


def _seed(app) -> tuple[str, str]:
    """Committed: a dispatched assignment for one inspector; (assignment uuid, token)."""
    from server.accounts.passwords import hash_password

    with app.app_context():
        session = _db.session
        category = VenueCategory(code="cat", name="甲类", departments=[Department(code="dep", name="甲局")])
        venue = Venue(name="并发场所", address="并发路1号", category=category,
                      county=County(code="cty", name="甲县", kind="county"))
        office = User(username="office", display_name="办公室", role="office", password_hash=hash_password("x" * 12))
        leader = User(username="leader", display_name="组长", role="inspector", password_hash=office.password_hash)
        session.add_all([venue, office, leader])
        session.flush()
        start = utcnow() - timedelta(hours=1)
        digest = hashlib.sha256(b"placeholder").hexdigest()
        draw = Draw(created_by_id=office.id, parameters={}, window_start=start, window_end=start + timedelta(hours=6),
                    commitment=digest, sealed_seed=wrap_secret(b"seed", "draw-seed"), parameters_digest=digest,
                    venues_digest=digest, inspectors_digest=digest, result_digest=digest, venues_snapshot=b"x",
                    inspectors_snapshot=b"x")
        session.add(draw)
        session.flush()
        assignment = Assignment(draw_id=draw.id, position=1, venue=venue, visit_date=date.today(),
                                window_start=draw.window_start, window_end=draw.window_end,
                                members=[AssignmentMember(user_id=leader.id, position=1, is_leader=True)])
        session.add(assignment)
        record_created(assignment, office)
        assignment.status = "dispatched"
        raw, token = issue_device_token(leader, "并发测试", channel="api")
        token.last_used_at = utcnow()
        session.commit()
        assignment_uuid = assignment.uuid
        session.remove()
    return assignment_uuid, raw


def test_twenty_concurrent_pushes_of_one_batch_store_one_copy(separate_app):
    app = separate_app
    assignment_uuid, token = _seed(app)
    recording = Recording.__new__(Recording)
    recording.assignment_uuid, recording.inspection_uuid = assignment_uuid, str(uuid.uuid4())
    finding = recording.finding("K1", description="营业中")
    batch = [recording.reveal(), recording.inspection(), finding, recording.note(), recording.submission()]
    body = {"device_id": DEVICE, "device_time": now_text(), "operations": batch}
    answers: list[tuple[int, dict]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def send() -> None:
        try:
            client = app.test_client()
            barrier.wait(timeout=30)
            response = client.post(PUSH, json=body, headers={"Authorization": f"Bearer {token}"})
            answers.append((response.status_code, response.get_json()))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a push hung"
    assert errors == []
    assert [status for status, _ in answers] == [200] * 20, answers
    results = {json.dumps(answer["results"], sort_keys=True) for _, answer in answers}
    assert len(results) == 1  # every push got the one original result
    assert statuses(answers[0][1]["results"]) == [200] * 5

    with app.app_context():
        session = _db.session
        assert session.scalar(sa.select(sa.func.count()).select_from(SyncOperation)) == 5
        assert session.scalar(sa.select(sa.func.count()).select_from(Inspection)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(Finding)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(ExampleNote)) == 1
        moves = session.scalars(sa.select(AssignmentTransition.to_status).order_by(AssignmentTransition.id)).all()
        assert moves == ["sealed", "revealed", "in_progress", "submitted"]
        assert session.scalar(sa.select(Inspection.status)) == "complete"
        actions = session.scalars(sa.select(AuditEvent.action).where(AuditEvent.action.like("inspection.%"))).all()
        assert sorted(actions) == ["inspection.checked_in", "inspection.completed", "inspection.submitted"]
        session.remove()


def test_a_device_time_written_in_beijing_time_is_stored_as_the_same_moment(client, db, leader, dispatched):
    """A phone that writes +08:00 gets its check-in stored in UTC, so it is read back (and counted
    on its Beijing day) as the moment it was, on SQLite as on PostgreSQL."""
    from server.columns import CHINA_STANDARD_TIME, as_utc

    assignment, recording = dispatched
    moment = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=3)
    written = moment.astimezone(CHINA_STANDARD_TIME).isoformat()
    assert written.endswith("+08:00")
    inspection = operation("inspection", recording.inspection_uuid, {
        "uuid": recording.inspection_uuid, "assignment_uuid": recording.assignment_uuid, "checked_in_at": written,
        "latitude": 29.08, "longitude": 119.65, "device_time": written, "status": "draft"})
    assert statuses(pushed(client, leader, [recording.reveal(), inspection])) == [200, 200]
    db.session.expire_all()
    stored = db.session.scalar(sa.select(Inspection.checked_in_at).where(Inspection.uuid == recording.inspection_uuid))
    assert as_utc(stored) == moment
