"""Web login: Chinese pages, CSRF, session cookie, per-role landing pages, rate limit, logout."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

from server.audit.models.audit import AuditEvent
from server.extensions import limiter
from server.roles import ROLE_LABELS, ROLES

PASSWORD = "correct horse 9"
CSRF_FIELD = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def fresh_limiter():
    limiter.reset()
    yield
    limiter.reset()


def csrf_from(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


def login(client, username: str, password: str = PASSWORD, *, next_url: str | None = None):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    url = "/login" if next_url is None else f"/login?next={next_url}"
    return client.post(url, data={"username": username, "password": password, "csrf_token": token})


def last_event(db, action: str) -> AuditEvent | None:
    return db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq.desc()))


# --- the login page -------------------------------------------------------------------------


def test_login_page_is_chinese_with_labelled_inputs(client):
    response = client.get("/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    assert '<label class="field__label" for="username">用户名</label>' in html
    assert '<label class="field__label" for="password">密码</label>' in html
    assert 'id="username"' in html and 'id="password"' in html
    assert 'type="password"' in html
    assert "登录" in html
    csrf_from(html)


def test_anonymous_root_redirects_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")


def test_login_without_csrf_token_is_refused(client, new_user):
    user = new_user("office")
    client.get("/login")
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "安全校验码" in html
    assert "CSRF" not in html
    assert client.get("/").status_code == 302


def test_login_with_a_forged_csrf_token_is_refused(client, new_user):
    user = new_user("office")
    client.get("/login")
    response = client.post("/login", data={"username": user.username, "password": PASSWORD, "csrf_token": "forged"})
    assert response.status_code == 400


# --- logging in -----------------------------------------------------------------------------

ROLE_HEADINGS = {
    "office": "抽查派单",
    "inspector": "现场记录",
    "enforcement": "待处理的违规问题",
    "propaganda": "典型材料",
    "department": "督查发现",
    "county": "督查发现",
    "auditor": "抽签核验",
    "admin": "用户管理",
}


def has_section(html: str, heading: str) -> bool:
    """A landing-page section with this heading, linked to its page or not."""
    return re.search(rf"<h2>(<a [^>]*>)?{re.escape(heading)}(</a>)?</h2>", html) is not None


@pytest.mark.parametrize("role", ROLES)
def test_good_login_lands_on_the_page_of_the_role(client, db, new_user, role):
    user = new_user(role)
    response = login(client, user.username)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"

    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"<h1>{ROLE_LABELS[role]}工作台</h1>" in html
    assert has_section(html, ROLE_HEADINGS[role])
    assert user.display_name in html
    assert "欢迎" in html
    # One role's page does not show another's sections.
    others = {heading for other, heading in ROLE_HEADINGS.items() if heading != ROLE_HEADINGS[role]}
    assert not any(has_section(html, heading) for heading in others)

    db.session.refresh(user)
    assert user.last_login_at is not None
    assert user.failed_logins == 0
    event = last_event(db, "auth.login")
    assert event.actor_id == user.id and event.channel == "web"


def test_department_page_names_its_categories(client, new_user, scope_rows):
    department, category, _ = scope_rows
    login(client, new_user("department").username)
    html = client.get("/").get_data(as_text=True)
    assert department.name in html
    assert category.name in html


def test_county_page_names_its_county(client, new_user, scope_rows):
    _, _, county = scope_rows
    login(client, new_user("county").username)
    assert county.name in client.get("/").get_data(as_text=True)


def test_login_follows_a_local_next_only(client, new_user):
    user = new_user("office")
    assert login(client, user.username, next_url="/?from=login").headers["Location"] == "/?from=login"
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
    for hostile in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        assert login(client, user.username, next_url=hostile).headers["Location"] == "/"
        client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})


def test_logged_in_user_visiting_login_goes_home(client, new_user):
    login(client, new_user("office").username)
    response = client.get("/login")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_bad_password_shows_the_error_next_to_the_field(client, db, new_user):
    user = new_user("office")
    response = login(client, user.username, "wrong password")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert re.search(r'id="password"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="password"', html)
    assert '<p class="field__error" id="password-error">用户名或密码错误，或账号已停用。</p>' in html
    # The username is kept, the password is not echoed back.
    assert f'value="{user.username}"' in html
    assert "wrong password" not in html
    assert client.get("/").status_code == 302

    db.session.refresh(user)
    assert user.failed_logins == 1
    event = last_event(db, "auth.login_failed")
    assert event.details == {"username": user.username, "reason": "bad_password"}


def test_unknown_user_gets_the_same_message(client, new_user):
    user = new_user("office")
    unknown = login(client, "nobody-" + uuid.uuid4().hex[:6]).get_data(as_text=True)
    wrong = login(client, user.username, "wrong password").get_data(as_text=True)
    message = "用户名或密码错误，或账号已停用。"
    assert message in unknown and message in wrong


def test_inactive_user_cannot_log_in(client, new_user):
    user = new_user("office", is_active=False)
    response = login(client, user.username)
    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_missing_fields_are_reported_in_chinese(client):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    html = client.post("/login", data={"username": "", "password": "", "csrf_token": token}).get_data(as_text=True)
    assert '<p class="field__error" id="username-error">请输入用户名。</p>' in html
    assert '<p class="field__error" id="password-error">请输入密码。</p>' in html


def test_deactivated_user_loses_the_session(client, db, new_user):
    user = new_user("office")
    login(client, user.username)
    user.is_active = False
    db.session.commit()
    assert client.get("/").status_code == 302


# --- rate limit -----------------------------------------------------------------------------


def test_login_is_rate_limited_with_a_chinese_429_page(app, client, new_user, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "3 per minute")
    user = new_user("office")
    for _ in range(3):
        assert login(client, user.username, "wrong password").status_code == 200
    response = login(client, user.username)  # even the right password waits now
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert "请求过于频繁" in html
    assert "登录尝试过于频繁，请稍后再试。" in html
    assert client.get("/").status_code == 302
    # Reading the page is not limited, only attempts are.
    assert client.get("/login").status_code == 200


def test_successful_logins_do_not_use_up_the_budget(app, client, new_user, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "2 per minute")
    user = new_user("office")
    for _ in range(4):
        assert login(client, user.username).status_code == 302
        client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})


def test_web_and_api_share_the_login_budget(app, client, new_user, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT", "2 per minute")
    user = new_user("inspector")
    for _ in range(2):
        login(client, user.username, "wrong password")
    response = client.post("/api/v1/auth/tokens", json={"username": user.username, "password": PASSWORD,
                                                         "label": "手机"})
    assert response.status_code == 429
    assert response.mimetype == "application/problem+json"


# --- logout ---------------------------------------------------------------------------------


def test_logout_is_a_post_with_csrf(client, db, new_user):
    user = new_user("office")
    login(client, user.username)
    home = client.get("/").get_data(as_text=True)
    assert 'action="/logout"' in home

    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/").status_code == 200  # still logged in

    response = client.post("/logout", data={"csrf_token": csrf_from(home)})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")
    assert "您已安全退出。" in client.get("/login").get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert last_event(db, "auth.logout").actor_id == user.id


# --- cookies and headers --------------------------------------------------------------------


def test_session_cookie_is_httponly_and_samesite(client, new_user):
    response = login(client, new_user("office").username)
    cookies = [value for name, value in response.headers.items() if name == "Set-Cookie"]
    session_cookie = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session_cookie
    assert "SameSite=Lax" in session_cookie


@pytest.mark.parametrize("path", ["/login", "/", "/no-such-page", "/api/v1/auth/me", "/assets/anfang.css"])
def test_security_headers_on_every_response(client, path):
    with client.get(path) as response:
        headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "http" not in csp and "*" not in csp and "unsafe" not in csp


def test_pages_are_not_cached(client, new_user):
    login(client, new_user("office").username)
    assert client.get("/").headers["Cache-Control"] == "no-store"


# --- no external assets ---------------------------------------------------------------------

# An attribute whose value starts with "//" or "scheme://": anything the browser would fetch elsewhere.
EXTERNAL_REFERENCE = re.compile(
    r"""(?:src|href|action|srcset|poster|data)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.I
)
CSS_EXTERNAL = re.compile(r"""url\(\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//|@import""", re.I)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=\"/)", re.I)
LOCAL_ASSET = re.compile(r"""<(?:link|script|img)\b[^>]*\b(?:href|src)="(/[^"]*)\"""", re.I)


