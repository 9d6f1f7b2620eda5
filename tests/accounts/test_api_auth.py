"""/api/v1/auth: device tokens are issued once, stored hashed, expire, and can be revoked."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from server.accounts.auth import TOKEN_PREFIX_LENGTH, TOKEN_TAG
from server.accounts.models.user import DeviceToken
from server.audit.models.audit import AuditEvent
from server.columns import utcnow
from server.extensions import limiter

PASSWORD = "correct horse 9"
PROBLEM_KEYS = {"type", "title", "status", "detail"}


@pytest.fixture(autouse=True)
def fresh_limiter():
    limiter.reset()
    yield
    limiter.reset()


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert PROBLEM_KEYS <= body.keys()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


def issue(client, username: str, password: str = PASSWORD, label: str = "测试手机"):
    return client.post("/api/v1/auth/tokens", json={"username": username, "password": password, "label": label})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def inspector(make_user, db):
    user = make_user("inspector")
    # Committed (a savepoint here) so that a 4xx answer's rollback does not take the user with it.
    db.session.commit()
    return user


def test_issue_token_returns_it_once(client, inspector):
    response = issue(client, inspector.username)
    assert response.status_code == 201
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert len(body["token"]) >= 40 and body["token"].startswith(TOKEN_TAG)
    assert body["device_token"]["prefix"] == body["token"][:TOKEN_PREFIX_LENGTH]
    assert body["device_token"]["label"] == "测试手机"
    assert body["user"]["username"] == inspector.username
    assert body["user"]["role"] == "inspector"
    assert "password" not in response.get_data(as_text=True)


def test_token_is_stored_hashed_and_nowhere_in_plaintext(client, db, inspector):
    token = issue(client, inspector.username).get_json()["token"]
    row = db.session.scalar(sa.select(DeviceToken).where(DeviceToken.user_id == inspector.id))
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = [
        str(value)
        for table in ("device_token", "audit_event")
        for record in db.session.execute(sa.text(f"SELECT * FROM {table}"))
        for value in record
    ]
    assert not any(token in value for value in stored)


def test_token_expiry_follows_config(app, client, inspector):
    body = issue(client, inspector.username).get_json()
    issued = datetime.fromisoformat(body["device_token"]["issued_at"])
    expires = datetime.fromisoformat(body["device_token"]["expires_at"])
    assert expires - issued == timedelta(days=app.config["DEVICE_TOKEN_TTL_DAYS"])


def test_me_with_bearer_token(client, db, inspector):
    token = issue(client, inspector.username).get_json()["token"]
    response = client.get("/api/v1/auth/me", headers=bearer(token))
    assert response.status_code == 200
    body = response.get_json()
    assert body["user"]["username"] == inspector.username
    assert body["user"]["role_label"] == "督查人员"
    assert body["device_token"]["prefix"] == token[:TOKEN_PREFIX_LENGTH]
    row = db.session.scalar(sa.select(DeviceToken).where(DeviceToken.user_id == inspector.id))
    assert row.last_used_at is not None


def test_me_without_token_is_401_problem_with_bearer_challenge(client):
    response = client.get("/api/v1/auth/me")
    body = assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "令牌" in body["detail"]


@pytest.mark.parametrize("header", ["Bearer not-a-real-token", "Basic dXNlcjpwYXNz", "Bearer", "bearer  "])
def test_bad_authorization_headers_are_401(client, header):
    response = client.get("/api/v1/auth/me", headers={"Authorization": header})
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_token_says_invalid_token(client):
    response = client.get("/api/v1/auth/me", headers=bearer("x" * 43))
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_expired_token_is_401(client, db, inspector):
    token = issue(client, inspector.username).get_json()["token"]
    row = db.session.scalar(sa.select(DeviceToken).where(DeviceToken.user_id == inspector.id))
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert_problem(client.get("/api/v1/auth/me", headers=bearer(token)), 401)


def test_token_of_deactivated_user_is_401(client, db, inspector):
    token = issue(client, inspector.username).get_json()["token"]
    inspector.is_active = False
    db.session.commit()
    assert_problem(client.get("/api/v1/auth/me", headers=bearer(token)), 401)


def test_revoke_current_token(client, db, inspector):
    token = issue(client, inspector.username).get_json()["token"]
    other = issue(client, inspector.username, label="平板").get_json()["token"]

    response = client.delete("/api/v1/auth/tokens/current", headers=bearer(token))
    assert response.status_code == 204

    assert_problem(client.get("/api/v1/auth/me", headers=bearer(token)), 401)
    assert_problem(client.delete("/api/v1/auth/tokens/current", headers=bearer(token)), 401)
    # Only the presented token is revoked; the user's other device keeps working.
    assert client.get("/api/v1/auth/me", headers=bearer(other)).status_code == 200
    actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.seq)).all()
    assert actions.count("token.issued") >= 2
    assert "token.revoked" in actions


def test_bad_credentials_are_401_and_counted(client, db, inspector):
    response = issue(client, inspector.username, password="wrong password")
    body = assert_problem(response, 401)
    assert "用户名或密码错误" in body["detail"]
    assert "token" not in body
    db.session.refresh(inspector)
    # The failure survives the 401 answer's rollback: counter and audit event are kept.
    assert inspector.failed_logins == 1
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "auth.login_failed")
                              .order_by(AuditEvent.seq.desc()))
    assert event.channel == "api" and event.details["reason"] == "bad_password"


def test_unknown_user_gets_the_same_answer(client, inspector):
    unknown = assert_problem(issue(client, "nobody-here"), 401)
    wrong = assert_problem(issue(client, inspector.username, password="wrong password"), 401)
    assert unknown["detail"] == wrong["detail"]


def test_inactive_user_cannot_get_a_token(client, db, inspector):
    inspector.is_active = False
    db.session.commit()
    assert_problem(issue(client, inspector.username), 401)


def test_token_request_refuses_unknown_and_missing_fields(client, inspector):
    response = client.post("/api/v1/auth/tokens", json={"username": inspector.username, "password": PASSWORD,
                                                         "label": "x", "role": "admin"})
    body = assert_problem(response, 422)
    assert "role" in body["errors"]
    body = assert_problem(client.post("/api/v1/auth/tokens", json={"username": inspector.username}), 422)
    assert {"password", "label"} <= body["errors"].keys()


def test_api_ignores_the_session_cookie(client, inspector):
    """The API is exempt from CSRF, so a browser session must not authenticate it."""
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    login = client.post("/login", data={"username": inspector.username, "password": PASSWORD, "csrf_token": csrf})
    assert login.status_code == 302
    assert client.get("/").status_code == 200
    assert_problem(client.get("/api/v1/auth/me"), 401)


def test_token_endpoint_is_rate_limited_with_the_login_budget(app, client, inspector, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "3 per minute")
    for _ in range(3):
        assert issue(client, inspector.username, password="wrong password").status_code == 401
    response = issue(client, inspector.username)
    body = assert_problem(response, 429)
    assert "频繁" in body["detail"]
    assert "Retry-After" in response.headers


def test_successful_token_requests_do_not_use_up_the_budget(app, client, inspector, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "2 per minute")
    for n in range(4):
        assert issue(client, inspector.username, label=f"设备{n}").status_code == 201


def test_openapi_documents_bearer_security(client):
    spec = client.get("/api/openapi.json").get_json()
    assert "bearerAuth" in spec["components"]["securitySchemes"]
    me = spec["paths"]["/api/v1/auth/me"]["get"]
    assert me["security"] == [{"bearerAuth": []}]
    assert "401" in me["responses"]
    assert "security" not in spec["paths"]["/api/v1/auth/tokens"]["post"]
