"""Envelopes after dispatch, and offline reveals outside the window.

A team's device gets an assignment's envelope only once the office has dispatched it; when the
assignment is cancelled the next pull says so and the list no longer carries the envelope. An
offline reveal a device reports outside the window (by its clock, or by its clock corrected by
its skew) is accepted and flagged for the office: in the push answer, the audit log, the
assignment's API and page, and the record's 异常提示.
"""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import sqlalchemy as sa
from assignment_world import make_assignment, world  # noqa: F401  (fixtures)
from inspection_world import session_of
from test_sync_api import PULL, Recording, bearer, now_text, operation, push

import sealing
from server.audit.models.audit import AuditEvent
from server.draws.assignments import cancel, dispatch
from server.field.models.inspection import Inspection
from server.field.reveal_checks import BEFORE_DISPATCH, CLOCK_OFF, IN_THE_FUTURE, OUTSIDE_WINDOW

LIST = "/api/v1/assignments"


def listed(client, headers: dict, assignment) -> dict:
    response = client.get(LIST, headers=headers)
    assert response.status_code == 200, response.get_json()
    (item,) = [item for item in response.get_json() if item["id"] == assignment.id]
    return item


def reveal_at(recording: Recording, revealed_at: str) -> dict:
    return operation("assignment_reveal", recording.assignment_uuid, {
        "assignment_uuid": recording.assignment_uuid, "how": "code", "revealed_at": revealed_at,
        "device_time": revealed_at})


def flag_events(db, assignment) -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "assignment.reveal_flagged",
                                                          AuditEvent.object_id == str(assignment.id))).all()


# --- envelopes after dispatch ----------------------------------------------------------------------


def test_a_sealed_assignment_is_listed_without_envelope_until_dispatched(client, db, world,  # noqa: F811
                                                                          make_assignment):  # noqa: F811
    assignment = make_assignment("sealed")
    db.session.commit()
    member = bearer(world.users["team_member"])
    before = listed(client, member, assignment)
    assert before["status"] == "sealed" and "envelope" not in before
    single = client.get(f"{LIST}/{assignment.id}", headers=member).get_json()
    assert "envelope" not in single
    db.session.refresh(assignment)
    assert assignment.envelope is None  # nothing was built for a pull before dispatch

    code = dispatch(assignment, world.users["office"], channel="api")
    db.session.commit()
    after = listed(client, member, assignment)
    assert after["status"] == "dispatched"
    envelope = base64.b64decode(after["envelope"])
    assert json.loads(envelope)["assignment"] == assignment.uuid
    assert sealing.open_with_code(envelope, code, assignment.uuid)["name"] == world.venue.name


def test_a_cancelled_assignment_tells_the_device_and_loses_its_envelope(client, db, world,  # noqa: F811
                                                                        make_assignment):  # noqa: F811
    assignment = make_assignment("sealed")
    dispatch(assignment, world.users["office"], channel="api")
    db.session.commit()
    member = bearer(world.users["team_member"])
    assert listed(client, member, assignment)["envelope"]
    cursor = client.get(f"{PULL}?cursor=0", headers=member).get_json()["cursor"]

    cancel(assignment, world.users["office"], channel="api", reason="场所已停业")
    db.session.commit()
    page = client.get(f"{PULL}?cursor={cursor}", headers=member).get_json()
    assert [change["data"]["status"] for change in page["changes"]] == ["cancelled"]
    assert page["reveal_clock_tolerance_s"] == 600
    item = listed(client, member, assignment)
    assert item["status"] == "cancelled" and "envelope" not in item


def test_the_pull_names_the_configured_tolerance(app, client, db, world, make_assignment):  # noqa: F811
    make_assignment("dispatched")
    db.session.commit()
    configured = app.config["REVEAL_CLOCK_TOLERANCE_SECONDS"]
    app.config["REVEAL_CLOCK_TOLERANCE_SECONDS"] = 120
    try:
        body = client.get(f"{PULL}?cursor=0", headers=bearer(world.users["team_member"])).get_json()
    finally:
        app.config["REVEAL_CLOCK_TOLERANCE_SECONDS"] = configured
    assert body["reveal_clock_tolerance_s"] == 120


