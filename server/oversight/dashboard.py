"""The office's dashboard: what was dispatched today, how far each open draw has come, which
rectification orders are overdue and which teams have gone quiet.

Nothing here names a venue: the dashboard shows assignments by draw, position and team, and a
target is one audited click away (DESIGN.md §4.2) — the office reads targets through
`assignments.read_target`, never as a side effect of opening its landing page.

Reading only; nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from ..access import authorize
from ..accounts.models.user import DeviceToken, User
from ..columns import as_utc, china_days_utc, china_today, utcnow
from ..draws.assignments import STATUS_LABELS
from ..draws.models.draw import Assignment, AssignmentMember, Draw
from ..enforcement import rectification
from ..extensions import db
from ..field.models.inspection import Inspection, Photo, SyncOperation

# How many open draws the progress table shows, newest first.
DRAW_LIMIT = 20

# Columns of the progress table, in the order a visit goes through them. Submitted assignments
# are split by the state of their record: complete, or still waiting for photos.
PROGRESS_BUCKETS = {
    "sealed": "待派发",
    "dispatched": "已派发",
    "revealed": "已揭封",
    "in_progress": "已到场",
    "awaiting_evidence": "已提交·待照片",
    "complete": "已提交·完整",
    "ended": "已取消/过期",
}


def _bucket(assignment_status: str, inspection_status: str | None) -> str:
    if assignment_status in ("submitted", "closed"):
        return "complete" if inspection_status == "complete" else "awaiting_evidence"
    if assignment_status in ("cancelled", "expired"):
        return "ended"
    return assignment_status


def _teams(assignment_ids: set[int]) -> dict[int, list[str]]:
    """Display names of each assignment's team, leader first."""
    if not assignment_ids:
        return {}
    rows = db.session.execute(
        sa.select(AssignmentMember.assignment_id, User.display_name)
        .join(User, User.id == AssignmentMember.user_id)
        .where(AssignmentMember.assignment_id.in_(assignment_ids))
        .order_by(AssignmentMember.assignment_id, AssignmentMember.position))
    teams: dict[int, list[str]] = {}
    for assignment_id, name in rows:
        teams.setdefault(assignment_id, []).append(name)
    return teams


# --- today's dispatches --------------------------------------------------------------------------


def todays_dispatches(now: datetime | None = None) -> list[dict]:
    """Assignments dispatched today (China time), grouped by draw, latest draw first."""
    now = now or utcnow()
    start, end = china_days_utc(china_today(now))
    assignments = db.session.scalars(
        sa.select(Assignment).where(Assignment.dispatched_at >= start, Assignment.dispatched_at < end)
        .order_by(Assignment.draw_id.desc(), Assignment.position)).all()
    teams = _teams({a.id for a in assignments})
    draws: dict[int, dict] = {}
    for a in assignments:
        draw = draws.setdefault(a.draw_id, {"draw_id": a.draw_id, "assignments": []})
        draw["assignments"].append({"id": a.id, "position": a.position, "status": a.status,
                                    "status_label": STATUS_LABELS[a.status],
                                    "dispatched_at": as_utc(a.dispatched_at), "team": teams.get(a.id, [])})
    return list(draws.values())


# --- progress of open draws ----------------------------------------------------------------------


@dataclass
class DrawProgress:
    draw_id: int
    window_start: datetime
    window_end: datetime
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def draw_progress(limit: int = DRAW_LIMIT) -> list[DrawProgress]:
    """For each draw not yet closed (newest first): how many of its assignments are in each
    progress bucket."""
    draws = db.session.scalars(sa.select(Draw).where(Draw.status == "committed")
                               .order_by(Draw.id.desc()).limit(limit)).all()
    progress = {draw.id: DrawProgress(draw.id, as_utc(draw.window_start), as_utc(draw.window_end),
                                      dict.fromkeys(PROGRESS_BUCKETS, 0)) for draw in draws}
    if not progress:
        return []
    rows = db.session.execute(
        sa.select(Assignment.draw_id, Assignment.status, Inspection.status, sa.func.count(Assignment.id))
        # The primary record alone: a parallel record of the same visit is not a second assignment.
        .outerjoin(Inspection, sa.and_(Inspection.assignment_id == Assignment.id, Inspection.is_primary.is_(True)))
        .where(Assignment.draw_id.in_(progress))
        .group_by(Assignment.draw_id, Assignment.status, Inspection.status))
    for draw_id, assignment_status, inspection_status, count in rows:
        progress[draw_id].counts[_bucket(assignment_status, inspection_status)] += count
    return [progress[draw.id] for draw in draws]


# --- teams out of touch --------------------------------------------------------------------------


