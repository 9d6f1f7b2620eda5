"""The daily schedule in Beijing time: parsing, what a starting worker catches up, one run a day
whoever fires it, the daily jobs' own work, and their actor from the config."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
import sqlalchemy as sa

from server.config import ConfigError
from server.jobs.models.job import Job
from server.jobs.schedule import DailyJob, daily_key, due_today, fire, parse_daily_jobs, sweep


def test_the_setting_names_kinds_and_beijing_times():
    assert parse_daily_jobs("draws.close_due=00:05, uploads.clean=03:30:15,") == [
        DailyJob("draws.close_due", time(0, 5)), DailyJob("uploads.clean", time(3, 30, 15))]
    assert parse_daily_jobs("") == []
    with pytest.raises(ConfigError, match="时间不对"):
        parse_daily_jobs("draws.close_due=24:00")


def test_what_is_due_is_read_on_the_beijing_clock():
    jobs = parse_daily_jobs("draws.close_due=00:05,assignments.expire=00:10,rectification.schedule=06:30")
    # 16:07 UTC on 4 December is 00:07 on 5 December in Beijing: only the 00:05 job has passed.
    assert [job.kind for job in due_today(jobs, datetime(2026, 12, 4, 16, 7, tzinfo=UTC))] == ["draws.close_due"]
    # 15:59 UTC is still the 4th's 23:59 in Beijing: everything has passed that day.
    assert len(due_today(jobs, datetime(2026, 12, 4, 15, 59, tzinfo=UTC))) == 3


def test_a_daily_job_runs_once_a_day_however_often_it_is_fired(db):
    day = date(2026, 12, 5)
    first = fire("uploads.clean", day)
    second = fire("uploads.clean", day)
    assert first.id == second.id and first.key == daily_key("uploads.clean", day) == "daily:uploads.clean:2026-12-05"
    assert first.state == "done" and first.result == {"removed": 0} and first.attempts == 1
    assert fire("uploads.clean", day + timedelta(days=1)).id != first.id


def test_the_actor_comes_from_the_config(app, db, monkeypatch, make_user):
    monkeypatch.setitem(app.config, "SCHEDULED_JOBS_ACTOR", None)
    job = fire("draws.close_due", date(2026, 12, 5))
    db.session.refresh(job)
    assert job.state == "failed" and "未配置定时任务的操作人" in job.error
    office = make_user(role="office")
    monkeypatch.setitem(app.config, "SCHEDULED_JOBS_ACTOR", office.username)
    job = fire("draws.close_due", date(2026, 12, 6))
    db.session.refresh(job)
    assert job.state == "done" and job.result == {"closed": [], "cancelled": []}


def test_the_sweep_queues_again_what_a_dead_worker_left_running(db):
    job = fire("uploads.clean", date(2026, 12, 7))
    job.state, job.started_at = "running", datetime.now(UTC) - timedelta(hours=1)
    db.session.commit()
    sweep()
    db.session.expire_all()
    # Without a queue the sweep runs it itself: it is done now, on its second attempt.
    job = db.session.scalar(sa.select(Job).where(Job.id == job.id))
    assert job.state == "done" and job.attempts == 2