# --- the server's checks of a reported offline reveal ------------------------------------------------


def test_an_offline_reveal_twenty_hours_early_is_accepted_and_flagged(app, client, db, world,  # noqa: F811
                                                                      make_assignment):  # noqa: F811
    assignment = make_assignment("dispatched", starts_in=timedelta(hours=20), lasts=timedelta(hours=4))
    db.session.commit()
    recording = Recording(assignment)
    leader = bearer(world.users["team_leader"])
    response = push(client, leader, [recording.reveal(), recording.inspection()])
    assert response.status_code == 200
    reveal, inspection = response.get_json()["results"]
    assert reveal["status"] == 200 and inspection["status"] == 200  # never lose the field's data
    (flag,) = reveal["reveal_flags"]
    assert flag.startswith(OUTSIDE_WINDOW) and "北京时间" in flag
    db.session.expire_all()
    assert db.session.get(type(assignment), assignment.id).status == "in_progress"

    (event,) = flag_events(db, assignment)
    assert event.actor_label == world.users["team_leader"].username
    assert event.details["flags"] == [flag] and event.details["tolerance_seconds"] == 600
    record = db.session.scalar(sa.select(Inspection).where(Inspection.uuid == recording.inspection_uuid))
    assert record.checkin_flagged is True

    office = bearer(world.users["office"])
    answer = client.get(f"{LIST}/{assignment.id}/reveal-anomalies", headers=office)
    assert answer.status_code == 200
    (anomaly,) = answer.get_json()["anomalies"]
    assert anomaly["flags"] == [flag]
    assert anomaly["reported_by"] == world.users["team_leader"].display_name
    assert anomaly["device_revealed_at"] and anomaly["received_at"]
    refused = client.get(f"{LIST}/{assignment.id}/reveal-anomalies", headers=leader)
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"

    page = session_of(app, world.users["office"]).get(f"/assignments/{assignment.id}").get_data(as_text=True)
    assert "异常提示" in page and OUTSIDE_WINDOW in page
    record_page = session_of(app, world.users["office"]).get(f"/inspections/{record.id}").get_data(as_text=True)
    assert "异常提示" in record_page and OUTSIDE_WINDOW in record_page
    listing = session_of(app, world.users["office"]).get("/inspections?flagged=1").get_data(as_text=True)
    assert f"/inspections/{record.id}\"" in listing


def test_a_flagged_reveal_marks_the_record_already_held(client, db, world, make_assignment):  # noqa: F811
    # The record arrived first (checked in on site, inside the window); the reveal reported later
    # says the envelope was opened a day early: the record is marked for the 签到异常 filter too.
    assignment = make_assignment("dispatched")
    db.session.commit()
    recording = Recording(assignment)
    checkin = recording.inspection()
    checkin["payload"].update(latitude=float(world.venue.latitude), longitude=float(world.venue.longitude))
    checkin.update(operation(checkin["entity"], checkin["entity_id"], checkin["payload"], op_id=checkin["op_id"]))
    leader = bearer(world.users["team_leader"])
    (first,) = push(client, leader, [checkin]).get_json()["results"]
    assert first["status"] == 200 and first["checkin_flags"] == []
    record = db.session.scalar(sa.select(Inspection).where(Inspection.uuid == recording.inspection_uuid))
    assert record.checkin_flagged is False
    (late,) = push(client, leader, [reveal_at(recording, now_text(timedelta(days=-1)))]).get_json()["results"]
    assert late["status"] == 200 and late["reveal_flags"]
    db.session.refresh(record)
    assert record.checkin_flagged is True


