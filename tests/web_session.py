"""Logging a Flask test client in through the real login form, and reading a page's CSRF token."""

from __future__ import annotations

import re

from assignment_world import PASSWORD

from server.extensions import db, limiter

# Forms with a prefix (one per case transition) name their field `<prefix>-csrf_token`.
CSRF = re.compile(r'name="(?:[a-z0-9]+-)?csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf(client, url: str) -> str:
    return CSRF.search(client.get(url).get_data(as_text=True)).group(1)


def login(client, user, password: str = PASSWORD) -> None:
    """Log `client` in as `user`, after dropping whoever was logged in (a fresh cookie jar).

    The rows made so far are committed (a savepoint in tests) so the login request sees them, and
    the rate limit is reset so that many logins in one test are not refused."""
    client._cookies.clear()
    limiter.reset()
    db.session.commit()
    token = csrf(client, "/login")
    response = client.post("/login", data={"username": user.username, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
