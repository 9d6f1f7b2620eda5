"""`anfang serve`: the production server — gunicorn with threaded workers and the production config.

Every worker process builds its own application (and database pool) after the fork; what they
share lives outside them: PostgreSQL (the audit chain's head and the document counters are row
locks), Redis (rate-limit counters), the evidence directory (a tus upload's offset is its file's
size, its writers queue on an flock of that file) and signed session cookies (SECRET_KEY).
Before any worker starts, the configuration is checked once here, so a refusal is one line and a
non-zero exit rather than workers failing one after another.
"""

from __future__ import annotations

import os
import sys

import click

# Worker processes when --workers is not given: gunicorn's rule of thumb (2 × cores + 1), capped so
# that a large machine does not open more database connections than PostgreSQL allows by default
# (100): each worker keeps up to its threads' worth.
MAX_DEFAULT_WORKERS = 8
DEFAULT_THREADS = 4
DEFAULT_BIND = "127.0.0.1:8000"
# gthread workers report alive from their main loop, so a long request does not trip this; it
# bounds a worker that hangs as a whole. A slow rural link sending an 8 MiB tus chunk takes
# minutes: nginx's timeouts in front (README, Production) bound a stalled client, not this.
WORKER_TIMEOUT_SECONDS = 120
# On a restart a worker finishes the chunks it is receiving before it goes.
GRACEFUL_TIMEOUT_SECONDS = 60
KEEPALIVE_SECONDS = 5


def default_workers() -> int:
    return min(2 * (os.cpu_count() or 1) + 1, MAX_DEFAULT_WORKERS)


def gunicorn_options(bind: str, workers: int, threads: int) -> dict:
    return {
        "bind": bind,
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": WORKER_TIMEOUT_SECONDS,
        "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
        "keepalive": KEEPALIVE_SECONDS,
        # Each worker imports and builds the app itself: no database connection crosses a fork.
        "preload_app": False,
        # The scheme comes from ProxyFix with PROXY_HOPS (server/__init__.py), one rule for all
        # X-Forwarded-* headers; gunicorn's own X-Forwarded-Proto handling would be a second one.
        "secure_scheme_headers": {},
        # No gunicorn access log: its request line carries the query string (a token may be in it);
        # anfang.access logs each request without query values, with its request id.
        "accesslog": None,
        "errorlog": "-",
        "proc_name": "anfang",
        # gunicorn 24+ opens a control socket under ~/.gunicorn by default: two servers on one
        # host would share its path, and nothing here uses it.
        "control_socket_disable": True,
    }


def _application(options: dict, overrides: dict, master_app):
    from gunicorn.app.base import BaseApplication

    def child_exit(_arbiter, worker):
        # A worker's metrics files (PROMETHEUS_MULTIPROC_DIR) stop counting as live once it exits.
        from ..observability.metrics import mark_worker_dead

        with master_app.app_context():
            mark_worker_dead(worker.pid)

    options = {**options, "child_exit": child_exit}

    class AnfangServer(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                if key in self.cfg.settings:  # a setting older gunicorn releases lack is left out
                    self.cfg.set(key, value)

        def load(self):
            from .. import create_app

            return create_app("production", **overrides)

    return AnfangServer()


def _fresh_metrics_directory() -> None:
    """With PROMETHEUS_MULTIPROC_DIR set, every worker writes its metrics there (set before any
    process imports prometheus_client, hence from the environment): the directory must exist and
    hold nothing of an earlier run, whose counters would otherwise be added to this one's."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        if name.endswith(".db"):
            os.remove(os.path.join(directory, name))


def _checked_workers(workers: int) -> int:
    """The worker count the configuration allows: a production SQLite file, when allowed at all,
    is written by one process."""
    from ..config import ProductionConfig

    uri = ProductionConfig.SQLALCHEMY_DATABASE_URI or ""
    if uri.startswith("sqlite") and ProductionConfig.ALLOW_SQLITE_SINGLE_PROCESS and workers > 1:
        click.echo("提示：SQLite 单进程部署，服务以 1 个进程运行。")
        return 1
    return workers


def _check_configuration(workers: int):
    """Build the application once with the workers' settings: a refusal ends here, in one line.
    The master keeps it for its own hooks; it serves no request."""
    from .. import create_app
    from ..config import ConfigError
    from ..extensions import db

    try:
        app = create_app("production", SERVER_PROCESSES=workers)
    except ConfigError as exc:
        click.echo(f"错误：{exc}", err=True)
        sys.exit(1)
    with app.app_context():
        db.engine.dispose()  # the workers open their own connections after the fork
    return app


@click.command("serve")
@click.option("--bind", default=DEFAULT_BIND, show_default=True,
              help="监听地址（主机:端口，或 unix:路径）；置于 nginx 等反向代理之后时监听本机地址")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help=f"工作进程数（默认按处理器核数：2×核数+1，最多 {MAX_DEFAULT_WORKERS}）")
@click.option("--threads", type=click.IntRange(1, 64), default=DEFAULT_THREADS, show_default=True,
              help="每个工作进程的线程数")
def serve_command(bind: str, workers: int | None, threads: int) -> None:
    """以生产配置启动服务（gunicorn 多进程、多线程）。"""
    _fresh_metrics_directory()
    workers = _checked_workers(workers or default_workers())
    master_app = _check_configuration(workers)
    click.echo(f"服务地址：{bind}（{workers} 个进程，每个进程 {threads} 个线程；按 Ctrl+C 停止）")
    _application(gunicorn_options(bind, workers, threads), {"SERVER_PROCESSES": workers}, master_app).run()
