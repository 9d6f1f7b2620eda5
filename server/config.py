"""Configuration classes. The only module that reads the environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_DIR = PROJECT_ROOT / "instance"
DEFAULT_SECRET_KEY = "anfang-development-secret-change-me"


# The evidence stores server/field/evidence_backend.py can build, by the name EVIDENCE_STORE gives.
EVIDENCE_STORES = ("local",)


class ConfigError(RuntimeError):
    """The configuration cannot run (e.g. production without a real secret)."""


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{DEFAULT_INSTANCE_DIR / 'anfang.sqlite3'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    EVIDENCE_DIR = os.environ.get("EVIDENCE_DIR", str(DEFAULT_INSTANCE_DIR / "evidence"))
    # Where photos, issued documents and bulletins are kept (server/field/evidence_backend.py):
    # "local", the files under EVIDENCE_DIR (a local disk, or a filesystem shared by several servers).
    EVIDENCE_STORE = os.environ.get("EVIDENCE_STORE", "local")
    MIGRATIONS_DIR = str(PROJECT_ROOT / "migrations")
    REFERENCE_DIR = str(PROJECT_ROOT / "server" / "reference")
    # Official documents: templates (one folder per kind) and generated PDFs under EVIDENCE_DIR.
    REPORT_TEMPLATES_DIR = str(PROJECT_ROOT / "report_templates")
    # The fontconfig file documents are rendered (and their CJK fonts discovered) with. Default:
    # the one `make install` writes beside the Fandol fonts (FandolFang, the free 仿宋) in the
    # virtualenv, which adds them to the system's fonts; when that file is absent the system's
    # configuration is used (server/pdf/fonts.py logs it). Tests point it at an empty set.
    REPORT_FONTCONFIG_FILE = os.environ.get("REPORT_FONTCONFIG_FILE") or str(
        Path(sys.prefix) / "share" / "anfang" / "fonts" / "fonts.conf")
    # A PDF sent to be verified is read whole into memory; official documents are far smaller.
    DOCUMENT_VERIFY_MAX_BYTES = int(os.environ.get("DOCUMENT_VERIFY_MAX_BYTES", str(50 * 1024 * 1024)))
    # PAdES signatures of issued documents (server/pdf/signing.py): a directory with one key per
    # issuing organ, named as the documents print the organ (金华市公安局.p12, or .key.pem +
    # .cert.pem), and the CA certificates verification trusts (default: trust-roots.pem in that
    # directory). Without a key for its organ a document is issued unsigned and says so.
    DOCUMENT_SIGNING_DIR = os.environ.get("DOCUMENT_SIGNING_DIR") or None
    DOCUMENT_SIGNING_PASSPHRASE = os.environ.get("DOCUMENT_SIGNING_PASSPHRASE") or None
    DOCUMENT_TRUST_ROOTS = os.environ.get("DOCUMENT_TRUST_ROOTS") or None
    # The address citizens reach this server at: every issued document prints its public
    # verification page, PUBLIC_BASE_URL + /v/<核验码>, as a QR code and in words.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    # The public verification page answers anyone without a login, so it is rate-limited per address.
    VERIFICATION_RATE_LIMIT = os.environ.get("VERIFICATION_RATE_LIMIT", "30 per minute")
    # The audit chain anchored outside (server/audit/checkpoints.py): `anfang audit checkpoint export`
    # writes the head and the auditor's signed checkpoints here, each file created once and never
    # overwritten (mount a write-once or remote place), and to syslog when set (/dev/log or host:port).
    AUDIT_CHECKPOINT_DIR = os.environ.get("AUDIT_CHECKPOINT_DIR") or None
    AUDIT_CHECKPOINT_SYSLOG = os.environ.get("AUDIT_CHECKPOINT_SYSLOG") or None

    # flask-smorest / OpenAPI
    API_TITLE = "anfang"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"

    # Cookies: not readable by scripts, not sent cross-site.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = 8 * 3600

    # Rate limiting (memory for one process; Redis for several, e.g. redis://127.0.0.1:6379/0).
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    # Keys in a shared Redis are prefixed, so two deployments (or test runs) on one Redis keep apart.
    RATELIMIT_KEY_PREFIX = os.environ.get("RATELIMIT_KEY_PREFIX", "anfang")
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "10 per minute")
    # Per-account lockout beside the per-address limit: this many failed passwords within the
    # window lock the account for LOGIN_LOCKOUT_MINUTES (an administrator can lift it earlier).
    LOGIN_LOCKOUT_ATTEMPTS = int(os.environ.get("LOGIN_LOCKOUT_ATTEMPTS", "5"))
    LOGIN_LOCKOUT_WINDOW_MINUTES = int(os.environ.get("LOGIN_LOCKOUT_WINDOW_MINUTES", "15"))
    LOGIN_LOCKOUT_MINUTES = int(os.environ.get("LOGIN_LOCKOUT_MINUTES", "15"))

    DEVICE_TOKEN_TTL_DAYS = int(os.environ.get("DEVICE_TOKEN_TTL_DAYS", "90"))
    # The office dashboard lists a team on a revealed or started assignment whose devices have
    # not reached the server for this long: an offline device may hold a finished record.
    QUIET_TEAM_AFTER_HOURS = int(os.environ.get("QUIET_TEAM_AFTER_HOURS", "4"))
    # Device clock drift allowed to an offline reveal on each side of the assignment's window;
    # the field pull hands it to the clients (server.field.reveal_checks says why).
    REVEAL_CLOCK_TOLERANCE_SECONDS = int(os.environ.get("REVEAL_CLOCK_TOLERANCE_SECONDS", "600"))

    # Photo uploads (tus). A phone photo is a few MB; 50 MiB leaves room for HEIC bursts and
    # large sensors while bounding what one request can make the server store.
    MAX_UPLOAD_BYTES = int(os.environ.get("MAX_UPLOAD_BYTES", str(50 * 1024 * 1024)))
    # A partial upload untouched this long is removed by `anfang evidence clean-uploads`; each
    # PATCH renews it, so a slow rural link is not cut off while it still makes progress.
    UPLOAD_EXPIRES_AFTER_HOURS = int(os.environ.get("UPLOAD_EXPIRES_AFTER_HOURS", "72"))
    # Decoded size a photo may have: 80 megapixels covers phone sensors and stays under Pillow's
    # own bomb threshold (89 MP); a decompression bomb (a tiny file claiming 30000×30000) is
    # refused before it is decoded.
    MAX_IMAGE_PIXELS = int(os.environ.get("MAX_IMAGE_PIXELS", str(80_000_000)))

    # Observability (server/observability): log lines as readable text or as JSON lines for a log
    # collector; /healthz fails when the evidence store has less free space than this (a full disk
    # refuses photos mid-upload); /metrics answers only these networks (comma-separated CIDRs),
    # because endpoint names and counts describe the service to whoever can read them.
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
    LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
    HEALTH_MIN_FREE_BYTES = int(os.environ.get("HEALTH_MIN_FREE_BYTES", str(1024 ** 3)))
    # Each /healthz probe of a network service gives up after this long (the check stays cheap).
    HEALTH_CHECK_TIMEOUT_SECONDS = float(os.environ.get("HEALTH_CHECK_TIMEOUT_SECONDS", "2"))
    METRICS_ALLOWED_NETWORKS = os.environ.get("METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128")
    # Several worker processes (gunicorn) share their metrics through files in this directory:
    # prometheus_client reads the same environment variable when it is imported, so set it in the
    # environment (not only here) and empty the directory before the server starts.
    PROMETHEUS_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None

    # Behind a reverse proxy: how many proxies in front of the server set X-Forwarded-For, -Proto and
    # -Host (werkzeug's ProxyFix trusts that many). 0 ignores the headers: without a proxy a client
    # could forge its address (rate limits, audit) and the scheme of the tus upload URLs.
    PROXY_HOPS = int(os.environ.get("PROXY_HOPS", "0"))
    # How many server processes share this configuration (`anfang serve` sets it to its workers):
    # what lives in one process's memory, such as the memory rate-limit store, is refused above one.
    SERVER_PROCESSES = 1
    # Production on SQLite: only one process may write the file, and only when said so.
    ALLOW_SQLITE_SINGLE_PROCESS = os.environ.get("ALLOW_SQLITE_SINGLE_PROCESS", "").lower() in ("1", "true", "yes")

    # Background jobs (server/jobs): with a Redis URL, bulletin and report PDFs and photo variants
    # are made by `anfang worker` from an RQ queue there; without one they run inside the request
    # that asks, as the embedded default does. The daily jobs run at these Beijing times
    # ("kind=HH:MM", comma-separated) in `anfang worker`, as the user named here (office or admin).
    REDIS_URL = os.environ.get("REDIS_URL") or None
    DAILY_JOBS = os.environ.get("DAILY_JOBS", "draws.close_due=00:05,assignments.expire=00:10,"
                                "uploads.clean=03:30,jobs.clean=04:00,rectification.schedule=06:30")
    SCHEDULED_JOBS_ACTOR = os.environ.get("SCHEDULED_JOBS_ACTOR") or None
    # Generated drafts (previews of bulletins and reports) are kept this long, then removed daily.
    GENERATED_FILES_KEEP_DAYS = int(os.environ.get("GENERATED_FILES_KEEP_DAYS", "7"))

    @classmethod
    def check(cls, settings) -> None:
        """Refuse settings that cannot run; extended where stricter."""
        store = settings.get("EVIDENCE_STORE")
        if store not in EVIDENCE_STORES:
            raise ConfigError(f"EVIDENCE_STORE 不支持“{store}”：请设为 {'、'.join(EVIDENCE_STORES)}"
                              "（证据文件保存在 EVIDENCE_DIR 目录）")


class DevelopmentConfig(Config):
    DEBUG = False
    # The demo (`anfang demo seed`) makes a local CA and the organs' keys here when missing.
    DOCUMENT_SIGNING_DIR = os.environ.get("DOCUMENT_SIGNING_DIR") or str(DEFAULT_INSTANCE_DIR / "signing")
    # The demo's administrator closes due draws and schedules re-inspections each day.
    SCHEDULED_JOBS_ACTOR = os.environ.get("SCHEDULED_JOBS_ACTOR", "admin")


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "anfang-testing-secret"
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    RATELIMIT_STORAGE_URI = "memory://"
    # Tests exercise CSRF explicitly; the test client posts tokens it reads from forms.
    WTF_CSRF_ENABLED = True
    # Hermetic: a test that signs makes its own CA in a temporary folder (tests/conftest.py).
    DOCUMENT_SIGNING_DIR = None
    DOCUMENT_TRUST_ROOTS = None
    REDIS_URL = None  # jobs run inline unless a test sets a queue


class ProductionConfig(Config):
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")

    @classmethod
    def check(cls, settings) -> None:
        super().check(settings)
        secret = settings.get("SECRET_KEY")
        if not secret or secret == DEFAULT_SECRET_KEY or len(secret) < 32:
            raise ConfigError("生产环境须设置 SECRET_KEY：至少 32 个字符的随机值")
        database = settings.get("SQLALCHEMY_DATABASE_URI")
        if not database:
            raise ConfigError("生产环境须设置 DATABASE_URL（PostgreSQL 数据库地址）")
        processes = settings.get("SERVER_PROCESSES", 1)
        if str(database).startswith("sqlite"):
            if not settings.get("ALLOW_SQLITE_SINGLE_PROCESS"):
                raise ConfigError("生产环境不能使用 SQLite：请将 DATABASE_URL 设为 PostgreSQL；"
                                  "确为单进程部署时可设置 ALLOW_SQLITE_SINGLE_PROCESS=1")
            if processes > 1:
                raise ConfigError(f"SQLite 只能由一个服务进程使用，当前为 {processes} 个：请使用 PostgreSQL")
        if processes > 1 and str(settings.get("RATELIMIT_STORAGE_URI", "")).startswith("memory://"):
            raise ConfigError(f"{processes} 个服务进程不能各自在内存中计数限流：请将 RATELIMIT_STORAGE_URI "
                              "设为 Redis（例如 redis://127.0.0.1:6379/0）")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_name(name: str | None):
    """The config class for a name, or the one named by ANFANG_CONFIG (default development)."""
    name = name or os.environ.get("ANFANG_CONFIG", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(f"unknown configuration {name!r}; choose one of {', '.join(CONFIGS)}") from None


def demo_port(default: int = 5000) -> int:
    return int(os.environ.get("PORT", default))
