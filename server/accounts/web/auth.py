"""Login and logout pages (session cookie; CSRF on both forms; login rate-limited)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ...errors import is_api_request, problem_response
from ...web.chinese_form import ChineseForm
from ...web.signed_in import signed_in_user
from ..auth import authenticate, log_out
from ..auth_setup import login_rate_limit, mark_login_failed
from ..lockout import AccountLocked

bp = Blueprint("web_auth", __name__, template_folder="templates")


class LoginForm(ChineseForm):
    username = StringField("用户名", validators=[
        DataRequired(message="请输入用户名。"),
        Length(max=64, message="用户名不超过 64 个字符。"),
    ])
    password = PasswordField("密码", validators=[
        DataRequired(message="请输入密码。"),
        Length(max=256, message="密码不超过 256 个字符。"),
    ])


BAD_CREDENTIALS = "用户名或密码错误，或账号已停用。"


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: `next` must not turn the login page into an open redirect."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@login_rate_limit
def login():
    if current_user.is_authenticated:
        return redirect(url_for("web.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = authenticate(form.username.data, form.password.data, channel="web")
        except AccountLocked as locked:
            mark_login_failed()
            form.password.errors.append(locked.detail)
            return render_template("login.html", form=form)
        if user is not None:
            # A fresh session at the privilege change; nothing from before the login carries over.
            session.clear()
            login_user(user)
            flash(f"欢迎，{user.display_name}（{user.role_label}）。", "success")
            return redirect(_safe_next(request.args.get("next")) or url_for("web.index"))
        mark_login_failed()
        form.password.errors.append(BAD_CREDENTIALS)
    return render_template("login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    log_out(signed_in_user(), channel="web")
    logout_user()
    session.clear()
    flash("您已安全退出。", "info")
    return redirect(url_for("web_auth.login"))


@bp.app_errorhandler(CSRFError)
def csrf_failed(error):
    # Flask-WTF's reasons are English; a page in Chinese says what to do instead.
    detail = "页面已过期或缺少安全校验码，请刷新页面后重新提交。"
    if is_api_request():
        return problem_response(400, detail=detail)
    return render_template("error.html", status=400, title="请求无效", detail=detail), 400
