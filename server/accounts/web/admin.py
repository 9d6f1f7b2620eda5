"""Administration pages (system administrator only): users — list, create, edit, deactivate,
reset password — and device tokens for the API — list, issue (the token shown once), revoke.
The same services as `anfang user …` and `anfang token …`, audited with channel "web"."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from ...access import get_or_404, web_role_required
from ...errors import Conflict, Problem
from ...extensions import db
from ...registry.models.reference import County, Department
from ...roles import ROLE_LABELS, ROLES
from ...web.forms import ConfirmForm
from ...web.navigation import add_nav_item
from ...web.query_args import (
    choice_arg,
    flag_arg,
    int_arg,
    page_number,
    sort_arg,
    sort_links,
)
from ...web.signed_in import signed_in_user
from .. import auth as service
from ..lockout import locked_until, unlock_user
from ..models.user import DeviceToken, User
from .admin_forms import (
    NO_CHOICE,
    ActionForm,
    AdminPasswordResetForm,
    TokenIssueForm,
    UserCreateForm,
    UserProfileForm,
    show_problem_at_fields,
)

bp = Blueprint("web_admin", __name__, url_prefix="/admin", template_folder="templates")

ADMINS = ("admin",)
# Another administrator saved the same username or certificate at the same moment.
SAVE_CONFLICT = "与已有数据冲突（用户名或执法证号重复），未做任何更改。"

add_nav_item("用户管理", "web_admin.list_users", ADMINS)
add_nav_item("设备令牌", "web_admin.list_tokens", ADMINS)


def _scope_rows() -> dict:
    return {
        "departments": list(db.session.scalars(db.select(Department).order_by(Department.sort_order,
                                                                             Department.code))),
        "counties": list(db.session.scalars(db.select(County).order_by(County.sort_order, County.code))),
    }


def _with_scope_choices(form: UserProfileForm) -> UserProfileForm:
    rows = _scope_rows()
    form.department.choices = [NO_CHOICE] + [SelectChoice(d.code, d.name) for d in rows["departments"]]
    form.county.choices = [NO_CHOICE] + [SelectChoice(c.code, c.name) for c in rows["counties"]]
    return form


def _token_form(selected: User | None = None) -> TokenIssueForm:
    form = TokenIssueForm()
    users = db.session.scalars(db.select(User).where(User.is_active.is_(True)).order_by(User.username))
    form.user_id.choices = [SelectChoice(u.id, f"{u.username}（{u.display_name}，{u.role_label}）") for u in users]
    if selected is not None and request.method == "GET":
        form.user_id.data = selected.id
    return form


def _save(form, call):
    """Run a service call in a savepoint: (its result, None), or (None, the refusal) with the
    refusal's message also put next to the fields it names."""
    try:
        with db.session.begin_nested():
            return call(), None
    except Problem as exc:
        show_problem_at_fields(form, exc)
        return None, exc
    except IntegrityError:
        return None, Conflict(SAVE_CONFLICT)


# --- users ------------------------------------------------------------------------------------


@bp.get("/users")
@web_role_required(*ADMINS)
def list_users():
    role = choice_arg("role", ROLES)
    active = flag_arg("active")
    sort, descending = sort_arg(service.USER_SORTS, "username")
    filters = {"role": role or "", "department_id": int_arg("department_id"), "county_id": int_arg("county_id"),
               "active": request.args.get("active", ""), "sort": ("-" if descending else "") + sort}
    page = service.list_users(role=role, department_id=filters["department_id"], county_id=filters["county_id"],
                              active=active, sort=sort, descending=descending, page=page_number())
    return render_template("admin/users.html", page=page, filters=filters, roles=ROLE_LABELS,
                           sorts=service.USER_SORT_LABELS, **_scope_rows(),
                           sort_links=sort_links("web_admin.list_users", service.USER_SORT_LABELS, sort, descending))


@bp.route("/users/new", methods=["GET", "POST"])
@web_role_required(*ADMINS)
def new_user():
    form = _with_scope_choices(UserCreateForm())
    problem = None
    if form.validate_on_submit():
        user, problem = _save(form, lambda: service.create_user(
            form.username.data, form.role.data, form.password.data, display_name=form.display_name.data,
            department=form.department.data or None, county=form.county.data or None,
            certificate_no=form.certificate_no.data, phone=(form.phone.data or "").strip() or None,
            actor=signed_in_user(), channel="web"))
        if problem is None:
            flash(f"已创建用户 {user.username}（{user.role_label}）。", "success")
            return redirect(url_for("web_admin.show_user", user_id=user.id))
    status = 200 if request.method == "GET" else (problem.status if problem else 422)
    return render_template("admin/user_new.html", form=form, problem=problem), status


def _render_user(user: User, *, profile=None, password=None, token=None, problem=None, status=200):
    if profile is None:
        profile = _with_scope_choices(UserProfileForm(formdata=None, data={
            "display_name": user.display_name, "role": user.role,
            "department": user.department.code if user.department else "",
            "county": user.county.code if user.county else "",
            "certificate_no": user.enforcement_certificate_no or "", "phone": user.phone or ""}))
    tokens = service.token_page(user=user, page=page_number())
    return render_template(
        "admin/user.html", user=user, profile=profile, password=password or AdminPasswordResetForm(formdata=None),
        token_form=token or _token_form(user), confirm=ConfirmForm(formdata=None), action=ActionForm(formdata=None),
        tokens=tokens, token_state=service.token_state, state_labels=service.TOKEN_STATE_LABELS,
        is_self=user.id == current_user.id, locked_until=locked_until(user), problem=problem), status


@bp.get("/users/<int:user_id>")
@web_role_required(*ADMINS)
def show_user(user_id: int):
    return _render_user(get_or_404(User, user_id))