def test_a_reveal_inside_the_window_is_not_flagged(app, client, db, world, make_assignment):  # noqa: F811
    assignment = make_assignment("dispatched")
    db.session.commit()
    recording = Recording(assignment)
    (result,) = push(client, bearer(world.users["team_leader"]), [recording.reveal()]).get_json()["results"]
    assert result["status"] == 200 and result["reveal_flags"] == []
    assert flag_events(db, assignment) == []
    body = client.get(f"{LIST}/{assignment.id}/reveal-anomalies", headers=bearer(world.users["office"])).get_json()
    assert body["anomalies"] == []
    page = session_of(app, world.users["office"]).get(f"/assignments/{assignment.id}").get_data(as_text=True)
    assert OUTSIDE_WINDOW not in page


def test_a_reveal_within_the_clock_tolerance_of_the_window_is_not_flagged(client, db, world,  # noqa: F811
                                                                          make_assignment):  # noqa: F811
    assignment = make_assignment("dispatched", starts_in=timedelta(minutes=5))
    db.session.commit()
    recording = Recording(assignment)
    (result,) = push(client, bearer(world.users["team_leader"]), [recording.reveal()]).get_json()["results"]
    assert result["status"] == 200 and result["reveal_flags"] == []


def test_a_device_time_that_cannot_be_true_is_flagged(client, db, world, make_assignment):  # noqa: F811
    # The device dates its reveal a day ahead, inside a window that opens tomorrow; the push's own
    # clock is right, so only the reveal time is off.
    assignment = make_assignment("dispatched", starts_in=timedelta(hours=20), lasts=timedelta(hours=8))
    assignment.dispatched_at = assignment.window_start - timedelta(days=1)
    db.session.commit()
    recording = Recording(assignment)
    (result,) = push(client, bearer(world.users["team_leader"]),
                     [reveal_at(recording, now_text(timedelta(hours=22)))]).get_json()["results"]
    assert result["status"] == 200
    assert [flag.split("（")[0] for flag in result["reveal_flags"]] == [IN_THE_FUTURE]


def test_a_reveal_dated_before_dispatch_is_flagged(client, db, world, make_assignment):  # noqa: F811
    assignment = make_assignment("dispatched", starts_in=timedelta(hours=-2))
    assignment.dispatched_at = assignment.window_start
    db.session.commit()
    recording = Recording(assignment)
    (result,) = push(client, bearer(world.users["team_leader"]),
                     [reveal_at(recording, now_text(timedelta(hours=-3)))]).get_json()["results"]
    kinds = [flag.split("（")[0] for flag in result["reveal_flags"]]
    assert kinds == [OUTSIDE_WINDOW, BEFORE_DISPATCH]


def test_a_fast_device_clock_inside_the_window_by_its_own_reckoning_is_flagged(client, db, world,  # noqa: F811
                                                                              make_assignment):  # noqa: F811
    # The window opens in two hours; the device's clock runs three hours fast, so by its own
    # clock it opened the envelope inside the window — by the server's, an hour before.
    assignment = make_assignment("dispatched", starts_in=timedelta(hours=2))
    db.session.commit()
    recording = Recording(assignment)
    fast = now_text(timedelta(hours=3))
    (result,) = push(client, bearer(world.users["team_leader"]), [reveal_at(recording, fast)],
                     device_time=fast).get_json()["results"]
    kinds = [flag.split(" ")[0].split("（")[0] for flag in result["reveal_flags"]]
    assert kinds == [IN_THE_FUTURE, CLOCK_OFF]
    assert "设备快" in result["reveal_flags"][1]


def test_an_online_reveal_is_checked_by_the_server_when_the_key_is_released(client, db, world,  # noqa: F811
                                                                            make_assignment):  # noqa: F811
    assignment = make_assignment("revealed", starts_in=timedelta(hours=20))
    db.session.commit()
    recording = Recording(assignment)
    op = operation("assignment_reveal", recording.assignment_uuid, {
        "assignment_uuid": recording.assignment_uuid, "how": "online", "revealed_at": now_text(),
        "device_time": now_text()})
    (result,) = push(client, bearer(world.users["team_leader"]), [op]).get_json()["results"]
    assert result["status"] == 200 and "reveal_flags" not in result
    assert flag_events(db, assignment) == []
