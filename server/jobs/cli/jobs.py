"""`anfang job …` (list, retry, run a daily job now) and `anfang worker` (the queue and the schedule)."""

from __future__ import annotations

import signal
import sys
import threading

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from ...cli.common import committing, fail
from ...columns import local_text
from ...extensions import db
from .. import listing
from ..kinds import kind_label
from ..queue import QUEUE_NAME, queue_configured
from ..running import run_job, use_app
from ..schedule import daily_jobs, fire, start_scheduler

job_cli = AppGroup("job", help="后台任务：查看、重试、立即执行每日任务。")


@job_cli.command("list")
@click.option("--state", type=click.Choice(sorted(listing.STATE_LABELS)), help="只列出该状态的任务。")
@click.option("--page", type=int, default=1, show_default=True, help="页码。")
def list_command(state, page):
    """列出后台任务（失败的在前）。"""
    result = listing.list_jobs(state=state, page=page)
    if not result.items:
        click.echo("没有符合条件的任务。")
        return
    for job in result.items:
        day = f"（{job.params['day']}）" if job.params.get("day") else ""
        line = (f"{job.id}\t{kind_label(job.kind)}{day}\t{listing.STATE_LABELS[job.state]}\t"
                f"尝试 {job.attempts}/{job.max_attempts}\t提交 {local_text(job.created_at)}")
        click.echo(line + (f"\t{job.error}" if job.error else ""))
    click.echo(f"共 {result.total} 项，第 {result.page}/{result.pages} 页。")


@job_cli.command("retry")
@click.argument("job_id", type=int)
def retry_command(job_id):
    """将失败的任务重新排队（未配置队列时立即执行）。"""
    with committing():
        job = listing.retry(job_id, None, channel="cli")
    click.echo(f"任务 {job.id}（{kind_label(job.kind)}）：{listing.STATE_LABELS[job.state]}。")


@job_cli.command("run-daily")
@click.argument("kind")
def run_daily_command(kind):
    """立即执行今天（北京时间）的某项每日任务；今天已执行过的不再重复。"""
    if kind not in {job.kind for job in daily_jobs(current_app)}:
        names = "、".join(job.kind for job in daily_jobs(current_app))
        fail(f"没有名为“{kind}”的每日任务（可选：{names}）。")
    job = fire(kind)
    db.session.refresh(job)
    message = f"任务 {job.id}（{kind_label(job.kind)}，{job.params['day']}）：{listing.STATE_LABELS[job.state]}"
    if job.state == "failed":
        fail(f"{message}：{job.error}")
    click.echo(f"{message}。")


@click.command("worker")
@click.option("--no-schedule", is_flag=True, help="只执行队列中的任务，不发起每日任务（另有进程负责定时时使用）。")
@click.option("--burst", is_flag=True, help="执行完队列中已有的任务后退出（不发起每日任务）。")
@with_appcontext
def worker_command(no_schedule, burst):
    """后台任务进程：执行队列中的任务（Redis），并按北京时间定时发起每日任务。"""
    app = current_app._get_current_object()
    use_app(app)
    try:
        jobs = daily_jobs(app)
    except Exception as exc:  # ConfigError or an unknown kind: one line, before anything starts
        fail(str(getattr(exc, "detail", exc)))
    scheduler = None
    if not no_schedule and not burst:
        scheduler = start_scheduler(app)
        click.echo("每日任务（北京时间）：" + ("；".join(f"{kind_label(job.kind)} {job.at.strftime('%H:%M')}"
                                                       for job in jobs) or "无"))
    try:
        if queue_configured():
            _work_queue(app, burst)
        elif burst:
            _run_queued_inline()
        else:
            click.echo("未配置 REDIS_URL：页面请求的任务在请求内执行，本进程只按时执行每日任务。")
            _wait_for_signal()
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)


def _work_queue(app, burst: bool) -> None:
    from redis import Redis
    from rq import Queue, SimpleWorker

    class Worker(SimpleWorker):
        """SimpleWorker: jobs run in this process, with the application already built (a forked
        child would share the parent's database connections). Its command channel is polled
        every second instead of every minute: stopping joins that thread, and a SIGTERM from
        systemd should not wait up to 60 s for it."""

        def subscribe(self):
            self.pubsub = self.connection.pubsub()
            self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
            self.pubsub_thread = self.pubsub.run_in_thread(sleep_time=1, daemon=True,
                                                           exception_handler=self._pubsub_exception_handler)

    connection = Redis.from_url(app.config["REDIS_URL"])
    worker = Worker([Queue(QUEUE_NAME, connection=connection)], connection=connection)
    click.echo(f"正在执行队列“{QUEUE_NAME}”中的任务。")
    worker.work(with_scheduler=True, burst=burst)


def _run_queued_inline() -> None:
    from ..models.job import Job

    for job_id in db.session.scalars(db.select(Job.id).where(Job.state == "queued").order_by(Job.id)).all():
        run_job(job_id)


def _wait_for_signal() -> None:
    stop = threading.Event()
    for name in ("SIGTERM", "SIGINT"):
        signal.signal(getattr(signal, name), lambda *_: stop.set())
    while not stop.wait(3600):
        pass
    sys.exit(0)


