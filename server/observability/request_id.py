"""A request id per request: taken from a sane X-Request-ID the proxy sent, or generated.

It is answered in the X-Request-ID header, carried by every log record of the request
(logging_setup) and by every problem+json answer (server/errors.py), so that a person quoting
the id from an error lets an operator find every log line of that request.
"""

from __future__ import annotations

import re
import uuid

from flask import has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
ENVIRON_KEY = "anfang.request_id"

# What a proxy plausibly sends (nginx's $request_id is 32 hex digits, others use UUIDs): letters,
# digits and . _ - only, 8 to 128 characters. Anything else — too long, spaces, control
# characters, quotes that would break a log line — is replaced by our own id.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{7,127}")


def incoming_request_id(value: str | None) -> str | None:
    """The proxy's id if it is sane, else None."""
    if value and SANE_REQUEST_ID.fullmatch(value):
        return value
    return None


def current_request_id() -> str | None:
    """This request's id (None outside a request). Made on first use, so that an answer given
    before any hook of ours ran (a rate limit refusing early) still carries one."""
    if not has_request_context():
        return None
    # Kept in the WSGI environ, not in `g`: `g` belongs to the app context, which can outlive a
    # request, and server.accounts empties it when a request starts.
    request_id = request.environ.get(ENVIRON_KEY)
    if request_id is None:
        request_id = incoming_request_id(request.headers.get(REQUEST_ID_HEADER)) or uuid.uuid4().hex
        request.environ[ENVIRON_KEY] = request_id
    return request_id


def add_request_id_header(response):
    response.headers[REQUEST_ID_HEADER] = current_request_id()
    return response
