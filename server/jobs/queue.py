"""Asking for background work: one `Job` row per piece of work, carried by RQ when Redis is set.

With REDIS_URL set, `submit` stores the row and, once the caller's transaction has committed, puts
the row's id on the RQ queue (`anfang worker` runs it). Before the commit the worker could not see
the row, and a rolled-back request must not leave work behind. Without REDIS_URL (the embedded
default: `make demo`, SQLite) the work runs inline, in the caller's request, exactly as it would
in the worker.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..accounts.models.user import User
from ..extensions import db
from .kinds import find_kind
from .models.job import Job

log = logging.getLogger(__name__)

QUEUE_NAME = "anfang"
# Between attempts of a failed job: RQ's scheduler (run by `anfang worker`) puts it back.
RETRY_INTERVALS = [10, 60, 300]
_TO_SEND = "anfang_jobs_to_send"


def queue_configured() -> bool:
    return bool(current_app.config.get("REDIS_URL"))


def job_key(kind: str, params: dict, user: User | None = None) -> str:
    """Same kind, same inputs, same requester: the same work."""
    text = json.dumps({"params": params, "user": user.id if user else None}, sort_keys=True, default=str)
    return f"{kind}:{hashlib.sha256(text.encode()).hexdigest()[:40]}"


def submit(kind: str, params: dict, *, user: User | None = None, key: str | None = None,
           inline: bool = True, retry: bool = False) -> Job | None:
    """The job for this work: the existing one if it was asked for already, else a new one,
    queued, or run now when there is no queue (unless `inline` is False: the scheduler runs it
    itself, committing as the worker does). A failed one stays failed unless `retry` (a person
    asked for it again): a page reloading itself must not restart a failing job forever. None
    for work that is only worth doing in the background when there is no queue."""
    from .running import run_inline

    spec = find_kind(kind)
    if spec.background_only and not queue_configured():
        return None
    key = key or job_key(kind, params, user)
    job = db.session.scalar(sa.select(Job).where(Job.key == key))
    if job is not None and (job.state != "failed" or not retry):
        return job
    if job is None:
        job = Job(kind=kind, key=key, params=params, state="queued", attempts=0,
                  max_attempts=spec.max_attempts, requested_by_id=user.id if user else None)
        try:
            with db.session.begin_nested():
                db.session.add(job)
                db.session.flush()
        except IntegrityError:
            # Asked for at the same moment by another request (or another scheduler): theirs stands.
            return db.session.scalar(sa.select(Job).where(Job.key == key))
    else:
        job.state, job.attempts, job.error, job.result = "queued", 0, None, None
        job.started_at = job.finished_at = None
        db.session.flush()
    if queue_configured():
        db.session.info.setdefault(_TO_SEND, []).append((job.id, kind))
    elif inline:
        run_inline(job)
    return job


def rq_queue():
    """The queue on this application's Redis client, made once (its connection pool is reused)."""
    from redis import Redis
    from rq import Queue

    clients = current_app.extensions.setdefault("anfang_job_redis", {})
    url = current_app.config["REDIS_URL"]
    if url not in clients:
        clients[url] = Redis.from_url(url)
    return Queue(QUEUE_NAME, connection=clients[url])


@event.listens_for(Session, "after_commit")
def _send_after_commit(session) -> None:
    waiting = session.info.pop(_TO_SEND, None)
    if not waiting:
        return
    try:
        send(waiting)
    except Exception:  # Redis unreachable: the rows stay queued, and `anfang worker` sends them again
        log.exception("could not put jobs %s on the queue; the worker's sweep will send them", waiting)


@event.listens_for(Session, "after_transaction_end")
def _forget_unsent(session, transaction) -> None:
    """A transaction that ended without committing (rolled back) asked for nothing."""
    if transaction.parent is None:
        session.info.pop(_TO_SEND, None)


def send(waiting: list[tuple[int, str]]) -> None:
    """Put these jobs (id, kind) on the RQ queue; their rows are committed already."""
    from rq import Retry

    queue = rq_queue()
    for job_id, kind in waiting:
        spec = find_kind(kind)
        retries = spec.max_attempts - 1
        queue.enqueue("server.jobs.running.perform", job_id, job_timeout=spec.timeout_seconds,
                      retry=Retry(max=retries, interval=RETRY_INTERVALS) if retries else None,
                      description=f"anfang job {job_id} {kind}")
