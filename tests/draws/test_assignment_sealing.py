"""Sealing in the service layer: who reads a target when, what is audited, dispatch and reveal."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from assignment_world import ROLE_KEYS, make_assignment, world  # noqa: F401  (fixtures)

from sealing import EnvelopeError, key_from_text, open_with_code, open_with_key
from server.audit.models.audit import AuditEvent
from server.columns import utcnow
from server.draws import assignment_access, assignment_reading
from server.draws import assignments as service
from server.draws.models.draw import ASSIGNMENT_STATUSES
from server.draws.sealing import assignment_key, ensure_envelope, stored_reveal_code
from server.errors import Conflict, Forbidden, NotFound

TEAM_STATUSES = {"revealed", "in_progress", "submitted", "closed"}
VIEWER_STATUSES = {"submitted", "closed"}


def target_allowed(role_key: str, status: str) -> bool:
    """The rule of issue 3, §Sealing, written out per role."""
    if role_key in ("office", "admin"):
        return True
    if role_key in ("team_leader", "team_member"):
        return status in TEAM_STATUSES
    if role_key in ("department", "county"):
        return status in VIEWER_STATUSES
    return False


def listing(role_key: str, status: str) -> str:
    """What `find_assignment` answers: "found", "hidden" (404 as for an unknown id) or "refused" (403)."""
    if role_key in ("office", "admin", "auditor", "team_leader", "team_member"):
        return "found"
    if role_key in ("department", "county"):
        return "found" if status in VIEWER_STATUSES else "hidden"
    if role_key in ("outsider", "other_department", "other_county"):
        return "hidden"
    return "refused"


def events_after(db, seq, action=None):
    query = sa.select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq)
    if action:
        query = query.where(AuditEvent.action == action)
    return db.session.scalars(query).all()


def last_seq(db) -> int:
    return db.session.scalar(sa.select(sa.func.max(AuditEvent.seq))) or 0


@pytest.mark.parametrize("status", ASSIGNMENT_STATUSES)
@pytest.mark.parametrize("role_key", ROLE_KEYS)
def test_read_target_per_role_and_status(db, world, make_assignment, role_key, status):
    assignment = make_assignment(status)
    user = world.users[role_key]
    before = last_seq(db)
    if target_allowed(role_key, status):
        target = assignment_reading.read_target(assignment, user, channel="api")
        assert target["venue_id"] == world.venue.id
        assert target["name"] == world.venue.name and target["address"] == world.venue.address
        assert target["operator_name"] == world.venue.operator_name
        assert target["latitude"] == pytest.approx(29.078765)
        [event] = events_after(db, before)
        assert event.action == "assignment.target_read"
        assert event.actor_id == user.id and event.channel == "api"
        assert event.object_type == "assignment" and event.object_id == str(assignment.id)
        assert event.details["via"] == "api" and event.details["status"] == status
    else:
        with pytest.raises(Forbidden):
            assignment_reading.read_target(assignment, user, channel="api")
        assert events_after(db, before) == []


@pytest.mark.parametrize("status", ASSIGNMENT_STATUSES)
@pytest.mark.parametrize("role_key", ROLE_KEYS)
def test_find_assignment_hides_what_a_role_may_not_know(db, world, make_assignment, role_key, status):
    assignment = make_assignment(status)
    user = world.users[role_key]
    expected = listing(role_key, status)
    if expected == "found":
        assert assignment_access.find_assignment(assignment.id, user) is assignment
    elif expected == "hidden":
        with pytest.raises(NotFound) as hidden:
            assignment_access.find_assignment(assignment.id, user)
        with pytest.raises(NotFound) as unknown:
            assignment_access.find_assignment(2**31 - 2, user)
        # Word for word the answer for an id that does not exist, apart from the id.
        assert hidden.value.detail.replace(str(assignment.id), "#") == unknown.value.detail.replace(
            str(2**31 - 2), "#")
    else:
        with pytest.raises(Forbidden):
            assignment_access.find_assignment(assignment.id, user)
        with pytest.raises(Forbidden):
            assignment_access.find_assignment(2**31 - 2, user)  # refused before any lookup: no existence test


@pytest.mark.parametrize("role_key", ROLE_KEYS)
def test_visible_assignments_per_role(db, world, make_assignment, role_key):
    by_status = {status: make_assignment(status) for status in ASSIGNMENT_STATUSES}
    elsewhere = make_assignment("submitted", venue=world.other_venue, team=[world.users["outsider"]])
    user = world.users[role_key]
    if listing(role_key, "sealed") == "refused":
        with pytest.raises(Forbidden):
            assignment_access.visible_assignments(user)
        return
    visible = {a.id for a in assignment_access.visible_assignments(user)}
    for status, assignment in by_status.items():
        assert (assignment.id in visible) == (listing(role_key, status) == "found"), status
    sees_elsewhere = role_key in ("office", "admin", "auditor", "outsider", "other_department", "other_county")
    assert (elsewhere.id in visible) == sees_elsewhere


def test_visible_assignments_filters(world, make_assignment):
    sealed, cancelled = make_assignment(), make_assignment("cancelled")
    office = world.users["office"]
    assert [a.id for a in assignment_access.visible_assignments(office, draw_id=sealed.draw_id)] == [sealed.id]
    ids = {a.id for a in assignment_access.visible_assignments(office, status="cancelled")}
    assert cancelled.id in ids and sealed.id not in ids


@pytest.mark.parametrize("via", ["web", "export", "pdf", "cli"])
def test_target_reads_record_the_way_they_were_made(db, world, make_assignment, via):
    assignment = make_assignment()
    before = last_seq(db)
    channel = "web" if via in ("export", "pdf") else via
    assignment_reading.read_target(assignment, world.users["office"], channel=channel, via=via)
    [event] = events_after(db, before, "assignment.target_read")
    assert event.channel == channel and event.details["via"] == via


def test_audit_events_never_name_the_target(db, world, make_assignment):
    """The auditor reads the log before the visit, so no event may carry the target."""
    before = last_seq(db)
    assignment = make_assignment()
    office, member = world.users["office"], world.users["team_member"]
    assignment_reading.summary(assignment, member)
    assignment_reading.read_target(assignment, office, channel="api")
    code = service.dispatch(assignment, office, channel="api")
    service.reveal_online(assignment, member, channel="api")
    assignment_reading.read_target(assignment, member, channel="api")
    text = json.dumps([[e.action, e.object_id, e.details] for e in events_after(db, before)], ensure_ascii=False)
    for secret in world.target_strings() + [code, code.replace("-", "")]:
        assert secret not in text
    assert "venue" not in text


# --- envelopes -------------------------------------------------------------------------------


def test_summary_never_carries_the_target(world, make_assignment):
    assignment = make_assignment("revealed")
    for role_key in ("office", "team_leader", "auditor"):
        data = assignment_reading.summary(assignment, world.users[role_key])
        assert not {"venue", "venue_id", "target", "name", "address"} & data.keys()
        text = json.dumps(data, default=str, ensure_ascii=False)
        for secret in world.target_strings():
            assert secret not in text


def test_envelope_only_for_team_members(world, make_assignment):
    assignment = make_assignment("dispatched")
    assert "envelope" in assignment_reading.summary(assignment, world.users["team_member"])
    for role_key in ("office", "admin", "auditor"):
        assert "envelope" not in assignment_reading.summary(assignment, world.users[role_key])


def test_envelope_is_built_once_on_first_pull(db, world, make_assignment):
    assignment = make_assignment("dispatched")
    assert assignment.envelope is None
    first = assignment_reading.summary(assignment, world.users["team_member"])["envelope"]
    db.session.expire_all()
    assert base64.b64encode(assignment.envelope).decode() == first
    assert assignment_reading.summary(assignment, world.users["team_leader"])["envelope"] == first


def test_no_envelope_before_dispatch_nor_for_cancelled_or_expired(world, make_assignment):
    # Before dispatch no device holds an envelope to try reveal codes on.
    for status in ("sealed", "cancelled", "expired"):
        assert "envelope" not in assignment_reading.summary(make_assignment(status), world.users["team_member"])


def test_envelope_opens_with_key_and_code(world, make_assignment):
    assignment = make_assignment()
    code = stored_reveal_code(assignment)
    envelope = ensure_envelope(assignment)
    target = open_with_key(envelope, assignment_key(assignment), assignment.uuid)
    assert target == open_with_code(envelope, code, assignment.uuid)
    assert target["name"] == world.venue.name and target["county"] == world.venue.county.name


def test_damaged_row_without_code_or_envelope_is_a_conflict(world, make_assignment):
    assignment = make_assignment()
    assignment.wrapped_reveal_code = None
    with pytest.raises(Conflict):
        ensure_envelope(assignment)


# --- dispatch --------------------------------------------------------------------------------


def test_dispatch_returns_the_code_once_and_erases_it(db, world, make_assignment):
    assignment = make_assignment()
    office = world.users["office"]
    stored = stored_reveal_code(assignment)
    before = last_seq(db)
    code = service.dispatch(assignment, office, channel="api")
    assert code == stored
    db.session.expire_all()
    assert assignment.status == "dispatched" and assignment.wrapped_reveal_code is None
    assert assignment.dispatched_by_id == office.id and assignment.dispatched_at is not None
    assert open_with_code(assignment.envelope, code, assignment.uuid)["name"] == world.venue.name
    [event] = events_after(db, before)
    assert event.action == "assignment.dispatched" and event.details["envelope_built"] is True
    assert code not in json.dumps(event.details) and code.replace("-", "") not in json.dumps(event.details)
    with pytest.raises(Conflict):
        service.dispatch(assignment, office, channel="api")


def test_the_team_pulls_the_envelope_dispatch_built(world, make_assignment):
    assignment = make_assignment()
    code = service.dispatch(assignment, world.users["admin"], channel="cli")
    pulled = base64.b64decode(assignment_reading.summary(assignment, world.users["team_member"])["envelope"])
    assert assignment.envelope == pulled
    assert open_with_code(pulled, code, assignment.uuid)["address"] == world.venue.address


@pytest.mark.parametrize("role_key", [k for k in ROLE_KEYS if k not in ("office", "admin")])
def test_only_office_and_admin_dispatch(world, make_assignment, role_key):
    assignment = make_assignment()
    with pytest.raises(Forbidden):
        service.dispatch(assignment, world.users[role_key], channel="api")
    assert assignment.status == "sealed" and assignment.wrapped_reveal_code is not None


def test_dispatch_after_the_window_is_refused(world, make_assignment):
    assignment = make_assignment(starts_in=timedelta(hours=-5), lasts=timedelta(hours=1))
    with pytest.raises(Conflict) as caught:
        service.dispatch(assignment, world.users["office"], channel="api")
    assert "时间窗口已过" in caught.value.detail


@pytest.mark.parametrize("status", ["cancelled", "expired"])
def test_dispatch_of_a_dead_assignment_is_409(world, make_assignment, status):
    with pytest.raises(Conflict):
        service.dispatch(make_assignment(status), world.users["office"], channel="api")


# --- reveal ----------------------------------------------------------------------------------


def test_reveal_before_dispatch_is_forbidden(db, world, make_assignment):
    assignment = make_assignment()
    before = last_seq(db)
    with pytest.raises(Forbidden) as caught:
        service.reveal_online(assignment, world.users["team_leader"], channel="api")
    assert "尚未派发" in caught.value.detail and caught.value.extra["reason"] == "not_dispatched"
    assert events_after(db, before) == []


def test_reveal_after_dispatch_releases_the_key(db, world, make_assignment):
    assignment = make_assignment()
    service.dispatch(assignment, world.users["office"], channel="api")
    envelope = base64.b64decode(assignment_reading.summary(assignment, world.users["team_member"])["envelope"])
    before = last_seq(db)
    key = service.reveal_online(assignment, world.users["team_member"], channel="api")
    assert open_with_key(envelope, key_from_text(key), assignment.uuid)["name"] == world.venue.name
    assert assignment.status == "revealed" and assignment.revealed_at is not None
    assert [e.action for e in events_after(db, before)] == ["assignment.revealed", "assignment.key_released"]
    # Another member (another device) gets the same key, audited, without a second transition.
    again = service.reveal_online(assignment, world.users["team_leader"], channel="api")
    assert again == key
    actions = [e.action for e in events_after(db, before)]
    assert actions == ["assignment.revealed", "assignment.key_released", "assignment.key_released"]
    assert [t.to_status for t in service.transitions_of(assignment)] == ["sealed", "dispatched", "revealed"]


@pytest.mark.parametrize("starts_in, lasts, reason", [
    (timedelta(hours=2), timedelta(hours=3), "before_window"),
    (timedelta(hours=-3), timedelta(hours=1), "after_window"),
])
def test_reveal_outside_the_window_is_forbidden(world, make_assignment, starts_in, lasts, reason):
    assignment = make_assignment(starts_in=timedelta(hours=-1))
    service.dispatch(assignment, world.users["office"], channel="api")
    # Move the window afterwards (dispatch itself refuses a window that has passed).
    assignment.window_start = utcnow() + starts_in
    assignment.window_end = assignment.window_start + lasts
    with pytest.raises(Forbidden) as caught:
        service.reveal_online(assignment, world.users["team_leader"], channel="api")
    assert caught.value.extra["reason"] == reason
    assert ("尚未开始" if reason == "before_window" else "已结束") in caught.value.detail
    assert assignment.status == "dispatched"


@pytest.mark.parametrize("role_key", ["office", "admin", "outsider", "department", "county", "auditor"])
def test_only_team_members_reveal(world, make_assignment, role_key):
    assignment = make_assignment("dispatched")
    with pytest.raises(Forbidden):
        service.reveal_online(assignment, world.users[role_key], channel="api")


@pytest.mark.parametrize("status", ["cancelled", "expired", "closed"])
def test_no_reveal_for_finished_assignments(world, make_assignment, status):
    with pytest.raises(Conflict):
        service.reveal_online(make_assignment(status), world.users["team_leader"], channel="api")


def test_offline_reveal_is_recorded(db, world, make_assignment):
    assignment = make_assignment()
    code = service.dispatch(assignment, world.users["office"], channel="api")
    assert open_with_code(assignment.envelope, code, assignment.uuid)["name"] == world.venue.name
    row = service.record_offline_reveal(assignment, world.users["team_leader"], channel="api")
    assert row.to_status == "revealed" and assignment.status == "revealed"
    # Reported again by the second device: nothing more to record.
    assert service.record_offline_reveal(assignment, world.users["team_member"], channel="api") is None
    with pytest.raises(Forbidden):
        service.record_offline_reveal(assignment, world.users["outsider"], channel="api")


def test_offline_reveal_before_dispatch_is_409(world, make_assignment):
    with pytest.raises(Conflict):
        service.record_offline_reveal(make_assignment(), world.users["team_leader"], channel="api")


def test_wrong_code_does_not_open_the_dispatched_envelope(world, make_assignment):
    assignment = make_assignment()
    code = service.dispatch(assignment, world.users["office"], channel="api")
    wrong = ("00000-00000" if code != "00000-00000" else "11111-11111")
    with pytest.raises(EnvelopeError):
        open_with_code(assignment.envelope, wrong, assignment.uuid)


def test_no_envelope_in_the_summary_when_none_can_be_built(world, make_assignment):
    """A row with neither envelope nor code (damaged) must not break the team's whole list."""
    assignment = make_assignment("revealed")
    assignment.wrapped_reveal_code = None
    assert "envelope" not in assignment_reading.summary(assignment, world.users["team_member"])


def test_envelope_not_stored_when_sqlite_refuses_the_write(db, world, make_assignment, monkeypatch):
    """A stale SQLite snapshot may not write: the envelope is still handed out, and stored next time."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    assignment = make_assignment()
    real_execute = db.session.execute

    def refuse_updates(statement, *args, **kwargs):
        if getattr(statement, "is_update", False):
            raise OperationalError("UPDATE assignment …", {}, sqlite3.OperationalError("database is locked"))
        return real_execute(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "execute", refuse_updates)
    envelope = ensure_envelope(assignment)
    monkeypatch.undo()
    assert open_with_key(envelope, assignment_key(assignment), assignment.uuid)["name"] == world.venue.name
    assert assignment.envelope is None
    # The transaction goes on, and the next pull stores an envelope.
    stored = ensure_envelope(assignment)
    db.session.expire_all()
    assert assignment.envelope == stored
