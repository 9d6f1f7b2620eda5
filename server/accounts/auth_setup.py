"""Who is asking: Flask-Login wiring for both channels, and the shared login rate limit.

Web pages authenticate with the session cookie; the API only with `Authorization: Bearer …`.
The API is exempt from CSRF, so it must never accept the cookie — otherwise any site could make
a logged-in browser call it.
"""

from __future__ import annotations

from flask import current_app, flash, g, redirect, request, request_started, url_for

from ..access import BEARER_REQUIRED
from ..errors import Unauthorized, is_api_request
from ..extensions import db, limiter, login_manager
from .auth import find_valid_token
from .models.user import DeviceToken, User
from .sessions import session_user_id

LOGIN_MESSAGE = "请先登录。"
BEARER_REALM = 'Bearer realm="anfang"'


def _login_attempt_failed(_response) -> bool:
    """Only failed attempts count against the limit, so an office behind one NAT address can
    still log in at nine o'clock while guessing is stopped."""
    return bool(g.get("login_failed"))


# One budget for the web form and the API token endpoint: a guesser cannot double it by
# alternating between them.
login_rate_limit = limiter.shared_limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT"],
    scope="login",
    methods=["POST"],
    error_message="登录尝试过于频繁，请稍后再试。",
    deduct_when=_login_attempt_failed,
)


def mark_login_failed() -> None:
    g.login_failed = True


def current_device_token() -> DeviceToken | None:
    """The token that authenticated this API request, if any."""
    return g.get("device_token")


def _load_session_user(user_id: str) -> User | None:
    """The session's user while the session is still theirs: active, and signed at the user's
    current session epoch (logout, password reset, role change and deactivation raise it)."""
    parsed = session_user_id(user_id)
    if is_api_request() or parsed is None:
        return None
    user = db.session.get(User, parsed[0])
    if user is None or not user.is_active or (user.session_epoch or 0) != parsed[1]:
        return None
    return user


def _load_bearer_user(req) -> User | None:
    if not is_api_request():
        return None
    header = req.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    token = find_valid_token(value.strip())
    if token is None:
        g.bearer_rejected = True
        return None
    g.device_token = token
    return token.user


def _unauthorized():
    if is_api_request():
        raise Unauthorized(BEARER_REQUIRED)
    flash(LOGIN_MESSAGE, "info")
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("web_auth.login", next=target))


def _forget_previous_request(_sender, **_extra) -> None:
    """Start every request with an empty `g`.

    `g` belongs to the app context, which may outlive one request (the test client reuses an
    outer context). A user, device token or CSRF token cached there by an earlier request must
    not carry over, so it is cleared before any before_request hook can read it.
    """
    for key in list(g):
        g.pop(key, None)


def _add_bearer_challenge(response):
    """RFC 6750: a 401 from the API names the scheme, and says when a presented token was bad."""
    if response.status_code == 401 and is_api_request() and "WWW-Authenticate" not in response.headers:
        challenge = BEARER_REALM
        if g.get("bearer_rejected"):
            challenge += ', error="invalid_token"'
        response.headers["WWW-Authenticate"] = challenge
    return response


def init_auth(app) -> None:
    login_manager.login_view = "web_auth.login"
    login_manager.login_message = LOGIN_MESSAGE
    login_manager.user_loader(_load_session_user)
    login_manager.request_loader(_load_bearer_user)
    login_manager.unauthorized_handler(_unauthorized)
    request_started.connect(_forget_previous_request, app)
    app.after_request(_add_bearer_challenge)
