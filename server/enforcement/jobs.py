"""The daily re-inspection job: draw a team for every rectification order whose deadline passed."""

from __future__ import annotations

from datetime import date

from ..accounts.models.user import User
from ..jobs.actor import scheduled_actor
from ..jobs.kinds import job_kind
from .reinspection import schedule_reinspections


@job_kind("rectification.schedule", "为整改期满的整改通知安排复查")
def schedule(params: dict, user: User | None) -> dict:
    report = schedule_reinspections(date.fromisoformat(params["day"]), actor=scheduled_actor(), channel="system")
    return {"scheduled": [{"order": order.id, "draw": draw.id} for order, draw in report.scheduled],
            "failed": [{"order": order.id, "reason": reason} for order, reason in report.failed]}
