"""Device tokens for the API: issue with username and password, inspect, revoke."""

from flask_login import current_user
from flask_smorest import Blueprint

from ...access import api_auth_required
from ...errors import Unauthorized
from ...extensions import db
from ..auth import authenticate, issue_device_token, revoke_device_token
from ..auth_setup import current_device_token, login_rate_limit, mark_login_failed
from ..lockout import AccountLocked
from ..schemas.auth import IssuedTokenSchema, MeSchema, TokenRequestSchema

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="认证：设备访问令牌")


@blp.post("/tokens")
@login_rate_limit
@blp.arguments(TokenRequestSchema)
@blp.response(201, IssuedTokenSchema)
@blp.alt_response(401, response="UNAUTHORIZED", description="用户名或密码错误，或账号已停用，或账号已暂时锁定")
@blp.alt_response(429, response="TOO_MANY_REQUESTS", description="登录尝试过于频繁")
def issue_token(data):
    """Issue a device token.

    The token is returned once and stored only as a hash; send it as `Authorization: Bearer …`.
    Attempts share the login rate limit of the web form.
    """
    try:
        user = authenticate(data["username"], data["password"], channel="api")
    except AccountLocked:
        mark_login_failed()
        # The failure and the lock it may have set must outlive the 401 answer, which rolls back.
        db.session.commit()
        raise
    if user is None:
        mark_login_failed()
        # The failure counter and its audit event must outlive the 401 answer, which rolls back.
        db.session.commit()
        raise Unauthorized("用户名或密码错误，或账号已停用。")
    raw, token = issue_device_token(user, data["label"], channel="api")
    return {"token": raw, "device_token": token, "user": user}


@blp.get("/me")
@api_auth_required()
@blp.response(200, MeSchema)
def me():
    """Who the presented token belongs to."""
    return {"user": current_user, "device_token": current_device_token()}


@blp.delete("/tokens/current")
@api_auth_required()
@blp.response(204)
def revoke_current_token():
    """Revoke the token used for this request (e.g. when signing a device out)."""
    revoke_device_token(current_device_token(), actor=current_user._get_current_object(), channel="api")
