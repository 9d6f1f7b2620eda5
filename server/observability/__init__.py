"""Observability: request ids, structured logs, /healthz and /metrics (README, Observability).

Wired by `init_app` in the application factory. Nothing here imports a domain; domains call the
counters in `metrics`. The submodules are imported inside `init_app`: server/errors.py imports
`request_id` while it loads, and `metrics` imports server/errors.
"""

from __future__ import annotations

import time

from flask import request, request_finished, request_started

STARTED_AT_KEY = "anfang.request_started_at"


def init_app(app) -> None:
    from ..extensions import csrf, limiter
    from . import health, metrics
    from .logging_setup import configure_logging, log_access
    from .request_id import add_request_id_header, current_request_id

    configure_logging(app)
    health.register_default_checks(app)
    for blueprint in (health.bp, metrics.bp):
        app.register_blueprint(blueprint)
        limiter.exempt(blueprint)  # monitors poll these every few seconds
        csrf.exempt(blueprint)

    # Signals rather than before/after_request hooks: request_started comes before every
    # before_request hook (a rate limit may answer from one), request_finished after every
    # after_request hook, so the duration includes the commit.
    def started(sender, **_):
        request.environ[STARTED_AT_KEY] = time.perf_counter()  # per request, like the id
        current_request_id()

    def finished(sender, response, **_):
        began = request.environ.get(STARTED_AT_KEY)
        seconds = time.perf_counter() - began if began is not None else 0.0
        endpoint = request.url_rule.endpoint if request.url_rule is not None else None
        metrics.observe_request(endpoint, response.status_code, seconds)
        log_access(request, response, seconds * 1000)

    request_started.connect(started, app, weak=False)
    request_finished.connect(finished, app, weak=False)
    app.after_request(add_request_id_header)
