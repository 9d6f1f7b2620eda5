"""Cancelling a draw: abandoning it with a reason, visibly, and linking its replacement.

An office that could quietly drop a draw and make another could choose among outcomes: read a
target, dislike it, draw again. So a draw is abandoned only by cancelling it, with a reason in
words, by an office or admin account; the office's seed is revealed exactly as closing does (the
abandoned draw stays verifiable), every assignment not yet submitted is cancelled, and the
`draw.cancelled` event records how far the draw had got — how many assignments were dispatched
and revealed, and whether anyone had read a target through the audited read. A new draw whose
scope overlaps a draw cancelled in the last `cancellation.link_days` days (draw_policy.yaml) is
linked to it (`replaces_id`), and the draw list shows both, and flags users who cancel often
(`server.draws.listing`).

Services flush and never commit.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import sqlalchemy as sa

from ..access import authorize
from ..accounts.models.user import User
from ..audit.chain import record_event
from ..audit.models.audit import AuditEvent
from ..columns import as_utc, utcnow
from ..errors import Conflict, Invalid
from ..extensions import db
from .assignments import ALLOWED_TRANSITIONS, cancel
from .closing import claim_draw_status, revealed_office_seed
from .models.draw import Assignment, Draw
from .policy_settings import cancellation_settings

# A reason someone can later be held to: words, not a keystroke.
MIN_REASON_HANZI = 4
MAX_REASON_LENGTH = 500
_HANZI = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
CANCELLABLE_STATUSES = ("awaiting", "committed")
# The audited read of a target (`server.draws.assignment_reading.read_target`).
TARGET_READ_ACTION = "assignment.target_read"


def checked_reason(reason: str | None) -> str:
    """The reason, stripped; 422 unless it holds at least MIN_REASON_HANZI Chinese characters."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("取消抽查须说明理由。", errors={"reason": ["必填：请写明取消的理由。"]})
    if len(reason) > MAX_REASON_LENGTH:
        raise Invalid("取消理由过长。", errors={"reason": [f"最多 {MAX_REASON_LENGTH} 个字。"]})
    if len(_HANZI.findall(reason)) < MIN_REASON_HANZI:
        raise Invalid("取消抽查须用中文说明理由。",
                      errors={"reason": [f"请用中文写明理由，至少 {MIN_REASON_HANZI} 个汉字。"]})
    return reason


def _progress(assignments: list[Assignment]) -> dict:
    """How far the draw had got: dispatches, reveals and audited target reads so far."""
    ids = [str(a.id) for a in assignments]
    reads = db.session.execute(
        sa.select(sa.func.count(), sa.func.count(sa.distinct(AuditEvent.object_id)))
        .where(AuditEvent.action == TARGET_READ_ACTION, AuditEvent.object_type == "assignment",
               AuditEvent.object_id.in_(ids))).one() if ids else (0, 0)
    return {"assignments": len(assignments),
            "dispatched": sum(a.dispatched_at is not None for a in assignments),
            "revealed": sum(a.revealed_at is not None for a in assignments),
            "target_reads": reads[0], "assignments_target_read": reads[1], "targets_read": reads[0] > 0}


def cancel_draw(draw: Draw, actor: User, reason: str | None, channel: str, *, now: datetime | None = None) -> Draw:
    """Cancel a draw that is awaiting its contribution or open (office/admin), with a reason.

    Reveals the office's seed, cancels every assignment not yet submitted (each transition
    audited), and records `draw.cancelled` with the reason and the draw's progress. 422 without
    a reason in words; 409 when the draw is closed or already cancelled.
    """
    authorize(actor, "manage", draw)
    reason = checked_reason(reason)
    if draw.status not in CANCELLABLE_STATUSES:
        detail = "该抽查已取消。" if draw.status == "cancelled" else "该抽查已关闭，种子已公开，不能再取消。"
        raise Conflict(detail, draw_status=draw.status)
    now = now or utcnow()
    from_status = draw.status
    seed = revealed_office_seed(draw)
    assignments = list(db.session.scalars(sa.select(Assignment).where(Assignment.draw_id == draw.id)
                                          .order_by(Assignment.position)))
    progress = _progress(assignments)
    claim_draw_status(draw, from_status, "cancelled", {
        "revealed_seed": seed, "cancel_reason": reason, "cancelled_at": now, "cancelled_by_id": actor.id})
    note = f"抽查第 {draw.id} 号已取消：{reason}"
    cancelled = 0
    for assignment in assignments:
        if "cancelled" in ALLOWED_TRANSITIONS.get(assignment.status, ()):
            cancel(assignment, actor, channel=channel, reason=note)
            cancelled += 1
    db.session.flush()
    record_event("draw.cancelled", actor=actor, channel=channel, object_type="draw", object_id=draw.id,
                 details={"reason": reason, "from": from_status, "seed": seed, "commitment": draw.commitment,
                          "before_window_end": now < as_utc(draw.window_end),
                          "assignments_cancelled": cancelled, **progress})
    return draw


# --- linking a new draw to the cancelled one it replaces ---------------------------------------


def _pairs(parameters: dict) -> set[tuple[str, str]]:
    scope = (parameters or {}).get("scope") or {}
    return {(county, category) for county in scope.get("counties") or [] for category in scope.get("categories") or []}


def _venues(parameters: dict) -> set:
    return set(((parameters or {}).get("scope") or {}).get("venues") or [])


def scopes_overlap(new: Draw, cancelled_parameters: dict, cancelled_purpose: str) -> bool:
    """Sample draws overlap on a shared county × category pair; re-inspections on the venue."""
    if new.purpose != cancelled_purpose:
        return False
    if new.purpose == "reinspection":
        return bool(_venues(new.parameters) & _venues(cancelled_parameters))
    return bool(_pairs(new.parameters) & _pairs(cancelled_parameters))


def link_to_cancelled(draw: Draw, *, now: datetime | None = None) -> dict:
    """Link a new draw to the most recent draw over an overlapping scope cancelled in the last
    `cancellation.link_days` days (sets `replaces_id`). Returns what its `draw.created` event
    records about the link: `{}` when there is none."""
    since = (now or utcnow()) - timedelta(days=cancellation_settings()["link_days"])
    # Only the columns needed: a draw row also holds its (large) candidate snapshots.
    recent = db.session.execute(
        sa.select(Draw.id, Draw.parameters, Draw.purpose, Draw.cancelled_at)
        .where(Draw.status == "cancelled", Draw.cancelled_at >= since, Draw.id != draw.id)
        .order_by(Draw.cancelled_at.desc(), Draw.id.desc())).all()
    for draw_id, parameters, purpose, cancelled_at in recent:
        if scopes_overlap(draw, parameters, purpose):
            draw.replaces_id = draw_id
            db.session.flush()
            return {"replaces": draw_id, "replaces_cancelled_at": as_utc(cancelled_at).isoformat()}
    return {}
