"""GET /healthz: is this server able to do its work? For load balancers and monitoring.

Checks the database (SELECT 1), Redis when one is configured (a PING), the evidence store's free
space, and the job queue once one registers its check. Each check says ok / fail / not configured,
with a Chinese sentence for people and its time in milliseconds; the answer is 200 when nothing
failed and 503 otherwise. Kept cheap: one query, one PING, one statfs call; network probes
give up after HEALTH_CHECK_TIMEOUT_SECONDS. No login, no rate limit, no audit: the load balancer
asks every few seconds. Details never name an address, a password or an exception's text (those
go to the log).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from ..extensions import db

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)

OK, FAIL, NOT_CONFIGURED = "ok", "fail", "not_configured"


@dataclass(frozen=True)
class CheckResult:
    status: str  # OK, FAIL or NOT_CONFIGURED (the last does not fail the whole answer)
    detail: str  # Chinese, for the person reading the answer


HealthCheck = Callable[[], CheckResult]


def register_health_check(app, name: str, check: HealthCheck) -> None:
    """Add (or replace) a named check; a job queue registers "queue" this way when it is set up."""
    app.extensions.setdefault("anfang_health_checks", {})[name] = check


def register_default_checks(app) -> None:
    register_health_check(app, "database", check_database)
    register_health_check(app, "redis", check_redis)
    register_health_check(app, "evidence_store", check_evidence_store)
    register_health_check(app, "queue", lambda: CheckResult(NOT_CONFIGURED, "未配置任务队列。"))


def check_database() -> CheckResult:
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach or query the database
        db.session.rollback()
        log.warning("health check: database unreachable (%s)", type(exc).__name__)
        return CheckResult(FAIL, "数据库无法连接或查询失败。")
    return CheckResult(OK, "数据库连接正常。")


def configured_redis_url() -> str | None:
    """REDIS_URL when set (the job queue's), else the rate-limit store when that is Redis."""
    for url in (current_app.config.get("REDIS_URL"), current_app.config.get("RATELIMIT_STORAGE_URI")):
        if url and urlsplit(url).scheme in ("redis", "rediss"):
            return url
    return None


def redis_ping(url: str, timeout: float) -> None:
    """PING the Redis at `url` on a connection of its own; raises if it does not answer in time."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()


def check_redis() -> CheckResult:
    url = configured_redis_url()
    if url is None:
        return CheckResult(NOT_CONFIGURED, "未配置 Redis（限流使用进程内存）。")
    try:
        redis_ping(url, current_app.config["HEALTH_CHECK_TIMEOUT_SECONDS"])
    except Exception as exc:  # refused, timed out, wrong password: all mean no Redis for us
        log.warning("health check: Redis unreachable (%s)", type(exc).__name__)
        return CheckResult(FAIL, "Redis 无法连接或未应答。")
    return CheckResult(OK, "Redis 连接正常。")


def _gib(count: int) -> str:
    return f"{count / 1024 ** 3:.1f} GiB"


def check_evidence_store() -> CheckResult:
    directory = Path(current_app.config["EVIDENCE_DIR"])
    # A fresh install has not made the directory yet: its files will land on the nearest parent's disk.
    existing = next((path for path in (directory, *directory.parents) if path.exists()), None)
    if existing is None:
        return CheckResult(FAIL, "证据存储目录不存在。")
    free = shutil.disk_usage(existing).free
    minimum = current_app.config["HEALTH_MIN_FREE_BYTES"]
    if not os.access(existing, os.W_OK):
        return CheckResult(FAIL, "证据存储目录不可写入。")
    if free < minimum:
        return CheckResult(FAIL, f"证据存储剩余空间不足：剩余 {_gib(free)}，低于下限 {_gib(minimum)}。")
    return CheckResult(OK, f"证据存储剩余空间 {_gib(free)}（下限 {_gib(minimum)}）。")


def run_checks(app) -> tuple[bool, dict]:
    results = {}
    healthy = True
    for name, check in app.extensions.get("anfang_health_checks", {}).items():
        started = time.perf_counter()
        try:
            result = check()
        except Exception as exc:  # a check that breaks is a failed check, not a 500
            log.warning("health check %s raised %s", name, type(exc).__name__)
            result = CheckResult(FAIL, "检查本身出错，详见服务器日志。")
        healthy = healthy and result.status != FAIL
        results[name] = {"status": result.status, "detail": result.detail,
                         "duration_ms": round((time.perf_counter() - started) * 1000, 1)}
    return healthy, results


@bp.get("/healthz")
def healthz():
    """The server's health: 200 when every configured check passes, else 503."""
    healthy, checks = run_checks(current_app)
    response = jsonify(status="ok" if healthy else "fail", detail="服务正常。" if healthy else "服务异常，见各项检查。",
                       checks=checks)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
