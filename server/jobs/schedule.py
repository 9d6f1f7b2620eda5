"""The daily jobs: each at its Beijing time, from the config (DAILY_JOBS, "kind=HH:MM,…").

`anfang worker` runs APScheduler with one cron trigger per job in Asia/Shanghai. A firing asks
for the job keyed by its kind and Beijing day, so several workers, or a restart that catches up
a time already passed today, still give one run a day. Every minute the worker also sweeps: a
job left `running` by a worker that died is queued again, and a queued job whose message was lost
(Redis was down when it was asked for) is sent again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Flask

from ..columns import as_utc, china_today, utcnow
from ..config import ConfigError
from ..extensions import db
from .kinds import KINDS, find_kind
from .models.job import Job
from .queue import queue_configured, send, submit
from .running import run_job

log = logging.getLogger(__name__)

BEIJING = ZoneInfo("Asia/Shanghai")
SWEEP_SECONDS = 60
# A queued job older than this is sent again (a second message is harmless: see running.run_job).
RESEND_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class DailyJob:
    kind: str
    at: time  # Beijing time


def parse_daily_jobs(setting: str) -> list[DailyJob]:
    """"draws.close_due=00:05,uploads.clean=03:30" → the jobs; a bad entry is a ConfigError."""
    jobs = []
    for entry in filter(None, (part.strip() for part in (setting or "").split(","))):
        kind, _, when = entry.partition("=")
        try:
            at = time.fromisoformat(when.strip())
        except ValueError:
            raise ConfigError(f"DAILY_JOBS 中“{entry}”的时间不对，应如 draws.close_due=00:05（北京时间）。") from None
        jobs.append(DailyJob(kind.strip(), at))
    return jobs


def daily_jobs(app: Flask) -> list[DailyJob]:
    jobs = parse_daily_jobs(app.config.get("DAILY_JOBS", ""))
    for job in jobs:
        find_kind(job.kind)  # an unknown kind is refused when the worker starts, not at 03:30
    return jobs


def daily_key(kind: str, day: date) -> str:
    return f"daily:{kind}:{day.isoformat()}"


def fire(kind: str, day: date | None = None) -> Job:
    """Ask for today's (Beijing) run of a daily job and, without a queue, run it here."""
    day = day or china_today()
    job = submit(kind, {"day": day.isoformat()}, key=daily_key(kind, day), inline=False)
    db.session.commit()
    if not queue_configured() and job.state == "queued":
        run_job(job.id)
    return job


def due_today(jobs: list[DailyJob], now: datetime | None = None) -> list[DailyJob]:
    """The daily jobs whose time today (Beijing) has passed: what a starting worker catches up."""
    local = as_utc(now or utcnow()).astimezone(BEIJING)
    return [job for job in jobs if job.at <= local.time()]


def sweep(now: datetime | None = None) -> None:
    """Queue again what a dead worker left running; send again what a lost message left queued."""
    now = now or utcnow()
    revived = []
    for job in db.session.scalars(sa.select(Job).where(Job.state == "running")).all():
        spec = KINDS.get(job.kind)
        limit = timedelta(seconds=spec.timeout_seconds * 2) if spec else RESEND_AFTER
        if job.started_at is None or as_utc(job.started_at) >= now - limit:
            continue
        log.warning("job %s was left running since %s", job.id, job.started_at)
        if job.attempts < job.max_attempts:
            job.state, job.error = "queued", "执行该任务的进程中断，已重新排队。"
            revived.append(job)
        else:
            job.state, job.error = "failed", "执行该任务的进程中断。"
    stale = db.session.scalars(sa.select(Job).where(Job.state == "queued", Job.created_at < now - RESEND_AFTER)).all()
    waiting = [(job.id, job.kind) for job in {job.id: job for job in [*revived, *stale]}.values()]
    db.session.commit()
    if not waiting:
        return
    if queue_configured():
        send(waiting)
    else:
        for job_id, _kind in waiting:
            run_job(job_id)


def start_scheduler(app: Flask, *, catch_up: bool = True):
    """A background scheduler firing the daily jobs at their Beijing times, and the sweep. With
    `catch_up`, the jobs whose time today has passed run now (once a day, see `fire`)."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    jobs = daily_jobs(app)

    def in_app(function, *args):
        def run():
            with app.app_context():
                try:
                    function(*args)
                except Exception:  # logged; the scheduler must go on with tomorrow's runs
                    db.session.rollback()
                    log.exception("scheduled %s failed", getattr(function, "__name__", function))
                finally:
                    db.session.remove()
        return run

    scheduler = BackgroundScheduler(timezone=BEIJING)
    for job in jobs:
        trigger = CronTrigger(hour=job.at.hour, minute=job.at.minute, second=job.at.second, timezone=BEIJING)
        # coalesce + a day's grace: a worker that was down at the time runs the job once on return.
        scheduler.add_job(in_app(fire, job.kind), trigger, id=f"daily:{job.kind}", coalesce=True,
                          misfire_grace_time=24 * 3600, max_instances=1)
    scheduler.add_job(in_app(sweep), "interval", seconds=SWEEP_SECONDS, id="sweep", coalesce=True, max_instances=1)
    if catch_up:
        for job in due_today(jobs):
            in_app(fire, job.kind)()
    scheduler.start()
    log.info("scheduler started: %s", ", ".join(f"{job.kind} {job.at.isoformat()}" for job in jobs) or "no daily jobs")
    return scheduler
