"""Administration pages: the administrator lists, creates, edits, deactivates users and resets
passwords; issues device tokens (shown once, stored hashed) and revokes them, after which the API
refuses them. Refusals in Chinese beside the field; CSRF everywhere; administrators only."""

from __future__ import annotations

import hashlib
import re

import pytest
import sqlalchemy as sa
from assignment_world import PASSWORD

from server.accounts.models.user import DeviceToken, User
from server.accounts.passwords import verify_password
from server.audit.models.audit import AuditEvent
from server.extensions import limiter
from server.registry.models.reference import County, Department

CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
TOKEN = re.compile(r'<p class="token" id="device-token"><code>(anf_[A-Za-z0-9_-]+)</code></p>')
NEW_PASSWORD = "a-new-secret-2021"


def login(client, db, username, password=PASSWORD):
    limiter.reset()
    db.session.commit()
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def csrf(client, url):
    return CSRF.search(client.get(url).get_data(as_text=True)).group(1)


@pytest.fixture
def admin(db, make_user, client):
    user = make_user("admin", password=PASSWORD)
    assert login(client, db, user.username).status_code == 302
    return user


def _events(db, action: str, object_id) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.object_id == str(object_id)).order_by(AuditEvent.seq)))


def _new_user_form(client, **overrides) -> dict:
    data = {"csrf_token": csrf(client, "/admin/users/new"), "username": "wang.wei", "display_name": "王伟",
            "role": "inspector", "department": "", "county": "", "certificate_no": "", "phone": "",
            "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    data.update(overrides)
    return data


# --- users ------------------------------------------------------------------------------------


def test_administrator_creates_a_user_with_the_cli_service_and_it_is_audited(db, client, admin):
    department = db.session.scalar(sa.select(Department).order_by(Department.id))
    response = client.post("/admin/users/new", data=_new_user_form(
        client, role="department", department=department.code, username="dept.user"))
    assert response.status_code == 302, response.get_data(as_text=True)
    user = db.session.scalar(sa.select(User).where(User.username == "dept.user"))
    assert user.role == "department" and user.department_id == department.id and user.display_name == "王伟"
    assert verify_password(user.password_hash, NEW_PASSWORD)
    [event] = _events(db, "user.created", user.id)
    assert event.actor_id == admin.id and event.channel == "web" and event.details["department"] == department.code
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已创建用户 dept.user" in page and department.name in page


@pytest.mark.parametrize(("overrides", "field", "message"), [
    ({"password": "short", "password_again": "short"}, "password", "密码至少需要 8 个字符。"),
    ({"password_again": "something-else"}, "password_again", "两次输入的密码不一致。"),
    ({"username": "空 格"}, "username", "用户名须为 2–64 位字母、数字或 _ . @ -。"),
    ({"username": ""}, "username", "请输入用户名。"),
    ({"role": "department"}, "department", "行业部门用户必须指定所属部门"),
    ({"role": "county"}, "county", "属地政府用户必须指定所属县市区"),
    ({"role": "office", "certificate_no": "JZ-1"}, "certificate_no", "只有督查人员或执法人员可以登记执法证号。"),
])
def test_invalid_user_is_refused_with_the_reason_next_to_the_field(db, client, admin, overrides, field, message):
    before = db.session.scalar(sa.select(sa.func.count(User.id)))
    response = client.post("/admin/users/new", data=_new_user_form(client, **overrides))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = re.search(rf'<p class="field__error" id="{field}-error">([^<]*)</p>', page)
    assert error is not None and message in error.group(1), page[:3000]
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == before


def test_duplicate_username_and_certificate_are_refused_beside_their_fields(db, client, admin, make_user):
    make_user("inspector", username="taken", enforcement_certificate_no="JZ-77")
    page = client.post("/admin/users/new", data=_new_user_form(client, username="taken")).get_data(as_text=True)
    assert re.search(r'id="username-error">用户名“taken”已存在。', page)
    page = client.post("/admin/users/new", data=_new_user_form(client, certificate_no="JZ-77")).get_data(as_text=True)
    assert re.search(r'id="certificate_no-error">执法证号“JZ-77”已登记在用户“taken”名下。', page)


def test_a_post_without_csrf_token_is_refused(db, client, admin, make_user):
    data = _new_user_form(client)
    del data["csrf_token"]
    response = client.post("/admin/users/new", data=data)
    assert response.status_code == 400 and "安全校验码" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(User).where(User.username == "wang.wei")) is None
    other = make_user("inspector")
    db.session.commit()  # the refused request rolls back the session it shares with the test
    assert client.post(f"/admin/users/{other.id}/deactivate", data={"confirm": "y"}).status_code == 400
    db.session.refresh(other)
    assert other.is_active


