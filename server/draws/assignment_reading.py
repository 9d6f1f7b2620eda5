"""Reading assignments: what a reader sees (never the target), the team's open list, and the
audited read of a target.
"""

from __future__ import annotations

import base64

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..access import authorize
from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import as_utc
from ..errors import Forbidden
from ..extensions import db
from .assignment_access import TEAM_TARGET_STATUSES, is_member
from .assignments import STATUS_LABELS
from .disclosure import hides_day_of, shows_team_of
from .models.draw import Assignment, AssignmentMember
from .sealing import ensure_envelope, venue_target

# No envelope is handed out before dispatch (the offline guessing of reveal codes starts only
# then), nor for an assignment that will not be visited.
ENVELOPE_STATUSES = ("dispatched", "revealed", "in_progress", "submitted", "closed")
TARGET_READ_VIA = ("api", "web", "cli", "export", "pdf")


# --- what readers see ------------------------------------------------------------------------


# What is still to be done by a team: dispatched (to be opened on site), revealed, under way.
TEAM_OPEN_STATUSES = ("dispatched", "revealed", "in_progress")


def open_team_assignments(user: User, limit: int = 20) -> list[Assignment]:
    """The assignments of `user`'s own teams still to be done, the soonest window first: what an
    inspector's landing page lists. Their targets stay sealed; only the policy's rows come back."""
    query = (sa.select(Assignment).where(authorize(user, "read", Assignment).where(user))
             .where(Assignment.status.in_(TEAM_OPEN_STATUSES),
                    Assignment.members.any(AssignmentMember.user_id == user.id))
             .options(selectinload(Assignment.members).selectinload(AssignmentMember.user))
             .order_by(Assignment.window_start, Assignment.id).limit(limit))
    return list(db.session.scalars(query))


def summary(assignment: Assignment, user: User) -> dict:
    """What a reader of an assignment sees: never the target.

    Teams and a re-inspection's day only as `disclosure` allows. The fields are listed here one by one rather than dumped from the row, so that a column
    added to the model later cannot leak a target by accident. Team members also get the
    envelope (standard base64), built on their first pull.
    """
    hide_day = hides_day_of(assignment, user)
    data = {
        "id": assignment.id,
        "uuid": assignment.uuid,
        "draw_id": assignment.draw_id,
        "position": assignment.position,
        "status": assignment.status,
        "status_label": STATUS_LABELS[assignment.status],
        "visit_date": None if hide_day else assignment.visit_date,
        "window_start": None if hide_day else as_utc(assignment.window_start),
        "window_end": None if hide_day else as_utc(assignment.window_end),
        "meeting_point": assignment.meeting_point,
        "may_propose_penalties": assignment.may_propose_penalties,
        "dispatched_at": as_utc(assignment.dispatched_at),
        "revealed_at": as_utc(assignment.revealed_at),
        "submitted_at": as_utc(assignment.submitted_at),
        "members": [
            {"user_id": member.user_id, "username": member.user.username,
             "display_name": member.user.display_name, "position": member.position,
             "is_leader": member.is_leader}
            for member in assignment.members
        ] if shows_team_of(assignment, user) else [],
    }
    can_have_envelope = assignment.envelope is not None or assignment.wrapped_reveal_code is not None
    if (user.role == "inspector" and is_member(assignment, user) and assignment.status in ENVELOPE_STATUSES
            and can_have_envelope):
        data["envelope"] = base64.b64encode(ensure_envelope(assignment)).decode("ascii")
    return data


# --- reading the target ----------------------------------------------------------------------


def read_target(assignment: Assignment, user: User, *, channel: str, via: str | None = None) -> dict:
    """The target of `assignment` for `user`, audited (who, when, through what).

    `channel` is the audit channel (api, web, cli); `via` says more when it differs: "export"
    or "pdf". Office/admin: any time. Team members: once revealed. Department/county viewers:
    once submitted, within their scope. Everyone else: refused.
    """
    via = via or channel
    if via not in TARGET_READ_VIA:
        raise ValueError(f"via must be one of {', '.join(TARGET_READ_VIA)}, not {via!r}")
    authorize(user, "read_target", assignment)
    if user.role == "inspector" and assignment.status not in TEAM_TARGET_STATUSES:
        if assignment.status == "sealed":
            raise Forbidden("任务尚未派发，不能查看目标。", reason="not_dispatched")
        if assignment.status == "dispatched":
            raise Forbidden("任务尚未揭封：请在时间窗口内揭封后再查看目标。", reason="not_revealed")
        raise Forbidden(f"任务{STATUS_LABELS[assignment.status]}，不能查看目标。", reason=assignment.status)
    target = venue_target(assignment.venue)
    # The event names the assignment, never the venue: the auditor reads the log before visits.
    record_event("assignment.target_read", actor=user, channel=channel, object_type="assignment",
                 object_id=assignment.id, details={"via": via, "status": assignment.status, "role": user.role})
    return target
