"""Log records that carry their request id; text or JSON lines; one access line per request.

`LOG_FORMAT` chooses the handler's format: "text" (development, read by a person at a terminal)
or "json" (production, one JSON object per line for a log collector). Every record gets a
`request_id` attribute through the record factory, so every handler sees it — the one installed
here, pytest's caplog, gunicorn's — whichever logger the record came from.

What is logged never holds secrets: the access line names the path without its query string
(a query value could be a token), never a body, header, envelope or venue.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime

from flask import g

from ..columns import CHINA_STANDARD_TIME
from .request_id import current_request_id

ACCESS_LOGGER = "anfang.access"

TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"

# The attributes every LogRecord has; the rest are `extra=` fields worth writing out.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "request_id", "taskName"}


def _beijing_time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, CHINA_STANDARD_TIME).isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    """Readable lines, times in Beijing time with their offset."""

    def __init__(self):
        super().__init__(TEXT_FORMAT)

    def formatTime(self, record, datefmt=None):  # noqa: N802 (logging's name)
        return _beijing_time(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id and any extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": _beijing_time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


FORMATTERS = {"text": TextFormatter, "json": JsonFormatter}


def install_record_factory() -> None:
    """Give every log record the request id of the request it was logged in ("-" outside one).
    Installed once per process; a second app wraps nothing twice."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "adds_request_id", False):
        return

    def factory(*args, **kwargs):
        record = previous(*args, **kwargs)
        record.request_id = current_request_id() or "-"
        return record

    factory.adds_request_id = True
    logging.setLogRecordFactory(factory)


class _AnfangHandler(logging.StreamHandler):
    """Marks the handler this module installed, so a second create_app replaces it instead of
    writing every line twice."""


def configure_logging(app) -> None:
    """Records carry the request id; outside tests, one handler on the root logger writes them to
    standard error in the configured format."""
    install_record_factory()
    log_format = app.config["LOG_FORMAT"]
    if log_format not in FORMATTERS:
        from ..config import ConfigError

        raise ConfigError(f"LOG_FORMAT 须为 {' 或 '.join(FORMATTERS)}，当前为 {log_format!r}")
    if app.testing:
        return  # pytest captures records itself (caplog); a handler would print them twice
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _AnfangHandler)]:
        root.removeHandler(handler)
    handler = _AnfangHandler(sys.stderr)
    handler.setFormatter(FORMATTERS[log_format]())
    root.addHandler(handler)
    # Libraries speak at WARNING and above (fontTools alone logs several INFO lines per PDF);
    # LOG_LEVEL is for anfang's own loggers: the server package and the access log.
    root.setLevel(logging.WARNING)
    for name in ("server", "anfang"):
        logging.getLogger(name).setLevel(app.config["LOG_LEVEL"].upper())


def signed_in_user_id() -> int | None:
    """The id of the user this request authenticated, if it did — read without a query: the user
    is only looked at if the request already loaded it, and its id comes from the identity map
    (the request's commit has expired its attributes by now)."""
    import sqlalchemy as sa

    user = g.get("_login_user")  # where Flask-Login keeps the user it loaded for this request
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    state = sa.inspect(user, raiseerr=False)
    if state is None or not state.identity:
        return None
    return state.identity[0]


def log_access(request, response, duration_ms: float) -> None:
    """One line per request: method, path (no query string), status, duration, user, request id."""
    user_id = signed_in_user_id()
    query_keys = sorted(request.args.keys())
    logging.getLogger(ACCESS_LOGGER).info(
        "%s %s %s %.1f ms", request.method, request.path, response.status_code, duration_ms,
        extra={"method": request.method, "path": request.path, "query_keys": query_keys,
               "status": response.status_code, "duration_ms": round(duration_ms, 1), "user_id": user_id})
