"""Check-in checks: the distance from the check-in (and each photo's camera) position to the venue,
and the check-in time against the assignment's window, flagged to the office and never a reason
to refuse the record."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from assignment_world import make_assignment, world  # noqa: F401  (fixtures)
from test_sync_api import (  # noqa: F401  (fixtures)
    Recording,
    bearer,
    evidence_dir,
    inspection_row,
    now_text,
    operation,
    pushed,
)
from web_session import login

from server.audit.models.audit import AuditEvent
from server.extensions import db as _db
from server.field.checkin_checks import distance_m
from server.field.models.inspection import Photo
from server.registry.models.reference import DrawPolicy

# The world's venue (tests/assignment_world.py) stands here.
VENUE = (29.078765, 119.647229)
# About 1.25 km due north of it.
FAR = (29.09, 119.647229)
FAR_METRES = round(distance_m(*FAR, *VENUE))


def check_in(recording: Recording, position: tuple[float, float] | None, *, checked_in_at: str | None = None) -> dict:
    latitude, longitude = position if position is not None else (None, None)
    return operation("inspection", recording.inspection_uuid, {
        "uuid": recording.inspection_uuid, "assignment_uuid": recording.assignment_uuid,
        "checked_in_at": checked_in_at or now_text(), "latitude": latitude, "longitude": longitude,
        "device_time": now_text(), "status": "draft"})


def photo_at(recording: Recording, position: tuple[float, float] | None) -> dict:
    photo_uuid = str(uuid.uuid4())
    latitude, longitude = position if position is not None else (None, None)
    return operation("photo", photo_uuid, {
        "uuid": photo_uuid, "inspection_uuid": recording.inspection_uuid, "finding_uuid": None,
        "sha256": hashlib.sha256(photo_uuid.encode()).hexdigest(), "size": 10, "filename": f"{photo_uuid}.jpg",
        "original_name": "IMG_0002.jpg", "media_type": "image/jpeg", "caption": "后门", "exif_time": None,
        "latitude": latitude, "longitude": longitude, "orientation": None, "created_at": now_text()})


@pytest.fixture
def visit(db, world, make_assignment):  # noqa: F811
    """A dispatched assignment to the world's venue (window: an hour ago to five hours on)."""
    assignment = make_assignment("dispatched")
    return Recording(assignment), bearer(world.users["team_leader"])


def test_the_distance_is_answered_and_a_near_check_in_is_not_flagged(client, db, visit):
    recording, leader = visit
    near = (VENUE[0] + 0.0005, VENUE[1])  # about 56 m
    _, result = pushed(client, leader, [recording.reveal(), check_in(recording, near)])
    assert result["status"] == 200
    assert result["checkin_distance_m"] == round(distance_m(*near, *VENUE)) and 50 < result["checkin_distance_m"] < 60
    assert result["checkin_flags"] == []
    inspection = inspection_row(db, recording)
    assert inspection.checkin_flags == [] and inspection.checkin_flagged is False


def test_a_far_check_in_is_recorded_and_flagged_never_refused(client, db, visit):
    recording, leader = visit
    operations = [recording.reveal(), check_in(recording, FAR)]
    _, result = pushed(client, leader, operations)
    flag = f"签到位置距场所 {FAR_METRES} 米（超过 300 米）"
    assert result["status"] == 200 and result["checkin_distance_m"] == FAR_METRES and result["checkin_flags"] == [flag]
    inspection = inspection_row(db, recording)
    assert (inspection.checkin_distance_m, inspection.checkin_flags, inspection.checkin_flagged) == (
        FAR_METRES, [flag], True)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "inspection.checkin_flagged",
                                                          AuditEvent.object_id == recording.inspection_uuid))
    assert event.details["flags"] == [flag] and event.details["distance_m"] == FAR_METRES
    # The same record under another operation (a resend) answers the same, checked once.
    again = operation("inspection", recording.inspection_uuid, operations[1]["payload"])
    [repeated] = pushed(client, leader, [again])
    assert repeated["checkin_flags"] == [flag] and repeated["checkin_distance_m"] == FAR_METRES
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "inspection.checkin_flagged", AuditEvent.object_id == recording.inspection_uuid)) == 1


