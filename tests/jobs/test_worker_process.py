"""`anfang worker` as a real process: the daily jobs fire by themselves at their Beijing times (and
one whose time today has passed is caught up at start), work asked for by a page reaches it through
Redis, and it stops cleanly on SIGTERM. On PostgreSQL with Redis (production), and on SQLite with
no queue (the embedded default), where the same daily jobs run in the worker itself."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from serve_soak import SECRET, environment, fresh_database, require_services

from server import create_app
from server.extensions import db
from server.jobs.queue import submit

ANFANG = Path(sys.executable).parent / "anfang"
BEIJING = ZoneInfo("Asia/Shanghai")
JOBS_REDIS = "redis://127.0.0.1:6379/8"


def _prepare(database_url: str, evidence: Path) -> None:
    """Migrate, load the reference data and make the office user the daily jobs act as."""
    from flask_migrate import upgrade

    from server.accounts.auth import create_user
    from server.registry.loader import load_reference

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, EVIDENCE_DIR=str(evidence))
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
        load_reference()
        create_user("dutyoffice", "office", "worker-test-password-1", display_name="值班员")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def _jobs(engine) -> dict[str, dict]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT kind, key, state, started_at, error FROM background_job")).all()
    return {row.kind: row._asdict() for row in rows}


def _wait_for(predicate, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    return predicate()


def _start(settings: dict, log: Path) -> subprocess.Popen:
    with log.open("w") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen([str(ANFANG), "worker"], env=environment(PYTHONFAULTHANDLER=1, **settings),
                                stdout=output,
                                stderr=subprocess.STDOUT, text=True)


def _stop(process: subprocess.Popen, log: Path) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)  # faulthandler writes every thread's stack to the log
        process.wait(timeout=10)
        pytest.fail("anfang worker did not stop on SIGTERM:\n" + log.read_text()[-6000:])
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return log.read_text()


def _schedule(now_beijing: datetime) -> tuple[str, datetime]:
    """jobs.clean at 00:00 (always passed today: caught up at start) and uploads.clean a few
    seconds ahead, both in Beijing time."""
    if now_beijing.time() > datetime.strptime("23:59:40", "%H:%M:%S").time():
        time.sleep(25)  # not across midnight: "today" must stay one day during the test
        now_beijing = datetime.now(BEIJING)
    ahead = now_beijing + timedelta(seconds=8)
    return f"jobs.clean=00:00,uploads.clean={ahead.strftime('%H:%M:%S')}", ahead


def _check_daily_runs(engine, ahead: datetime, today: date) -> None:
    caught_up = _wait_for(lambda: _jobs(engine).get("jobs.clean", {}).get("state") == "done", 30)
    assert caught_up, _jobs(engine)
    assert "uploads.clean" not in _jobs(engine) or datetime.now(BEIJING) >= ahead
    done = _wait_for(lambda: _jobs(engine).get("uploads.clean", {}).get("state") == "done", 40)
    assert done, _jobs(engine)
    job = _jobs(engine)["uploads.clean"]
    started = job["started_at"]
    started = datetime.fromisoformat(started) if isinstance(started, str) else started  # SQLite: text
    started = started if started.tzinfo else started.replace(tzinfo=UTC)
    # It ran at its time, not before (the trigger's own second, give or take the sweep's clock).
    assert started >= ahead.astimezone(UTC) - timedelta(seconds=1)
    assert job["key"] == f"daily:uploads.clean:{today.isoformat()}"


def test_worker_on_postgresql_with_redis_runs_the_schedule_and_the_queue(tmp_path):
    require_services()
    import redis

    client = redis.Redis.from_url(JOBS_REDIS)
    client.flushdb()
    client.close()
    evidence = tmp_path / "evidence"
    with fresh_database("anfang_worker") as database_url:
        _prepare(database_url, evidence)
        engine = sa.create_engine(database_url)
        now = datetime.now(BEIJING)
        daily, ahead = _schedule(now)
        log = tmp_path / "worker.log"
        process = _start({"ANFANG_CONFIG": "production", "SECRET_KEY": SECRET, "DATABASE_URL": database_url,
                          "EVIDENCE_DIR": evidence, "REDIS_URL": JOBS_REDIS, "DAILY_JOBS": daily,
                          "SCHEDULED_JOBS_ACTOR": "dutyoffice", "LOG_FORMAT": "text"}, log)
        try:
            _check_daily_runs(engine, ahead, ahead.date())
            # A page's work, asked for through the queue, done by the worker.
            app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, EVIDENCE_DIR=str(evidence),
                             REDIS_URL=JOBS_REDIS)
            with app.app_context():
                from server.accounts.models.user import User

                office = db.session.scalar(sa.select(User).where(User.username == "dutyoffice"))
                job = submit("accountability.draft", {"date_from": "2026-11-01", "date_to": "2026-11-30",
                                                      "county_id": None}, user=office)
                job_id = job.id
                db.session.commit()
                db.session.remove()
                db.engine.dispose()
            state = _wait_for(lambda: _jobs(engine).get("accountability.draft", {}).get("state") == "done", 90)
            assert state, (_jobs(engine), log.read_text()[-3000:])
            with engine.connect() as connection:
                result = connection.execute(sa.text("SELECT result FROM background_job WHERE id = :id"),
                                            {"id": job_id}).scalar()
            assert (evidence / (result if isinstance(result, dict) else __import__("json").loads(result))["path"]
                    ).read_bytes().startswith(b"%PDF")
        finally:
            output = _stop(process, log)
            engine.dispose()
        assert process.returncode == 0, output[-3000:]
        assert "Traceback" not in output, output[-3000:]


def test_worker_without_a_queue_runs_the_daily_jobs_itself(tmp_path):
    evidence = tmp_path / "evidence"
    database_url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    _prepare(database_url, evidence)
    engine = sa.create_engine(database_url)
    daily, ahead = _schedule(datetime.now(BEIJING))
    log = tmp_path / "worker.log"
    process = _start({"ANFANG_CONFIG": "development", "DATABASE_URL": database_url, "EVIDENCE_DIR": evidence,
                      "DAILY_JOBS": daily, "SCHEDULED_JOBS_ACTOR": "dutyoffice"}, log)
    try:
        _check_daily_runs(engine, ahead, ahead.date())
    finally:
        output = _stop(process, log)
        engine.dispose()
    assert process.returncode == 0, output[-3000:]
    assert "未配置 REDIS_URL" in output and "每日任务（北京时间）" in output, output


@pytest.mark.parametrize("setting, words", [
    ("uploads.clean=25:00", "时间不对"),
    ("no.such.job=03:00", "没有名为“no.such.job”的后台任务类型"),
])
def test_worker_refuses_a_bad_schedule_in_one_line(tmp_path, setting, words):
    done = subprocess.run([str(ANFANG), "worker"], env=environment(
        ANFANG_CONFIG="development", DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite3'}", EVIDENCE_DIR=tmp_path,
        DAILY_JOBS=setting), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("错误：") and words in lines[0], done.stderr
