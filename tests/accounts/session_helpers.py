"""Shared by the session-revocation and lockout tests: log in through the form, read CSRF tokens."""

from __future__ import annotations

import re

import sqlalchemy as sa

from server.audit.models.audit import AuditEvent
from server.extensions import db as _db
from server.extensions import limiter

PASSWORD = "correct horse 9"
NEW_PASSWORD = "a-new-secret-2026"
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf(client, url: str) -> str:
    return CSRF.search(client.get(url).get_data(as_text=True)).group(1)


def post_login(client, username: str, password: str = PASSWORD):
    """One login attempt through the form (rows made so far committed so the request sees them)."""
    _db.session.commit()
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf(client, "/login")})


def login_ok(client, username: str, password: str = PASSWORD) -> None:
    limiter.reset()
    response = post_login(client, username, password)
    assert response.status_code == 302, response.get_data(as_text=True)


def events(action: str, object_id) -> list[AuditEvent]:
    return list(_db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.object_id == str(object_id)).order_by(AuditEvent.seq)))