def _last_seen_by_user(user_ids: set[int]) -> dict[int, datetime]:
    """When each user's devices last reached the server: a token's last use or a pushed operation."""
    if not user_ids:
        return {}
    seen: dict[int, datetime] = {}
    for user_id, moment in db.session.execute(
            sa.select(DeviceToken.user_id, sa.func.max(DeviceToken.last_used_at))
            .where(DeviceToken.user_id.in_(user_ids)).group_by(DeviceToken.user_id)):
        if moment is not None:
            seen[user_id] = as_utc(moment)
    for user_id, moment in db.session.execute(
            sa.select(SyncOperation.user_id, sa.func.max(SyncOperation.created_at))
            .where(SyncOperation.user_id.in_(user_ids)).group_by(SyncOperation.user_id)):
        if moment is not None and (user_id not in seen or as_utc(moment) > seen[user_id]):
            seen[user_id] = as_utc(moment)
    return seen


def _last_seen_by_device(device_ids: set[str]) -> dict[str, datetime]:
    if not device_ids:
        return {}
    return {device_id: as_utc(moment) for device_id, moment in db.session.execute(
        sa.select(SyncOperation.device_id, sa.func.max(SyncOperation.created_at))
        .where(SyncOperation.device_id.in_(device_ids)).group_by(SyncOperation.device_id))}


def awaiting_evidence() -> list[dict]:
    """Submitted records still missing photos, oldest submission first, with how many arrived
    and when the recording device last pushed anything."""
    rows = db.session.execute(
        sa.select(Inspection, sa.func.count(Photo.id), sa.func.count(Photo.received_at))
        .outerjoin(Photo, Photo.inspection_id == Inspection.id)
        .where(Inspection.status == "awaiting_evidence")
        .group_by(Inspection.id)
        .order_by(Inspection.submission_received_at, Inspection.id)).all()
    inspections = [row[0] for row in rows]
    teams = _teams({i.assignment_id for i in inspections})
    draws = dict(db.session.execute(sa.select(Assignment.id, Assignment.draw_id)
                                    .where(Assignment.id.in_({i.assignment_id for i in inspections}))).all())
    seen = _last_seen_by_device({i.device_id for i in inspections})
    return [{"inspection_id": i.id, "assignment_id": i.assignment_id, "draw_id": draws.get(i.assignment_id),
             "team": teams.get(i.assignment_id, []), "photos_expected": expected, "photos_received": received,
             "submitted_at": as_utc(i.submission_received_at), "device_last_seen": seen.get(i.device_id)}
            for i, expected, received in rows]


def quiet_after() -> timedelta:
    """How long a team on a revealed or started assignment may stay silent before the office is
    told: worth a phone call, an offline device may hold a finished record."""
    return timedelta(hours=current_app.config["QUIET_TEAM_AFTER_HOURS"])


def quiet_teams(now: datetime | None = None) -> list[dict]:
    """Revealed or started assignments whose team's devices have not been heard from for
    `quiet_after()` (or never), longest silence first."""
    now = now or utcnow()
    silence = quiet_after()
    assignments = db.session.scalars(
        sa.select(Assignment).where(Assignment.status.in_(("revealed", "in_progress")))
        .options(selectinload(Assignment.members)).order_by(Assignment.id)).all()
    seen = _last_seen_by_user({m.user_id for a in assignments for m in a.members})
    teams = _teams({a.id for a in assignments})
    quiet = []
    for a in assignments:
        moments = [seen[m.user_id] for m in a.members if m.user_id in seen]
        last = max(moments) if moments else None
        if last is None or now - last > silence:
            quiet.append({"assignment_id": a.id, "draw_id": a.draw_id, "position": a.position,
                          "status": a.status, "status_label": STATUS_LABELS[a.status],
                          "team": teams.get(a.id, []), "last_seen": last,
                          "window_end": as_utc(a.window_end)})
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    return sorted(quiet, key=lambda item: item["last_seen"] or epoch)


# --- all of it -----------------------------------------------------------------------------------


def office_dashboard(user: User, now: datetime | None = None) -> dict:
    """The office's landing page. Office and admins only (they read every assignment)."""
    authorize(user, "manage", Assignment)
    now = now or utcnow()
    return {
        "today": china_today(now),
        "dispatches": todays_dispatches(now),
        "progress": draw_progress(),
        "buckets": PROGRESS_BUCKETS,
        "overdue_orders": rectification.overdue_orders(user=user),
        "awaiting_evidence": awaiting_evidence(),
        "quiet_teams": quiet_teams(now),
        "quiet_hours": current_app.config["QUIET_TEAM_AFTER_HOURS"],
    }
