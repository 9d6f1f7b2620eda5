"""Per-account lockout: after LOGIN_LOCKOUT_ATTEMPTS failed passwords within the window the
account is locked (even the right password is refused, in Chinese, with the end in Beijing time),
audited; an administrator can lift it; a success resets the count; the per-address limit stays."""

from __future__ import annotations

from datetime import timedelta

import pytest
from session_helpers import PASSWORD, csrf, events, login_ok, post_login

from server.accounts.lockout import lock_message
from server.columns import local_text, utcnow
from server.extensions import limiter


@pytest.fixture(autouse=True)
def small_limits(app, monkeypatch):
    """Three failures lock; the per-address limit high enough not to interfere."""
    monkeypatch.setitem(app.config, "LOGIN_LOCKOUT_ATTEMPTS", 3)
    monkeypatch.setitem(app.config, "LOGIN_LOCKOUT_WINDOW_MINUTES", 15)
    monkeypatch.setitem(app.config, "LOGIN_LOCKOUT_MINUTES", 15)
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "100 per minute")
    limiter.reset()
    yield
    limiter.reset()


def _fail(client, user, times: int):
    for _ in range(times):
        assert post_login(client, user.username, "wrong password").status_code == 200


def test_defaults_are_five_failures_in_fifteen_minutes_lock_fifteen_minutes():
    from server.config import Config

    assert (Config.LOGIN_LOCKOUT_ATTEMPTS, Config.LOGIN_LOCKOUT_WINDOW_MINUTES, Config.LOGIN_LOCKOUT_MINUTES) == (5, 15, 15)


def test_locked_after_n_failures_even_with_the_right_password(client, db, new_user):
    user = new_user("office")
    _fail(client, user, 2)
    db.session.refresh(user)
    assert user.locked_until is None and user.failed_logins == 2

    third = post_login(client, user.username, "wrong password").get_data(as_text=True)
    db.session.refresh(user)
    assert user.locked_until is not None
    message = lock_message(user.locked_until)
    assert message in third
    assert local_text(user.locked_until) in message and "北京时间" in message

    right = post_login(client, user.username, PASSWORD)
    assert right.status_code == 200
    html = right.get_data(as_text=True)
    # The same answer as for a wrong password: nothing tells whether this one was right.
    assert message in html and "密码错误" not in html
    assert client.get("/").status_code == 302
    assert post_login(client, user.username, "still wrong").get_data(as_text=True).count(message) == 1

    [locked] = events("auth.locked", user.id)
    assert locked.details["username"] == user.username and locked.channel == "web"
    assert events("auth.login_failed", user.id)[-1].details["reason"] == "locked"


def test_api_token_request_is_refused_while_locked(client, db, new_user):
    user = new_user("inspector")
    _fail(client, user, 3)
    response = client.post("/api/v1/auth/tokens", json={"username": user.username, "password": PASSWORD,
                                                         "label": "手机"})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert "暂时锁定" in response.get_json()["detail"]


def test_api_failures_lock_the_account_too(client, db, new_user):
    user = new_user("inspector")
    for _ in range(3):
        client.post("/api/v1/auth/tokens", json={"username": user.username, "password": "nope nope",
                                                 "label": "手机"})
    db.session.refresh(user)
    assert user.locked_until is not None
    [locked] = events("auth.locked", user.id)
    assert locked.channel == "api"


def test_the_lock_ends_by_itself(client, db, new_user):
    user = new_user("office")
    _fail(client, user, 3)
    db.session.refresh(user)
    user.locked_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    login_ok(client, user.username)


def test_failures_outside_the_window_do_not_add_up(client, db, new_user):
    user = new_user("office")
    _fail(client, user, 2)
    db.session.refresh(user)
    user.failed_logins_since = utcnow() - timedelta(minutes=16)
    db.session.commit()
    _fail(client, user, 2)
    db.session.refresh(user)
    assert user.locked_until is None and user.failed_logins == 2


def test_a_success_resets_the_count(client, db, new_user):
    user = new_user("office")
    _fail(client, user, 2)
    login_ok(client, user.username)
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    db.session.refresh(user)
    assert user.failed_logins == 0
    _fail(client, user, 2)
    db.session.refresh(user)
    assert user.locked_until is None


def test_administrator_lifts_the_lock(client, db, new_user):
    user, admin = new_user("office"), new_user("admin")
    _fail(client, user, 3)
    login_ok(client, admin.username)
    page = client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert "该账号因多次登录失败已被锁定" in page and "解除登录锁定" in page

    response = client.post(f"/admin/users/{user.id}/unlock", data={"csrf_token": csrf(client, f"/admin/users/{user.id}")})
    assert response.status_code == 302
    assert "已解除" in client.get(response.headers["Location"]).get_data(as_text=True)
    [unlocked] = events("user.unlocked", user.id)
    assert unlocked.actor_id == admin.id

    client._cookies.clear()
    login_ok(client, user.username)


def test_unlock_is_for_administrators_only(client, db, new_user):
    user, office = new_user("office"), new_user("office")
    _fail(client, user, 3)
    login_ok(client, office.username)
    response = client.post(f"/admin/users/{user.id}/unlock", data={"csrf_token": csrf(client, "/")})
    assert response.status_code in (302, 403)
    db.session.refresh(user)
    assert user.locked_until is not None


def test_cli_lifts_the_lock(cli, client, db, new_user):
    user = new_user("office")
    _fail(client, user, 3)
    result = cli.invoke(args=["user", "unlock", user.username])
    assert result.exit_code == 0, result.output
    assert "已解除" in result.output
    assert cli.invoke(args=["user", "unlock", user.username]).output.strip() == f"账号 {user.username} 没有被锁定。"
    login_ok(client, user.username)


def test_the_per_address_limit_still_works(app, client, db, new_user, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "2 per minute")
    first, second = new_user("office"), new_user("office")
    _fail(client, first, 1)
    _fail(client, second, 1)
    # Neither account is locked, but this address has used up its budget.
    assert post_login(client, second.username, PASSWORD).status_code == 429
