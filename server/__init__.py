"""anfang server: the Flask application factory."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from flask import Flask, has_request_context, request

from .config import config_from_name
from .errors import register_error_handlers
from .extensions import ProblemApi, csrf, db, limiter, login_manager, migrate
from .observability import init_app as init_observability

# The domains that own tables (README, Layout): each one's models package maps them all.
DOMAINS_WITH_MODELS = ("accounts", "audit", "registry", "jobs", "draws", "field", "enforcement", "oversight",
                       "publicity")
# The modules that register job kinds (each domain's jobs.py; the jobs package's own cleanup).
JOB_MODULES = ("jobs.files", "draws.jobs", "field.jobs", "enforcement.jobs", "oversight.jobs", "publicity.jobs")


def create_app(config=None, **overrides) -> Flask:
    """Build the application.

    `config` is a config class, a name ("development", "testing", "production") or None for the
    one named by ANFANG_CONFIG; keyword overrides are applied last (tests use them).
    """
    config_class = config if isinstance(config, type) else config_from_name(config)
    app = Flask(__name__, instance_path=str(Path(__file__).resolve().parent.parent / "instance"),
                instance_relative_config=False)
    app.config.from_object(config_class)
    app.config.update(overrides)
    config_class.check(app.config)
    app.json.ensure_ascii = False
    if app.config["PROXY_HOPS"]:
        # Behind that many reverse proxies: the client's address, scheme and host as they sent them.
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    _ensure_sqlite_directory(app.config["SQLALCHEMY_DATABASE_URI"])

    db.init_app(app)
    with app.app_context():
        _configure_sqlite(db.engine)
    migrate.init_app(app, db, directory=app.config["MIGRATIONS_DIR"], render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    app.extensions["anfang_api"] = ProblemApi(app)
    # Request ids, logs, /healthz, /metrics: inside ProxyFix (client addresses are the real ones),
    # and before the API so that its /healthz is this one.
    init_observability(app)

    for domain in DOMAINS_WITH_MODELS:
        import_module(f".{domain}.models", __name__)  # complete the metadata
    for module in JOB_MODULES:
        import_module(f".{module}", __name__)  # register the job kinds
    from .jobs.health import check_queue
    from .observability.health import register_health_check

    register_health_check(app, "queue", check_queue)
    from .api import register_api
    from .cli import register_cli
    from .web import register_web

    register_api(app)
    register_web(app)
    register_cli(app)
    register_error_handlers(app)
    _register_transaction(app)
    return app


# A writing request's body up to this size is read before its first query (see below).
BODY_READ_FIRST_BYTES = 16 * 1024 * 1024


def _register_transaction(app: Flask) -> None:
    """The request owns the transaction: commit on success, roll back on any error answer.

    A writing request's body — a sync batch from a phone on a slow connection — is read before
    its first query, so that no lock is held while it arrives: on SQLite a writing request holds
    the write lock from its first query (BEGIN IMMEDIATE); on both, the bearer check may update
    the token's last use. Photo chunks stream into their file instead, with no transaction open
    (see `server.field.uploads.receive_chunk`).
    """

    @app.before_request
    def _read_body_first():
        if (_request_may_write()
                and request.mimetype != "application/offset+octet-stream"
                and request.content_length is not None and request.content_length <= BODY_READ_FIRST_BYTES):
            request.get_data(cache=True)

    @app.after_request
    def _commit_or_rollback(response):
        if response.status_code < 400:
            db.session.commit()
        else:
            db.session.rollback()
        return response


def _configure_sqlite(engine) -> None:
    """SQLite: enforce foreign keys, use WAL so pages read while a sync writes, and let SQLAlchemy
    emit BEGIN itself: pysqlite's own transaction handling breaks SAVEPOINT (SQLAlchemy docs,
    "Serializable isolation / Savepoints / Transactional DDL").

    Requests that may write (POST, PUT, PATCH, DELETE) begin IMMEDIATE: they queue for the write
    lock under busy_timeout before their first read. A deferred transaction that reads first
    cannot upgrade a snapshot another connection's commit has made stale; SQLite refuses at once
    ("database is locked") instead of waiting, and the request would fail.
    """
    if engine.dialect.name != "sqlite":
        return
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _request_may_write() else "BEGIN")


def _request_may_write() -> bool:
    return has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")


def _ensure_sqlite_directory(uri: str) -> None:
    """The embedded default keeps its SQLite file under instance/, which a fresh clone lacks."""
    from sqlalchemy.engine import make_url

    url = make_url(uri)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
