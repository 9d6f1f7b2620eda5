"""Revocable sessions: a session cookie stops working after logout (even a copy taken before),
after a password reset, deactivation and a role change; an administrator's password reset also
revokes the user's device tokens unless the administrator keeps them."""

from __future__ import annotations

import sqlalchemy as sa
from session_helpers import NEW_PASSWORD, PASSWORD, csrf, events, login_ok

from server.accounts import auth as service
from server.accounts.models.user import DeviceToken
from server.accounts.sessions import session_user_id


def _replay(client, cookie: str):
    """A request to the home page carrying exactly this session cookie."""
    client._cookies.clear()
    client.set_cookie("session", cookie)
    return client.get("/")


def _signed_in(app, user):
    """A second browser of `user`, logged in through the form."""
    other = app.test_client()
    login_ok(other, user.username)
    assert other.get("/").status_code == 200
    return other


def test_session_id_carries_the_epoch(new_user):
    user = new_user("office")
    assert user.get_id() == f"{user.id}:0"
    assert session_user_id(user.get_id()) == (user.id, 0)
    # A session signed before epochs existed (the bare id) or tampered with is refused.
    assert session_user_id(str(user.id)) is None
    assert session_user_id(f"{user.id}:x") is None


def test_a_cookie_copied_before_logout_no_longer_works(client, db, new_user):
    user = new_user("office")
    login_ok(client, user.username)
    assert client.get("/").status_code == 200
    saved = client.get_cookie("session").value

    assert client.post("/logout", data={"csrf_token": csrf(client, "/")}).status_code == 302

    replayed = _replay(client, saved)
    assert replayed.status_code == 302
    assert "/login" in replayed.headers["Location"]
    [event] = events("auth.logout", user.id)
    assert event.actor_id == user.id


def test_logout_ends_the_other_sessions_of_the_user_too(app, client, db, new_user):
    user = new_user("office")
    other = _signed_in(app, user)
    login_ok(client, user.username)
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    assert other.get("/").status_code == 302
    # Logging in again works and gives a working session.
    login_ok(client, user.username)
    assert client.get("/").status_code == 200


def test_password_reset_by_the_administrator_ends_the_sessions(app, client, db, new_user):
    user, admin = new_user("office"), new_user("admin")
    victim = _signed_in(app, user)
    login_ok(client, admin.username)
    response = client.post(f"/admin/users/{user.id}/password", data={
        "csrf_token": csrf(client, f"/admin/users/{user.id}"), "password": NEW_PASSWORD,
        "password_again": NEW_PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    assert victim.get("/").status_code == 302
    assert "已登录的会话均已失效" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_administrator_resetting_their_own_password_stays_signed_in_here_only(app, client, db, new_user):
    admin = new_user("admin")
    elsewhere = _signed_in(app, admin)
    login_ok(client, admin.username)
    response = client.post(f"/admin/users/{admin.id}/password", data={
        "csrf_token": csrf(client, f"/admin/users/{admin.id}"), "password": NEW_PASSWORD,
        "password_again": NEW_PASSWORD, "keep_device_tokens": "y"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302


def test_password_change_by_the_service_ends_the_sessions(app, db, new_user):
    user, admin = new_user("office"), new_user("admin")
    browser = _signed_in(app, user)
    service.reset_password(user, NEW_PASSWORD, actor=admin, channel="cli")
    db.session.commit()
    assert browser.get("/").status_code == 302


def test_deactivation_ends_the_sessions_and_reactivation_does_not_revive_them(app, db, new_user):
    user, admin = new_user("office"), new_user("admin")
    browser = _signed_in(app, user)
    saved = browser.get_cookie("session").value
    service.set_user_active(user, False, actor=admin)
    service.set_user_active(user, True, actor=admin)
    db.session.commit()
    assert _replay(browser, saved).status_code == 302


def test_role_change_ends_the_sessions_other_edits_do_not(app, db, new_user):
    user, admin = new_user("office"), new_user("admin")
    browser = _signed_in(app, user)
    service.update_user(user, actor=admin, display_name="新名字", role="office")
    db.session.commit()
    assert browser.get("/").status_code == 200  # a new name is no reason to log in again
    service.update_user(user, actor=admin, role="auditor")
    db.session.commit()
    assert browser.get("/").status_code == 302


# --- device tokens on a password reset ------------------------------------------------------


def _issue(client, user) -> str:
    response = client.post("/api/v1/auth/tokens", json={"username": user.username, "password": PASSWORD,
                                                         "label": "现场手机"})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["token"]


def _pull(client, token: str):
    return client.get("/api/v1/sync/pull", headers={"Authorization": f"Bearer {token}"})


def test_password_reset_revokes_the_device_tokens_by_default(client, db, new_user):
    inspector, admin = new_user("inspector"), new_user("admin")
    token = _issue(client, inspector)
    assert _pull(client, token).status_code == 200
    login_ok(client, admin.username)
    response = client.post(f"/admin/users/{inspector.id}/password", data={
        "csrf_token": csrf(client, f"/admin/users/{inspector.id}"), "password": NEW_PASSWORD,
        "password_again": NEW_PASSWORD})
    assert response.status_code == 302
    assert "已吊销 1 个设备令牌" in client.get(response.headers["Location"]).get_data(as_text=True)

    refused = _pull(client, token)
    assert refused.status_code == 401
    assert refused.mimetype == "application/problem+json"
    row = db.session.scalar(sa.select(DeviceToken).where(DeviceToken.user_id == inspector.id))
    assert row.revoked_at is not None
    [revoked] = events("token.revoked", row.id)
    assert revoked.actor_id == admin.id and revoked.channel == "web"
    [reset] = events("user.password_reset", inspector.id)
    assert reset.details["device_tokens_revoked"] == 1 and reset.details["device_tokens_kept"] is False


def test_password_reset_keeps_the_device_tokens_when_the_administrator_chooses(client, db, new_user):
    inspector, admin = new_user("inspector"), new_user("admin")
    token = _issue(client, inspector)
    login_ok(client, admin.username)
    page = client.get(f"/admin/users/{inspector.id}").get_data(as_text=True)
    assert "保留该用户的设备令牌" in page
    response = client.post(f"/admin/users/{inspector.id}/password", data={
        "csrf_token": csrf(client, f"/admin/users/{inspector.id}"), "password": NEW_PASSWORD,
        "password_again": NEW_PASSWORD, "keep_device_tokens": "y"})
    assert response.status_code == 302
    assert "设备令牌均保留" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert _pull(client, token).status_code == 200
    [reset] = events("user.password_reset", inspector.id)
    assert reset.details["device_tokens_kept"] is True and reset.details["device_tokens_revoked"] == 0