def test_user_list_filters_sorts_and_links(db, client, admin, make_user):
    county = db.session.scalar(sa.select(County).order_by(County.id))
    first = make_user("county", username="zz-county-a", county=county)
    make_user("county", username="zz-county-b", county=county, is_active=False)
    make_user("inspector", username="zz-inspector")
    page = client.get("/admin/users", query_string={"role": "county", "county_id": county.id}).get_data(as_text=True)
    assert "zz-county-a" in page and "zz-county-b" in page and "zz-inspector" not in page
    assert f'href="/admin/users/{first.id}"' in page
    inactive = client.get("/admin/users", query_string={"role": "county", "active": "0"}).get_data(as_text=True)
    assert "zz-county-b" in inactive and "zz-county-a" not in inactive
    descending = client.get("/admin/users", query_string={"role": "county", "sort": "-username"})
    text = descending.get_data(as_text=True)
    assert text.index("zz-county-b") < text.index("zz-county-a")
    ascending = client.get("/admin/users", query_string={"role": "county", "sort": "username"}).get_data(as_text=True)
    assert ascending.index("zz-county-a") < ascending.index("zz-county-b")
    by_login = client.get("/admin/users", query_string={"sort": "-last_login"}).get_data(as_text=True)
    assert by_login.index(admin.username) < by_login.index("zz-county-a")  # never logged in: last
    assert client.get("/admin/users", query_string={"role": "pirate"}).status_code == 400
    assert client.get("/admin/users", query_string={"sort": "password_hash"}).status_code == 400


