"""The "queue" check of /healthz: is there a worker to run what the pages ask for?"""

from __future__ import annotations

import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from ..columns import utcnow
from ..extensions import db
from ..observability.health import FAIL, NOT_CONFIGURED, OK, CheckResult
from .models.job import Job
from .queue import QUEUE_NAME, queue_configured

log = logging.getLogger(__name__)


def recent_failures() -> str:
    """A sentence on the last day's failed jobs; empty when the database cannot say (its own
    check reports that)."""
    try:
        failed = db.session.scalar(sa.select(sa.func.count()).select_from(Job).where(
            Job.state == "failed", Job.finished_at >= utcnow() - timedelta(days=1))) or 0
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return ""
    return f"近 24 小时失败任务 {failed} 项。" if failed else "近 24 小时没有失败的任务。"


def check_queue() -> CheckResult:
    failures = recent_failures()
    if not queue_configured():
        return CheckResult(NOT_CONFIGURED, f"未配置任务队列，任务在请求内执行。{failures}")
    from redis import Redis
    from rq import Queue, Worker

    timeout = current_app.config["HEALTH_CHECK_TIMEOUT_SECONDS"]
    connection = Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=timeout,
                                socket_connect_timeout=timeout)
    try:
        queue = Queue(QUEUE_NAME, connection=connection)
        workers, waiting = Worker.count(queue=queue), queue.count
    except Exception as exc:  # Redis down or refusing: the queue cannot take work
        log.warning("health check: job queue unreachable (%s)", type(exc).__name__)
        return CheckResult(FAIL, "任务队列无法连接。")
    finally:
        connection.close()
    if workers == 0:
        return CheckResult(FAIL, f"没有正在运行的后台任务进程（anfang worker），排队任务 {waiting} 项。{failures}")
    return CheckResult(OK, f"后台任务进程 {workers} 个，排队任务 {waiting} 项。{failures}")