def test_no_position_is_flagged(client, db, visit):
    recording, leader = visit
    _, result = pushed(client, leader, [recording.reveal(), check_in(recording, None)])
    assert result["status"] == 200
    assert result["checkin_distance_m"] is None and result["checkin_flags"] == ["未提供签到位置"]


def test_a_check_in_outside_the_window_is_flagged_in_beijing_time(client, db, visit):
    recording, leader = visit
    yesterday = now_text(timedelta(days=-1))
    _, result = pushed(client, leader, [recording.reveal(), check_in(recording, VENUE, checked_in_at=yesterday)])
    assert result["status"] == 200 and result["checkin_distance_m"] == 0
    [flag] = result["checkin_flags"]
    assert flag.startswith("签到时间不在任务时间窗口内") and "北京时间" in flag


def test_a_photo_taken_far_away_is_flagged(client, db, visit):
    recording, leader = visit
    results = pushed(client, leader, [recording.reveal(), check_in(recording, VENUE), photo_at(recording, FAR),
                                      photo_at(recording, VENUE), photo_at(recording, None)])
    assert [r["status"] for r in results] == [200] * 5 and results[1]["checkin_flags"] == []
    photos = db.session.scalars(sa.select(Photo).where(Photo.inspection.has(uuid=recording.inspection_uuid))
                                .order_by(Photo.id)).all()
    assert [(p.distance_m, p.position_flag) for p in photos] == [
        (FAR_METRES, f"照片拍摄位置距场所 {FAR_METRES} 米（超过 300 米）"), (0, None), (None, None)]
    assert inspection_row(db, recording).checkin_flagged is True


def test_the_radius_is_policy_data(client, db, visit):
    recording, leader = visit
    policy = db.session.scalar(sa.select(DrawPolicy).where(DrawPolicy.code == "default"))
    assert policy.settings["checkin"] == {"radius_m": 300}  # server/reference/draw_policy.yaml
    policy.settings = {**policy.settings, "checkin": {"radius_m": 1000}}
    _, result = pushed(client, leader, [recording.reveal(), check_in(recording, FAR)])
    assert result["checkin_flags"] == [f"签到位置距场所 {FAR_METRES} 米（超过 1000 米）"]
    policy.settings = {**policy.settings, "checkin": {"radius_m": 2000}}
    photo = photo_at(recording, FAR)
    assert [r["status"] for r in pushed(client, leader, [photo])] == [200]
    stored = db.session.scalar(sa.select(Photo).where(Photo.uuid == photo["entity_id"]))
    assert (stored.distance_m, stored.position_flag) == (FAR_METRES, None)


def test_the_office_sees_the_flags_on_the_page_and_in_the_list(app, client, db, world, visit):  # noqa: F811
    recording, leader = visit
    pushed(client, leader, [recording.reveal(), check_in(recording, FAR), photo_at(recording, FAR),
                            recording.submission()])
    inspection = inspection_row(db, recording)
    _db.session.commit()
    office = app.test_client()
    login(office, world.users["office"])
    html = office.get(f"/inspections/{inspection.id}").get_data(as_text=True)
    assert "异常提示" in html
    assert f"签到位置距场所 {FAR_METRES} 米（超过 300 米）" in html
    assert f"照片拍摄位置距场所 {FAR_METRES} 米（超过 300 米）：后门" in html
    listing = office.get("/inspections?flagged=1").get_data(as_text=True)
    assert f'href="/inspections/{inspection.id}"' in listing and "签到异常" in listing


def test_an_unflagged_record_has_no_anomaly_section_and_is_filtered_out(app, client, db, world, visit):  # noqa: F811
    recording, leader = visit
    pushed(client, leader, [recording.reveal(), check_in(recording, VENUE), recording.submission()])
    inspection = inspection_row(db, recording)
    _db.session.commit()
    office = app.test_client()
    login(office, world.users["office"])
    assert "异常提示" not in office.get(f"/inspections/{inspection.id}").get_data(as_text=True)
    listing = office.get("/inspections?flagged=1").get_data(as_text=True)
    assert f'href="/inspections/{inspection.id}"' not in listing


def test_the_answer_fields_are_documented(client):
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    result = next(schema for name, schema in schemas.items() if name.startswith("OperationResult"))
    assert {"checkin_distance_m", "checkin_flags"} <= set(result["properties"])
