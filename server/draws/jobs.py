"""The draws' daily jobs: close the draws whose window has ended, expire unstarted assignments."""

from __future__ import annotations

from ..accounts.models.user import User
from ..jobs.actor import scheduled_actor
from ..jobs.kinds import job_kind
from .assignments import expire_overdue
from .closing import close_due_draws


@job_kind("draws.close_due", "关闭到期抽查并公开种子")
def close_due(params: dict, user: User | None) -> dict:
    draws = close_due_draws(scheduled_actor(), channel="system")
    return {"closed": [d.id for d in draws if d.status != "cancelled"],
            "cancelled": [d.id for d in draws if d.status == "cancelled"]}


@job_kind("assignments.expire", "将过期未开始的督查任务标为过期")
def expire(params: dict, user: User | None) -> dict:
    return {"expired": [assignment.id for assignment in expire_overdue(channel="system")]}