def _rendered_pages(client, new_user):
    pages = [client.get("/login").get_data(as_text=True), client.get("/no-such-page").get_data(as_text=True)]
    for role in ROLES:
        login(client, new_user(role).username)
        home = client.get("/").get_data(as_text=True)
        pages.append(home)
        client.post("/logout", data={"csrf_token": csrf_from(home)})
    return pages


def test_no_page_refers_to_another_site_and_every_asset_is_served(client, new_user):
    pages = _rendered_pages(client, new_user)
    assets = set()
    for html in pages:
        assert not EXTERNAL_REFERENCE.search(html), EXTERNAL_REFERENCE.search(html).group(0)
        # The CSP allows neither inline scripts nor inline styles: scripts come from the site's own files.
        assert not INLINE_SCRIPT.search(html) and "style=" not in html
        assets.update(LOCAL_ASSET.findall(html))
    assert {"/assets/anfang.css", "/assets/site_menu.js", "/assets/table_cards.js"} <= assets
    for asset in assets:
        with client.get(asset) as response:
            assert response.status_code == 200, asset
            body = response.get_data(as_text=True)
        if asset.endswith(".css"):
            assert not CSS_EXTERNAL.search(body)
            assert "Noto Sans CJK SC" in body


def test_https_deployments_get_strict_transport_security(tmp_path):
    from server import create_app

    secure = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'hsts.db'}",
                        SESSION_COOKIE_SECURE=True)
    with secure.test_client() as client:
        assert client.get("/login").headers["Strict-Transport-Security"].startswith("max-age=")


def test_plain_http_test_app_has_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
