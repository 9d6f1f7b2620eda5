"""What the admin reads about jobs: the list (failures first) and a retry."""

from __future__ import annotations

import sqlalchemy as sa

from ..accounts.models.user import User
from ..audit.chain import record_event
from ..errors import Conflict, NotFound
from ..extensions import db
from ..pagination import Page, paginate
from .models.job import JOB_STATES, Job
from .queue import submit

STATE_LABELS = {"queued": "排队中", "running": "生成中", "done": "已完成", "failed": "失败"}
assert set(STATE_LABELS) == set(JOB_STATES)


def list_jobs(*, state: str | None = None, page: int = 1) -> Page:
    query = sa.select(Job)
    if state:
        query = query.where(Job.state == state)
    # Failures first: they are what the admin comes for.
    query = query.order_by(sa.case((Job.state == "failed", 0), else_=1), Job.created_at.desc(), Job.id.desc())
    return paginate(query, page)


def state_counts() -> dict[str, int]:
    rows = db.session.execute(sa.select(Job.state, sa.func.count()).group_by(Job.state)).all()
    return {state: count for state, count in rows}


def visible_job(job_id: int, user: User) -> Job:
    """A job for whoever asked for it, or an administrator; to anyone else it does not exist."""
    job = db.session.get(Job, job_id)
    if job is None or (job.requested_by_id != user.id and user.role != "admin"):
        raise NotFound("后台任务不存在或不是您提交的。")
    return job


def retry(job_id: int, actor: User, *, channel: str) -> Job:
    """Queue a failed job again (the same key: the same work)."""
    job = db.session.get(Job, job_id)
    if job is None:
        raise NotFound("后台任务不存在。")
    if job.state != "failed":
        raise Conflict("只能重试失败的任务。")
    record_event("job.retried", actor=actor, channel=channel, object_type="job", object_id=job.id,
                 details={"kind": job.kind, "error": job.error})
    return submit(job.kind, dict(job.params), key=job.key, retry=True)