def test_edit_deactivate_reactivate_and_reset_password(db, client, admin, make_user):
    user = make_user("inspector", password=PASSWORD)
    url = f"/admin/users/{user.id}"
    response = client.post(url, data={"csrf_token": csrf(client, url), "display_name": "李四", "role": "enforcement",
                                      "department": "", "county": "", "certificate_no": "JZ-9001", "phone": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.refresh(user)
    assert (user.display_name, user.role, user.enforcement_certificate_no) == ("李四", "enforcement", "JZ-9001")
    [updated] = _events(db, "user.updated", user.id)
    assert updated.channel == "web" and set(updated.details["changed"]) >= {"display_name", "role"}
    assert "李四" not in str(updated.details)  # names are personal data; the log says only that they changed

    # Deactivation needs the confirmation box.
    assert client.post(f"{url}/deactivate", data={"csrf_token": csrf(client, url)}).status_code == 302
    db.session.refresh(user)
    assert user.is_active
    assert client.post(f"{url}/deactivate", data={"csrf_token": csrf(client, url), "confirm": "y"}).status_code == 302
    db.session.refresh(user)
    assert not user.is_active and _events(db, "user.deactivated", user.id)

    password_form = {"csrf_token": csrf(client, url), "password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    assert client.post(f"{url}/password", data=password_form).status_code == 302
    [reset] = _events(db, "user.password_reset", user.id)
    assert NEW_PASSWORD not in str(reset.details)
    assert client.post(f"{url}/reactivate", data={"csrf_token": csrf(client, url)}).status_code == 302
    db.session.refresh(user)
    assert user.is_active and _events(db, "user.reactivated", user.id)

    # The user logs in with the new password only.
    with client.session_transaction() as session:
        session.clear()
    assert login(client, db, user.username).status_code == 200
    assert login(client, db, user.username, NEW_PASSWORD).status_code == 302


def test_deactivated_user_cannot_log_in_and_administrator_cannot_deactivate_self(db, client, admin, make_user):
    user = make_user("office", password=PASSWORD)
    url = f"/admin/users/{user.id}"
    client.post(f"{url}/deactivate", data={"csrf_token": csrf(client, url), "confirm": "y"})
    own = f"/admin/users/{admin.id}"
    page = client.post(f"{own}/deactivate", data={"csrf_token": csrf(client, own), "confirm": "y"},
                       follow_redirects=True).get_data(as_text=True)
    assert "不能停用自己的账号。" in page
    db.session.refresh(admin)
    assert admin.is_active
    with client.session_transaction() as session:
        session.clear()
    assert login(client, db, user.username).status_code == 200  # the form again: refused


def test_password_reset_errors_are_shown_beside_the_fields(db, client, admin, make_user):
    user = make_user("inspector")
    url = f"/admin/users/{user.id}"
    response = client.post(f"{url}/password", data={"csrf_token": csrf(client, url), "password": "abc",
                                                    "password_again": "abc"})
    assert response.status_code == 422
    assert 'id="password-error">密码至少需要 8 个字符。' in response.get_data(as_text=True)
    assert not _events(db, "user.password_reset", user.id)


# --- device tokens ----------------------------------------------------------------------------


def test_token_is_shown_once_stored_hashed_and_stops_working_when_revoked(db, client, admin, make_user):
    inspector = make_user("inspector")
    response = client.post("/admin/devices", data={"csrf_token": csrf(client, "/admin/devices"),
                                                    "user_id": str(inspector.id), "label": "外勤平板 3 号"})
    assert response.status_code == 200, response.get_data(as_text=True)[:2000]
    assert response.headers["Cache-Control"] == "no-store"
    raw = TOKEN.search(response.get_data(as_text=True)).group(1)
    token = db.session.scalar(sa.select(DeviceToken).where(DeviceToken.user_id == inspector.id))
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest() and token.label == "外勤平板 3 号"
    assert raw.startswith(token.prefix)
    [issued] = _events(db, "token.issued", token.id)
    assert issued.actor_id == admin.id and issued.channel == "web" and raw not in str(issued.details)

    # Never shown again: not in the lists, only its prefix.
    for url in ("/admin/devices", f"/admin/users/{inspector.id}"):
        page = client.get(url).get_data(as_text=True)
        assert raw not in page and f"{token.prefix}…" in page and "外勤平板 3 号" in page

    bearer = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/auth/me", headers=bearer).status_code == 200

    revoke = f"/admin/devices/{token.id}/revoke"
    assert client.post(revoke, data={"csrf_token": csrf(client, "/admin/devices")}).status_code == 302
    db.session.refresh(token)
    assert token.revoked_at is None  # not confirmed: nothing happened
    assert client.post(revoke, data={"csrf_token": csrf(client, "/admin/devices"), "confirm": "y"}).status_code == 302
    db.session.refresh(token)
    assert token.revoked_at is not None
    [revoked] = _events(db, "token.revoked", token.id)
    assert revoked.actor_id == admin.id and revoked.channel == "web"
    assert client.get("/api/v1/auth/me", headers=bearer).status_code == 401
    assert "已吊销" in client.get("/admin/devices", query_string={"state": "revoked"}).get_data(as_text=True)


def test_token_form_errors_and_deactivated_users(db, client, admin, make_user):
    inactive = make_user("inspector", is_active=False)
    response = client.post("/admin/devices", data={"csrf_token": csrf(client, "/admin/devices"),
                                                   "user_id": str(inactive.id), "label": ""})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="label-error">请填写设备名称。' in page
    assert 'id="user_id-error">不是可选的值。' in page  # deactivated users are not offered
    assert db.session.scalar(sa.select(DeviceToken).where(DeviceToken.user_id == inactive.id)) is None


def test_deactivating_a_user_stops_their_tokens(db, client, admin, make_user):
    user = make_user("inspector")
    issued = client.post("/admin/devices", data={"csrf_token": csrf(client, "/admin/devices"),
                                                 "user_id": str(user.id), "label": "手机"})
    raw = TOKEN.search(issued.get_data(as_text=True)).group(1)
    url = f"/admin/users/{user.id}"
    client.post(f"{url}/deactivate", data={"csrf_token": csrf(client, url), "confirm": "y"})
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {raw}"}).status_code == 401


# --- access -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["office", "auditor", "inspector", "enforcement", "propaganda"])
def test_only_administrators_reach_the_administration_pages(db, client, make_user, role):
    user = make_user(role, password=PASSWORD)
    target = make_user("inspector")
    assert login(client, db, user.username).status_code == 302
    for url in ("/admin/users", "/admin/users/new", f"/admin/users/{target.id}", "/admin/devices"):
        assert client.get(url).status_code == 403, url
    token = csrf(client, "/")
    assert client.post("/admin/devices", data={"csrf_token": token, "user_id": str(target.id),
                                               "label": "x"}).status_code == 403
    assert client.post(f"/admin/users/{target.id}/deactivate",
                       data={"csrf_token": token, "confirm": "y"}).status_code == 403
    assert db.session.scalar(sa.select(DeviceToken).where(DeviceToken.user_id == target.id)) is None
    home = client.get("/").get_data(as_text=True)
    assert 'href="/admin/users"' not in home and 'href="/admin/devices"' not in home


def test_administrators_see_the_pages_in_the_navigation(db, client, admin):
    home = client.get("/").get_data(as_text=True)
    assert 'href="/admin/users"' in home and 'href="/admin/devices"' in home
    assert client.get("/admin/users/999999").status_code == 404
