"""The life of an assignment: created sealed, then the status machine and its verbs.

A draw creates its assignments sealed (`create_sealed_many`); the team carries the target
sealed (`server.draws.sealing`) until the office dispatches it (`dispatch`, which shows the
reveal code once) and a member opens it — online inside the window (`reveal_online`) or offline
with the reveal code (`record_offline_reveal`). Every status change is audited. Who may do
what is the access policy in `server.draws.assignment_access`; what readers see, and the
audited read of a target, are in `server.draws.assignment_reading`.

Status machine (`ALLOWED_TRANSITIONS`)::

    sealed → dispatched → revealed → in_progress → submitted → closed
    sealed | dispatched | revealed | in_progress → cancelled   (office)
    sealed | dispatched | revealed → expired                    (window passed)

An assignment already `in_progress` does not expire: the team was on site inside the window
and its record may still be on its way from an offline device; the office can cancel it.

Every transition is a conditional UPDATE (… WHERE id = :id AND status = :from): of two
concurrent requests only one changes the row, the other gets a 409 problem — which is how two
simultaneous dispatches yield one reveal code.

Services flush and never commit; the request or CLI command commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.attributes import set_committed_value

from sealing import key_to_text

from ..access import authorize
from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import as_utc, local_text, utcnow
from ..errors import Conflict, Forbidden, Invalid
from ..extensions import db
from ..races import is_sqlite_busy
from .assignment_access import TEAM_TARGET_STATUSES
from .changes import record_change
from .models.draw import Assignment, AssignmentMember, AssignmentTransition, Draw
from .policy_settings import dispatch_lead_hours
from .sealing import assignment_key, ensure_envelope, new_secrets, stored_reveal_code

STATUS_LABELS = {
    "sealed": "已封存",
    "dispatched": "已派发",
    "revealed": "已揭封",
    "in_progress": "督查中",
    "submitted": "已提交",
    "closed": "已办结",
    "cancelled": "已取消",
    "expired": "已过期",
}

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    "sealed": frozenset({"dispatched", "cancelled", "expired"}),
    "dispatched": frozenset({"revealed", "cancelled", "expired"}),
    "revealed": frozenset({"in_progress", "cancelled", "expired"}),
    "in_progress": frozenset({"submitted", "cancelled"}),
    "submitted": frozenset({"closed"}),
    "closed": frozenset(),
    "cancelled": frozenset(),
    "expired": frozenset(),
}

TRANSITION_ACTIONS = {
    "dispatched": "assignment.dispatched",
    "revealed": "assignment.revealed",
    "in_progress": "assignment.started",
    "submitted": "assignment.submitted",
    "closed": "assignment.closed",
    "cancelled": "assignment.cancelled",
    "expired": "assignment.expired",
}

# The key may be released while the team can still be working on the assignment.
REVEALABLE_STATUSES = ("dispatched", "revealed", "in_progress", "submitted")
EXPIRABLE_STATUSES = tuple(status for status, targets in ALLOWED_TRANSITIONS.items() if "expired" in targets)


# --- creation (called by the draw) -----------------------------------------------------------


def record_created(assignment: Assignment, actor: User | None) -> None:
    """Seal a new assignment: its key and reveal code, status `sealed`, the first transition.

    Called for a new assignment after `db.session.add` (venue, members, window, visit date,
    draw and position set). Cheap on purpose — no scrypt, no audit event (the draw writes one
    for all): the envelope is built on first need. Flushes the assignment if it has no id yet;
    `record_created_many` does many with one flush, and a draw inserts its assignments in bulk
    with `create_sealed_many`.
    """
    record_created_many([assignment], actor)


def record_created_many(assignments: Iterable[Assignment], actor: User | None) -> None:
    """`record_created` for many assignments with a single flush."""
    assignments = list(assignments)
    for assignment in assignments:
        new_secrets(assignment)
        assignment.status = "sealed"
    if any(assignment.id is None for assignment in assignments):
        # The transition rows need the assignment ids (wrapped_key is NOT NULL, so the draw
        # cannot have flushed these before the secrets existed).
        db.session.flush()
    _insert_first_transitions([assignment.id for assignment in assignments], actor)


def create_sealed_many(rows: list[dict], teams: list[Sequence[int]], actor: User | None) -> list[int]:
    """Insert new sealed assignments in bulk, with their teams and first transitions; their ids.

    What `record_created_many` does for ORM objects, in three multi-row INSERTs (and one SELECT
    for the new ids) instead of a unit-of-work flush of every row: a city-wide draw creates a
    thousand assignments and twice as many members. `rows` holds each assignment's columns
    (draw_id, position, venue_id, visit_date, window_start, window_end, meeting_point,
    may_propose_penalties); `teams[i]` the member user ids of `rows[i]`, leader first. The
    statements bypass the session's objects: a draw's `assignments` load from the database.
    """
    if len(rows) != len(teams):
        raise ValueError("one team per assignment row")
    if not rows:
        return []
    values = []
    for row in rows:
        value = dict(row, status="sealed")
        new_secrets(value)
        values.append(value)
    db.session.execute(sa.insert(Assignment.__table__), values)
    # (draw_id, position) is unique: it finds each new row's id whatever order the database
    # gave them (multi-row INSERT … RETURNING does not promise one on every backend).
    draw_ids = sorted({row["draw_id"] for row in rows})
    known = {(draw_id, position): assignment_id for draw_id, position, assignment_id in db.session.execute(
        sa.select(Assignment.draw_id, Assignment.position, Assignment.id).where(Assignment.draw_id.in_(draw_ids)))}
    ids = [known[(row["draw_id"], row["position"])] for row in rows]
    members = [{"assignment_id": assignment_id, "user_id": user_id, "position": index, "is_leader": index == 1}
               for assignment_id, team in zip(ids, teams) for index, user_id in enumerate(team, start=1)]
    if members:
        db.session.execute(sa.insert(AssignmentMember.__table__), members)
    _insert_first_transitions(ids, actor)
    return ids


def _insert_first_transitions(assignment_ids: list[int], actor: User | None) -> None:
    """The `sealed` transition of each new assignment, in one multi-row INSERT."""
    if not assignment_ids:
        return
    now = utcnow()
    actor_id = actor.id if actor is not None else None
    db.session.execute(sa.insert(AssignmentTransition.__table__), [
        {"assignment_id": assignment_id, "from_status": None, "to_status": "sealed", "actor_id": actor_id,
         "at": now, "note": None}
        for assignment_id in assignment_ids
    ])


# --- the status machine ----------------------------------------------------------------------


def transition_allowed(from_status: str | None, to_status: str) -> bool:
    return to_status in ALLOWED_TRANSITIONS.get(from_status, ())


def transition(assignment: Assignment, to_status: str, actor: User | None, *, channel: str,
               note: str | None = None) -> AssignmentTransition:
    """Move `assignment` to `to_status` if the table allows it (409 problem otherwise), audited.

    The plain move; the verbs below (dispatch, cancel, …) add their checks and side effects.
    """
    from_status = assignment.status
    _check_allowed(from_status, to_status)
    values = {"submitted_at": utcnow()} if to_status == "submitted" else {}
    _claim(assignment, from_status, to_status, values)
    return _record_transition(assignment, from_status, to_status, actor, channel=channel, note=note)


def _check_allowed(from_status: str, to_status: str) -> None:
    if to_status not in STATUS_LABELS:
        raise Invalid(f"未知的任务状态：{to_status}。")
    if not transition_allowed(from_status, to_status):
        raise Conflict(f"任务状态不能从“{STATUS_LABELS[from_status]}”变为“{STATUS_LABELS[to_status]}”。",
                       from_status=from_status, to_status=to_status)


def _try_claim(assignment: Assignment, from_status: str, to_status: str, values: dict) -> bool:
    """Change the row only if it is still in `from_status`; True if this transaction did."""
    values = dict(values, status=to_status, updated_at=utcnow())
    try:
        changed = db.session.execute(
            sa.update(Assignment)
            .where(Assignment.id == assignment.id, Assignment.status == from_status)
            .values(**values)
            .execution_options(synchronize_session=False)
        ).rowcount
    except OperationalError as exc:
        if not is_sqlite_busy(exc):
            raise
        # SQLite: another connection committed since this transaction first read, so it may
        # not write; the row may well have changed, and the caller must start again.
        raise Conflict("该任务刚被其他操作改动，请刷新后重试。") from None
    if changed != 1:
        return False
    for name, value in values.items():
        set_committed_value(assignment, name, value)
    return True


def _claim(assignment: Assignment, from_status: str, to_status: str, values: dict) -> None:
    if not _try_claim(assignment, from_status, to_status, values):
        current = db.session.scalar(sa.select(Assignment.status).where(Assignment.id == assignment.id))
        set_committed_value(assignment, "status", current)
        raise Conflict(f"任务状态已变为“{STATUS_LABELS.get(current, current)}”，"
                       f"不能再从“{STATUS_LABELS[from_status]}”变为“{STATUS_LABELS[to_status]}”。",
                       from_status=current, to_status=to_status)


def _record_transition(assignment: Assignment, from_status: str, to_status: str, actor: User | None, *,
                       channel: str, note: str | None = None, details: dict | None = None) -> AssignmentTransition:
    row = AssignmentTransition(assignment_id=assignment.id, from_status=from_status, to_status=to_status,
                               actor_id=actor.id if actor is not None else None, note=note, at=utcnow())
    db.session.add(row)
    # Never the target nor the code: the auditor reads this log before the visit, too.
    event_details = {"from": from_status, "to": to_status, "draw_id": assignment.draw_id, **(details or {})}
    if note:
        event_details["note"] = note
    record_event(TRANSITION_ACTIONS[to_status], actor=actor, channel=channel, object_type="assignment",
                 object_id=assignment.id, details=event_details)
    # The team's devices learn of the move at their next pull (status only, never the target).
    record_change(assignment.id, "assignment", assignment.uuid,
                  {"id": assignment.id, "uuid": assignment.uuid, "status": to_status,
                   "status_label": STATUS_LABELS[to_status]})
    return row


# --- dispatch and reveal ---------------------------------------------------------------------


def dispatch(assignment: Assignment, actor: User, *, channel: str, now: datetime | None = None) -> str:
    """Dispatch the team: returns the reveal code, which is erased from the server as it is shown.

    Office/admin only, from an open draw (`committed`) inside its window or at most the policy's
    `dispatch.lead_hours` before it opens (409 otherwise). The same statement that moves the row
    from `sealed` claims it and erases the stored code, so two concurrent dispatches yield one
    code and the other gets 409. The envelope is built here if no team member pulled it yet (it
    needs the code).
    """
    authorize(actor, "manage", assignment)
    now = now or utcnow()
    _check_allowed(assignment.status, "dispatched")
    if as_utc(assignment.window_end) <= now:
        raise Conflict("该任务的时间窗口已过，不能派发；请按过期处理。")
    _check_draw_open(assignment.draw, now)
    code = stored_reveal_code(assignment)
    if code is None:
        raise Conflict("该任务的揭封码已不存在，不能派发。")
    _claim(assignment, "sealed", "dispatched",
           {"dispatched_at": now, "dispatched_by_id": actor.id, "wrapped_reveal_code": None})
    had_envelope = assignment.envelope is not None
    ensure_envelope(assignment, reveal_code=code)
    _record_transition(assignment, "sealed", "dispatched", actor, channel=channel,
                       details={"envelope_built": not had_envelope})
    return code


# Why a draw that is not open dispatches nothing: a closed or cancelled draw's seed is public, so
# its targets are computable by anyone; an awaiting draw has no assignments yet.
DRAW_NOT_OPEN = {
    "awaiting": "该抽查尚未录入随机数，任务尚未形成，不能派发。",
    "closed": "该抽查已关闭，不能再派发任务。",
    "cancelled": "该抽查已取消，不能派发任务。",
}


def _check_draw_open(draw: Draw, now: datetime) -> None:
    if draw.status != "committed":
        raise Conflict(DRAW_NOT_OPEN.get(draw.status, "该抽查不在进行中，不能派发。"), draw_status=draw.status)
    start, end = as_utc(draw.window_start), as_utc(draw.window_end)
    if now >= end:
        raise Conflict(f"抽查窗口已于 {local_text(end)} 结束，不能再派发任务。", reason="after_window")
    lead = dispatch_lead_hours()
    earliest = start - timedelta(hours=lead)
    if now < earliest:
        raise Conflict(f"抽查窗口 {local_text(start)} 开始，最早可在开始前 {lead} 小时"
                       f"（{local_text(earliest)}）派发。", reason="too_early")


def reveal_online(assignment: Assignment, user: User, *, channel: str, now: datetime | None = None) -> str:
    """Release the assignment key (base64url) to a team member: after dispatch, inside the window.

    The first release moves `dispatched` to `revealed`; later ones (another member, another
    device) return the same key without a transition. Every release is audited.
    """
    authorize(user, "reveal", assignment)
    now = now or utcnow()
    status = assignment.status
    if status == "sealed":
        raise Forbidden("任务尚未派发，不能揭封。", reason="not_dispatched")
    if status not in REVEALABLE_STATUSES:
        raise Conflict(f"任务{STATUS_LABELS[status]}，不能揭封。", from_status=status)
    _check_window(assignment, now)
    transitioned = status == "dispatched" and _try_claim(assignment, "dispatched", "revealed", {"revealed_at": now})
    if transitioned:
        _record_transition(assignment, "dispatched", "revealed", user, channel=channel, details={"how": "online"})
    elif status == "dispatched":
        # Another member's reveal won the race; the row is revealed now, which is what we want.
        db.session.refresh(assignment, ["status", "revealed_at"])
    key = key_to_text(assignment_key(assignment))
    record_event("assignment.key_released", actor=user, channel=channel, object_type="assignment",
                 object_id=assignment.id, details={"status": assignment.status, "first": transitioned})
    return key


def _check_window(assignment: Assignment, now: datetime) -> None:
    # 403 rather than 409: nothing is wrong with the assignment, the team may just not open it now.
    start, end = as_utc(assignment.window_start), as_utc(assignment.window_end)
    if now < start:
        raise Forbidden(f"时间窗口尚未开始（{local_text(start)} 起），不能揭封。", reason="before_window")
    if now > end:
        raise Forbidden(f"时间窗口已结束（{local_text(end)} 止），不能揭封。", reason="after_window")


def record_offline_reveal(assignment: Assignment, user: User, *, channel: str,
                          revealed_at: datetime | None = None) -> AssignmentTransition | None:
    """A device reports (at sync) that it opened the envelope with the reveal code.

    Moves `dispatched` to `revealed`; if the assignment is already revealed (or further) there
    is nothing to record. The device's clock is not trusted for ordering: `revealed_at` is the
    server's time unless the caller supplies a checked one.
    """
    authorize(user, "reveal", assignment)
    if assignment.status != "dispatched":
        if assignment.status in TEAM_TARGET_STATUSES:
            return None
        _check_allowed(assignment.status, "revealed")
    _claim(assignment, "dispatched", "revealed", {"revealed_at": revealed_at or utcnow()})
    return _record_transition(assignment, "dispatched", "revealed", user, channel=channel,
                              details={"how": "offline_code"})


# --- the other verbs -------------------------------------------------------------------------


def cancel(assignment: Assignment, actor: User, *, channel: str, reason: str) -> AssignmentTransition:
    """Cancel (office/admin) with a reason; the reveal code, if still stored, is erased."""
    authorize(actor, "manage", assignment)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("取消任务须说明原因。", errors={"reason": ["必填。"]})
    from_status = assignment.status
    _check_allowed(from_status, "cancelled")
    _claim(assignment, from_status, "cancelled", {"status_note": reason, "wrapped_reveal_code": None})
    return _record_transition(assignment, from_status, "cancelled", actor, channel=channel, note=reason)


def mark_in_progress(assignment: Assignment, actor: User, *, channel: str) -> AssignmentTransition:
    """The team checked in on site (driven by the field sync)."""
    authorize(actor, "work", assignment)
    return transition(assignment, "in_progress", actor, channel=channel)


def mark_submitted(assignment: Assignment, actor: User, *, channel: str) -> AssignmentTransition:
    """The team submitted its inspection record (driven by the field sync)."""
    authorize(actor, "work", assignment)
    return transition(assignment, "submitted", actor, channel=channel)


def close(assignment: Assignment, actor: User, *, channel: str, note: str | None = None) -> AssignmentTransition:
    """The office closes a submitted assignment."""
    authorize(actor, "manage", assignment)
    return transition(assignment, "closed", actor, channel=channel, note=note)


def expire_overdue(now: datetime | None = None, *, actor: User | None = None,
                   channel: str = "system") -> list[Assignment]:
    """Expire every assignment whose window has passed before anyone started on it.

    An assignment another transaction moved meanwhile (dispatched, revealed, cancelled) is
    skipped, not an error. The reveal code, if still stored, is erased.
    """
    now = now or utcnow()
    overdue = db.session.scalars(
        sa.select(Assignment).where(Assignment.status.in_(EXPIRABLE_STATUSES), Assignment.window_end < now)
        .order_by(Assignment.id)
    ).all()
    expired = []
    for assignment in overdue:
        from_status = assignment.status
        if _try_claim(assignment, from_status, "expired", {"wrapped_reveal_code": None}):
            _record_transition(assignment, from_status, "expired", actor, channel=channel,
                               details={"window_end": as_utc(assignment.window_end).isoformat()})
            expired.append(assignment)
    return expired


def transitions_of(assignment: Assignment) -> list[AssignmentTransition]:
    return list(db.session.scalars(
        sa.select(AssignmentTransition).where(AssignmentTransition.assignment_id == assignment.id)
        .order_by(AssignmentTransition.id)
    ))
