"""Draft PDFs as jobs: inline without a queue (the file at once, as before), and with a queue on
Redis: "生成中…" (202, reloading itself), the worker's run, then the file; the same records give
the same job, a change gives a new one; a failure is shown with a way to try again."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from job_queue import queued  # noqa: F401  (fixture)
from stats_world import DAY1, DAY3, build_counts, stats_world  # noqa: F401  (fixture)
from web_session import csrf, login

from server.audit.chain import record_event
from server.jobs.models.job import Job
from server.jobs.running import run_job

PERIOD = {"date_from": DAY1.isoformat(), "date_to": DAY3.isoformat()}


@pytest.fixture
def world(db, stats_world):  # noqa: F811
    build_counts(stats_world)
    return stats_world


def _drafts(db) -> list[Job]:
    return list(db.session.scalars(sa.select(Job).where(Job.kind == "accountability.draft").order_by(Job.id)))


def test_without_a_queue_the_draft_is_rendered_in_the_request_and_kept(db, client, world):
    login(client, world.users["office"])
    first = client.get("/accountability/report.pdf", query_string=PERIOD)
    assert first.status_code == 200 and first.data.startswith(b"%PDF"), first.get_data(as_text=True)[:500]
    [job] = _drafts(db)
    assert job.state == "done" and job.attempts == 1 and job.requested_by_id == world.users["office"].id
    assert job.result["sha256"] and job.result["path"].startswith("generated/")
    # Counted for monitoring.
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'anfang_jobs_total{job="accountability.draft",outcome="done"}' in metrics
    # Nothing changed: the same job, its file sent again without rendering.
    again = client.get("/accountability/report.pdf", query_string=PERIOD)
    assert again.data == first.data and len(_drafts(db)) == 1
    # Any recorded change (an audit event) makes a new draft; another reader gets their own.
    record_event("test.changed", actor=world.users["office"], channel="system")
    db.session.commit()
    client.get("/accountability/report.pdf", query_string=PERIOD)
    assert len(_drafts(db)) == 2
    login(client, world.users["auditor"])
    assert client.get("/accountability/report.pdf", query_string=PERIOD).status_code == 200
    assert len(_drafts(db)) == 3


def test_with_a_queue_the_page_waits_then_opens_the_file(db, client, world, queued):  # noqa: F811
    login(client, world.users["office"])
    asked = client.get("/accountability/report.pdf", query_string=PERIOD)
    [job] = _drafts(db)
    assert asked.status_code == 303 and asked.headers["Location"] == f"/jobs/{job.id}"
    waiting = client.get(f"/jobs/{job.id}")
    page = waiting.get_data(as_text=True)
    assert waiting.status_code == 202 and "生成中…" in page and "生成倒查责任报告样稿" in page
    assert '<meta http-equiv="refresh" content="2">' in page and waiting.headers["Cache-Control"] == "no-store"
    assert job.state == "queued" and job.attempts == 0
    # The id went to Redis once the request committed, and nothing else did.
    assert queued.count == 1 and queued.jobs[0].args == (job.id,)
    # The page follows its job: reloading it while the records change (another audit event)
    # asks for nothing new.
    record_event("test.changed", actor=world.users["office"], channel="system")
    db.session.commit()
    assert client.get(f"/jobs/{job.id}").status_code == 202
    assert len(_drafts(db)) == 1 and queued.count == 1
    # Nobody else sees it.
    other = client.application.test_client()
    login(other, world.users["auditor"])
    assert other.get(f"/jobs/{job.id}").status_code == 404
    assert run_job(job.id) is True
    db.session.expire_all()
    assert db.session.get(Job, job.id).state == "done"
    ready = client.get(f"/jobs/{job.id}")
    assert ready.status_code == 200 and ready.data.startswith(b"%PDF")
    # A second message for the same job (a retry after a lost answer) runs nothing again.
    assert run_job(job.id) is True
    assert db.session.get(Job, job.id).attempts == 1


def test_a_rolled_back_request_sends_nothing(db, app, world, queued):  # noqa: F811
    from server.jobs.queue import submit

    with app.test_request_context():
        submit("accountability.draft", {"date_from": DAY1.isoformat(), "date_to": DAY3.isoformat(), "county_id": None},
               user=world.users["office"])
        db.session.rollback()
    assert queued.count == 0


def test_a_failed_draft_says_why_and_can_be_tried_again(app, db, client, world, queued, monkeypatch):  # noqa: F811
    from server.jobs import kinds

    admin = app.test_client()
    login(admin, world.users["admin"])  # before: a login is an audit event, and records a new state
    login(client, world.users["office"])
    client.get("/accountability/report.pdf", query_string=PERIOD)
    [job] = _drafts(db)
    original = kinds.KINDS["accountability.draft"]
    broken = kinds.JobKind(original.name, original.label, lambda params, user: 1 / 0)
    monkeypatch.setitem(kinds.KINDS, "accountability.draft", broken)
    assert run_job(job.id) is False  # the first attempt failed, the second is due
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert (job.state, job.attempts, job.error) == ("queued", 1, "任务执行出错，详见服务器日志。")
    assert run_job(job.id) is False
    assert run_job(job.id) is True  # the third and last attempt: failed for good
    db.session.expire_all()
    job = db.session.get(Job, job.id)
    assert (job.state, job.attempts) == ("failed", 3)
    # The admin's page lists it first, with the reason and a confirmed retry.
    admin_page = admin.get("/admin/jobs").get_data(as_text=True)
    assert "生成倒查责任报告样稿" in admin_page and "失败" in admin_page and "3 / 3" in admin_page
    assert "任务执行出错，详见服务器日志。" in admin_page and f"/admin/jobs/{job.id}/retry" in admin_page
    # The reader sees the reason and no reload: reloading must not restart a failing job forever.
    failed = client.get(f"/jobs/{job.id}")
    page = failed.get_data(as_text=True)
    assert failed.status_code == 200 and "生成倒查责任报告样稿失败：任务执行出错，详见服务器日志。" in page
    assert 'http-equiv="refresh"' not in page and "重新生成" in page
    assert client.get("/accountability/report.pdf", query_string=PERIOD).status_code == 303
    db.session.expire_all()
    assert db.session.get(Job, job.id).state == "failed" and queued.count == 1  # nothing sent again
    # 重新生成 (a form with its CSRF token) queues it again.
    refused = client.post(f"/jobs/{job.id}/again")
    assert refused.status_code == 400
    again = client.post(f"/jobs/{job.id}/again", data={"csrf_token": csrf(client, f"/jobs/{job.id}")})
    assert again.status_code == 303 and again.headers["Location"] == f"/jobs/{job.id}" and queued.count == 2
    db.session.expire_all()
    assert db.session.get(Job, job.id).state == "queued"
    monkeypatch.setitem(kinds.KINDS, "accountability.draft", original)
    assert run_job(job.id) is True
    assert client.get(f"/jobs/{job.id}").data.startswith(b"%PDF")
