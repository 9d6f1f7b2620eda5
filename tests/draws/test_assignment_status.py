"""The assignment status machine: every allowed transition works and is audited; every other is 409."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from assignment_world import make_assignment, world  # noqa: F401  (fixtures)

from server.audit.models.audit import AuditEvent
from server.columns import utcnow
from server.draws import assignments as service
from server.draws.models.draw import ASSIGNMENT_STATUSES, AssignmentTransition
from server.draws.sealing import assignment_key, stored_reveal_code
from server.errors import Conflict, Forbidden, Invalid

# The specification, written out independently of the service's table.
ALLOWED = {
    ("sealed", "dispatched"), ("dispatched", "revealed"), ("revealed", "in_progress"),
    ("in_progress", "submitted"), ("submitted", "closed"),
    ("sealed", "cancelled"), ("dispatched", "cancelled"), ("revealed", "cancelled"), ("in_progress", "cancelled"),
    ("sealed", "expired"), ("dispatched", "expired"), ("revealed", "expired"),
}
PAIRS = [(a, b) for a in ASSIGNMENT_STATUSES for b in ASSIGNMENT_STATUSES]


def test_the_table_is_the_specification():
    table = {(a, b) for a, targets in service.ALLOWED_TRANSITIONS.items() for b in targets}
    assert table == ALLOWED
    assert set(service.ALLOWED_TRANSITIONS) == set(ASSIGNMENT_STATUSES) == set(service.STATUS_LABELS)


@pytest.mark.parametrize("from_status, to_status", sorted(ALLOWED))
def test_allowed_transition(db, world, make_assignment, from_status, to_status):
    assignment = make_assignment(from_status)
    actor = world.users["office"]
    before = db.session.scalar(sa.select(sa.func.max(AuditEvent.seq)))
    row = service.transition(assignment, to_status, actor, channel="api", note="测试")
    assert assignment.status == to_status
    db.session.expire_all()
    assert assignment.status == to_status
    assert (row.from_status, row.to_status, row.actor_id, row.note) == (from_status, to_status, actor.id, "测试")
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.seq > before)).all()
    assert [e.action for e in events] == [service.TRANSITION_ACTIONS[to_status]]
    assert events[0].object_type == "assignment" and events[0].object_id == str(assignment.id)
    assert events[0].details["from"] == from_status and events[0].details["to"] == to_status
    assert events[0].actor_id == actor.id and events[0].channel == "api"


@pytest.mark.parametrize("from_status, to_status", [pair for pair in PAIRS if pair not in ALLOWED])
def test_forbidden_transition_is_409_naming_both(db, world, make_assignment, from_status, to_status):
    assignment = make_assignment(from_status)
    transitions_before = len(service.transitions_of(assignment))
    with pytest.raises(Conflict) as caught:
        service.transition(assignment, to_status, world.users["office"], channel="api")
    assert caught.value.status == 409
    assert service.STATUS_LABELS[from_status] in caught.value.detail
    assert service.STATUS_LABELS[to_status] in caught.value.detail
    assert caught.value.extra == {"from_status": from_status, "to_status": to_status}
    db.session.expire_all()
    assert assignment.status == from_status
    assert len(service.transitions_of(assignment)) == transitions_before


def test_unknown_status_is_invalid(world, make_assignment):
    with pytest.raises(Invalid):
        service.transition(make_assignment(), "teleported", world.users["office"], channel="api")


def test_a_stale_copy_cannot_move_the_row_twice(db, world, make_assignment):
    """The conditional update refuses a transition whose starting status is no longer in the row."""
    assignment = make_assignment("revealed")
    db.session.execute(sa.text("UPDATE assignment SET status = 'cancelled' WHERE id = :id"), {"id": assignment.id})
    with pytest.raises(Conflict) as caught:
        service.transition(assignment, "in_progress", world.users["office"], channel="api")
    assert "已取消" in caught.value.detail
    assert assignment.status == "cancelled"


# --- creation --------------------------------------------------------------------------------


def test_record_created_seals_cheaply(db, world, make_assignment):
    before = db.session.scalar(sa.select(sa.func.max(AuditEvent.seq)))
    assignment = make_assignment()
    assert assignment.status == "sealed"
    assert assignment.envelope is None  # built on first need, not at the draw
    assert len(assignment_key(assignment)) == 32
    assert len(stored_reveal_code(assignment)) == 11
    rows = service.transitions_of(assignment)
    assert [(r.from_status, r.to_status, r.actor_id) for r in rows] == [(None, "sealed", world.users["office"].id)]
    # The draw writes one audit event for all of its assignments, not record_created.
    assert db.session.scalar(sa.select(sa.func.max(AuditEvent.seq))) == before


def test_each_assignment_has_its_own_secrets(world, make_assignment):
    first, second = make_assignment(), make_assignment()
    assert assignment_key(first) != assignment_key(second)
    assert first.wrapped_key != second.wrapped_key


def test_secrets_are_stored_wrapped(world, make_assignment):
    assignment = make_assignment()
    code = stored_reveal_code(assignment)
    assert code.encode() not in assignment.wrapped_reveal_code
    assert assignment_key(assignment) not in assignment.wrapped_key


# --- the verbs -------------------------------------------------------------------------------


def test_cancel_needs_a_reason_and_the_office(db, world, make_assignment):
    assignment = make_assignment()
    with pytest.raises(Invalid):
        service.cancel(assignment, world.users["office"], channel="api", reason="  ")
    with pytest.raises(Forbidden):
        service.cancel(assignment, world.users["team_leader"], channel="api", reason="不去了")
    row = service.cancel(assignment, world.users["office"], channel="api", reason="场所已停业")
    assert row.note == "场所已停业" and assignment.status_note == "场所已停业"
    assert assignment.wrapped_reveal_code is None  # no longer needed, so not kept


def test_in_progress_and_submitted_are_for_the_team(db, world, make_assignment):
    assignment = make_assignment("revealed")
    with pytest.raises(Forbidden):
        service.mark_in_progress(assignment, world.users["office"], channel="api")
    service.mark_in_progress(assignment, world.users["team_member"], channel="api")
    assert assignment.status == "in_progress"
    service.mark_submitted(assignment, world.users["team_leader"], channel="api")
    assert assignment.status == "submitted" and assignment.submitted_at is not None
    with pytest.raises(Forbidden):
        service.close(assignment, world.users["team_leader"], channel="api")
    service.close(assignment, world.users["office"], channel="api")
    assert assignment.status == "closed"


def test_outsider_cannot_work_on_an_assignment(world, make_assignment):
    with pytest.raises(Forbidden):
        service.mark_in_progress(make_assignment("revealed"), world.users["outsider"], channel="api")


def test_expire_overdue(db, world, make_assignment):
    overdue = {status: make_assignment(status, starts_in=timedelta(hours=-8), lasts=timedelta(hours=2))
               for status in ("sealed", "dispatched", "revealed", "in_progress", "submitted")}
    current = make_assignment("sealed")
    expired = service.expire_overdue()
    assert {a.id for a in expired} >= {overdue[s].id for s in ("sealed", "dispatched", "revealed")}
    for status in ("sealed", "dispatched", "revealed"):
        assert overdue[status].status == "expired"
        assert overdue[status].wrapped_reveal_code is None
    # On site inside the window: their record may still be on its way, so not expired.
    assert overdue["in_progress"].status == "in_progress"
    assert overdue["submitted"].status == "submitted"
    assert current.status == "sealed"
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "assignment.expired",
                                                          AuditEvent.object_id == str(overdue["sealed"].id)))
    assert event.actor_label == "system" and event.channel == "system"
    # Running again finds nothing new.
    assert not [a for a in service.expire_overdue() if a.id in {x.id for x in overdue.values()}]


def test_expire_uses_the_given_time(world, make_assignment):
    assignment = make_assignment(starts_in=timedelta(hours=1), lasts=timedelta(hours=2))
    service.expire_overdue(utcnow() + timedelta(hours=2))
    assert assignment.status == "sealed"
    service.expire_overdue(utcnow() + timedelta(hours=4))
    assert assignment.status == "expired"


def test_every_transition_is_kept_in_order(db, world, make_assignment):
    assignment = make_assignment()
    office, member = world.users["office"], world.users["team_member"]
    service.dispatch(assignment, office, channel="api")
    service.reveal_online(assignment, member, channel="api")
    service.mark_in_progress(assignment, member, channel="api")
    service.mark_submitted(assignment, member, channel="api")
    service.close(assignment, office, channel="cli")
    rows = db.session.scalars(sa.select(AssignmentTransition).where(AssignmentTransition.assignment_id == assignment.id)
                              .order_by(AssignmentTransition.id)).all()
    assert [(r.from_status, r.to_status) for r in rows] == [
        (None, "sealed"), ("sealed", "dispatched"), ("dispatched", "revealed"), ("revealed", "in_progress"),
        ("in_progress", "submitted"), ("submitted", "closed"),
    ]
