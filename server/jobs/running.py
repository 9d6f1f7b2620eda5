"""Running one job: in the worker (`perform`, its own transactions) or inline in a request.

A `Problem` from the work (something gone, input no longer valid) fails the job at once with its
Chinese text; any other exception fails this attempt, and the job is queued for the next one
until `max_attempts` are spent (RQ's retry, run by `anfang worker`, brings it back). The row is
marked running and committed first, so the admin sees what is under way, and a job found `done`
is not run again: a duplicate message on the queue does nothing.
"""

from __future__ import annotations

import logging
import time

from flask import Flask

from ..columns import utcnow
from ..errors import Problem
from ..extensions import db
from ..observability import metrics
from .kinds import find_kind
from .models.job import Job

log = logging.getLogger(__name__)

# The worker process's application, built once at its start (`anfang worker`).
_worker_app: Flask | None = None


def use_app(app: Flask) -> None:
    global _worker_app
    _worker_app = app


def perform(job_id: int) -> None:
    """RQ's entry point: run job `job_id` in the worker's application."""
    app = _worker_app
    if app is None:
        from .. import create_app

        app = create_app()
        use_app(app)
    with app.app_context():
        try:
            if not run_job(job_id):
                # Raised for RQ, which schedules the next attempt; the row says the same already.
                raise JobAttemptFailed(job_id)
        finally:
            db.session.remove()


class JobAttemptFailed(RuntimeError):
    """This attempt failed and another is due (the row holds the reason)."""


def run_job(job_id: int) -> bool:
    """Run the job once, committing as it goes. False when it failed and another attempt is due."""
    job = db.session.get(Job, job_id, with_for_update=True)
    if job is None or job.state != "queued":
        # Done, failed for good, or running in another worker (a message sent twice).
        db.session.rollback()
        return True
    job.state, job.started_at, job.finished_at = "running", utcnow(), None
    job.attempts += 1
    db.session.commit()
    spec = find_kind(job.kind)
    started = time.perf_counter()
    try:
        result = spec.run(dict(job.params), job.requested_by)
        job = db.session.get(Job, job_id)
        job.state, job.result, job.error, job.finished_at = "done", result, None, utcnow()
        db.session.commit()
    except Exception as exc:  # recorded on the row for the admin; the traceback goes to the log
        db.session.rollback()
        final = isinstance(exc, Problem)
        if not final:
            log.exception("job %s (%s) attempt failed", job_id, spec.name)
        job = db.session.get(Job, job_id)
        job.error = failure_text(exc)
        job.state = "failed" if final or job.attempts >= job.max_attempts else "queued"
        job.finished_at = utcnow()
        db.session.commit()
        metrics.job_finished(spec.name, "failed", time.perf_counter() - started)
        return job.state == "failed"
    metrics.job_finished(spec.name, "done", time.perf_counter() - started)
    return True


def run_inline(job: Job) -> None:
    """Run the job now, inside the caller's transaction (no queue configured). What the work
    raises propagates as it would have without a job, and the caller's answer rolls it back."""
    spec = find_kind(job.kind)
    job.state, job.started_at = "running", utcnow()
    job.attempts += 1
    started = time.perf_counter()
    try:
        with db.session.begin_nested():
            result = spec.run(dict(job.params), job.requested_by)
    except Exception:
        metrics.job_finished(spec.name, "failed", time.perf_counter() - started)
        raise
    job.state, job.result, job.error, job.finished_at = "done", result, None, utcnow()
    db.session.flush()
    metrics.job_finished(spec.name, "done", time.perf_counter() - started)


def failure_text(exc: Exception) -> str:
    """What the admin reads: a Problem's own Chinese text, otherwise the kind of failure."""
    if isinstance(exc, Problem):
        return exc.detail
    if isinstance(exc, TimeoutError) or type(exc).__name__ == "JobTimeoutException":
        return "任务超时未完成。"
    return "任务执行出错，详见服务器日志。"