@bp.post("/users/<int:user_id>")
@web_role_required(*ADMINS)
def edit_user(user_id: int):
    user = get_or_404(User, user_id)
    form = _with_scope_choices(UserProfileForm())
    if not form.validate_on_submit():
        return _render_user(user, profile=form, status=422)
    changed, problem = _save(form, lambda: service.update_user(
        user, actor=signed_in_user(), display_name=form.display_name.data, role=form.role.data,
        department=form.department.data or None, county=form.county.data or None,
        certificate_no=form.certificate_no.data, phone=form.phone.data, channel="web"))
    if problem is not None:
        db.session.refresh(user)
        return _render_user(user, profile=form, problem=problem, status=problem.status)
    flash("已保存用户资料。" if changed else "资料没有变化。", "success" if changed else "info")
    return redirect(url_for("web_admin.show_user", user_id=user.id))


@bp.post("/users/<int:user_id>/deactivate")
@web_role_required(*ADMINS)
def deactivate_user(user_id: int):
    user = get_or_404(User, user_id)
    if not ConfirmForm().validate_on_submit():
        flash("停用账号需要勾选确认。", "error")
        return redirect(url_for("web_admin.show_user", user_id=user.id))
    try:
        with db.session.begin_nested():
            done = service.set_user_active(user, False, actor=signed_in_user(), channel="web")
    except Problem as exc:
        flash(exc.detail, "error")
    else:
        flash(f"已停用账号 {user.username}：不能再登录，设备令牌随之失效。" if done else "该账号此前已停用。", "success")
    return redirect(url_for("web_admin.show_user", user_id=user.id))


@bp.post("/users/<int:user_id>/reactivate")
@web_role_required(*ADMINS)
def reactivate_user(user_id: int):
    user = get_or_404(User, user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    done = service.set_user_active(user, True, actor=signed_in_user(), channel="web")
    flash(f"已重新启用账号 {user.username}。" if done else "该账号本来就是启用状态。", "success")
    return redirect(url_for("web_admin.show_user", user_id=user.id))


@bp.post("/users/<int:user_id>/password")
@web_role_required(*ADMINS)
def reset_password(user_id: int):
    user = get_or_404(User, user_id)
    form = AdminPasswordResetForm()
    if not form.validate_on_submit():
        return _render_user(user, password=form, status=422)
    actor = signed_in_user()
    revoked, problem = _save(form, lambda: service.reset_password(
        user, form.password.data, actor=actor, channel="web", keep_device_tokens=form.keep_device_tokens.data))
    if problem is not None:
        return _render_user(user, password=form, problem=problem, status=problem.status)
    if user.id == actor.id:
        # The reset ended every session of the user, this one too; keep the administrator signed in here.
        login_user(user)
    tokens = "设备令牌均保留。" if form.keep_device_tokens.data else f"已吊销 {revoked} 个设备令牌。"
    flash(f"已为 {user.username} 设置新密码，其已登录的会话均已失效，{tokens}请当面或通过安全渠道告知本人。", "success")
    return redirect(url_for("web_admin.show_user", user_id=user.id))


@bp.post("/users/<int:user_id>/unlock")
@web_role_required(*ADMINS)
def unlock(user_id: int):
    user = get_or_404(User, user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    done = unlock_user(user, actor=signed_in_user(), channel="web")
    flash(f"已解除 {user.username} 的登录锁定。" if done else "该账号没有被锁定。", "success" if done else "info")
    return redirect(url_for("web_admin.show_user", user_id=user.id))


# --- device tokens ----------------------------------------------------------------------------


@bp.get("/devices")
@web_role_required(*ADMINS)
def list_tokens():
    state = choice_arg("state", service.TOKEN_STATE_LABELS)
    user_id = int_arg("user_id")
    user = get_or_404(User, user_id) if user_id is not None else None
    page = service.token_page(user=user, state=state, page=page_number())
    return render_template("admin/tokens.html", page=page, filter_user=user, state=state or "",
                           token_form=_token_form(user), confirm=ConfirmForm(formdata=None),
                           token_state=service.token_state, state_labels=service.TOKEN_STATE_LABELS)


@bp.post("/devices")
@web_role_required(*ADMINS)
def issue_token():
    form = _token_form()
    problem = None
    if form.validate_on_submit():
        user = get_or_404(User, form.user_id.data)
        issued, problem = _save(form, lambda: service.issue_device_token(user, form.label.data, actor=signed_in_user(),
                                                                         channel="web"))
        if problem is None:
            raw, token = issued
            # The token is rendered into this one response and never stored: no redirect, no flash.
            return render_template("admin/token_issued.html", raw=raw, token=token), 200, \
                {"Cache-Control": "no-store"}
    return render_template("admin/token_new.html", token_form=form, problem=problem), \
        problem.status if problem else 422


@bp.post("/devices/<int:token_id>/revoke")
@web_role_required(*ADMINS)
def revoke_token(token_id: int):
    token = get_or_404(DeviceToken, token_id)
    back = request.args.get("back") == "user"
    target = url_for("web_admin.show_user", user_id=token.user_id) if back else url_for("web_admin.list_tokens")
    if not ConfirmForm().validate_on_submit():
        flash("吊销令牌需要勾选确认。", "error")
        return redirect(target)
    if service.revoke_device_token(token, actor=signed_in_user(), channel="web"):
        flash(f"已吊销令牌 {token.prefix}…（{token.user.username}，设备“{token.label}”），该设备须重新签发令牌。",
              "success")
    else:
        flash(f"令牌 {token.prefix}… 此前已被吊销。", "info")
    return redirect(target)
