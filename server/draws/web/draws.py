"""Pages for draws and their sealed assignments: the office creates a draw, sees its sealed
result, dispatches teams (the reveal code is shown once), follows progress, cancels a draw with a
reason or closes it once its window has ended; the auditor verifies closed draws and sees in the
list every cancelled draw, what replaced it, and who cancels how often."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from ...access import get_authorized, web_role_required
from ...columns import CHINA_STANDARD_TIME, as_utc
from ...errors import Problem
from ...extensions import db
from ...registry.models.reference import County, VenueCategory
from ...web.forms import ConfirmForm
from ...web.navigation import add_nav_item
from ...web.query_args import int_arg, listed, sort_arg, sort_links, text_arg
from .. import assignment_access, assignment_reading, listing
from .. import assignments as assignment_service
from ..cancellation import cancel_draw
from ..closing import close_draw, unfinished_assignments
from ..creation import create_draw
from ..listing import draw_summary
from ..models.draw import Draw
from ..seeding import may_contribute
from ..verification import verify_draw
from .draw_forms import CancelDrawForm, DrawForm

bp = Blueprint("web_draws", __name__, template_folder="templates")

MANAGERS = ("office", "admin")
READERS = ("office", "admin", "auditor")

add_nav_item("抽查派单", "web_draws.list_draws", READERS)


def _draw_form() -> DrawForm:
    form = DrawForm()
    form.counties.choices = [(c.code, c.name) for c in db.session.scalars(
        db.select(County).order_by(County.sort_order, County.code))]
    form.categories.choices = [(c.code, c.name) for c in db.session.scalars(
        db.select(VenueCategory).order_by(VenueCategory.sort_order, VenueCategory.code))]
    return form


def _local(naive):
    """Form times are China Standard Time (the pages' users are in 金华)."""
    return naive.replace(tzinfo=CHINA_STANDARD_TIME)


@bp.get("/draws")
@web_role_required(*READERS)
def list_draws():
    errors: dict[str, list[str]] = {}
    filters = {"status": text_arg("status"), "purpose": text_arg("purpose")}
    page_number = int_arg("page", "页码", errors) or 1
    sort_columns = {key: label for key, (_, label) in listing.LIST_SORT_COLUMNS.items()}
    key, descending = sort_arg(sort_columns, listing.LIST_DEFAULT_SORT, errors)
    page = listed(lambda: listing.list_draws(current_user, sort=text_arg("sort"), page=page_number, **filters),
                  errors)
    draws = [draw_summary(draw, current_user, with_assignments=False) for draw in page.items] if page else []
    return render_template("draws/list.html", draws=draws, page=page, filters=filters, errors=errors,
                           cancellations=listing.cancellation_summary(current_user),
                           sort=text_arg("sort") or listing.LIST_DEFAULT_SORT,
                           statuses=listing.STATUS_LABELS, purposes=listing.PURPOSE_LABELS,
                           sort_columns=sort_columns,
                           sort_links=sort_links("web_draws.list_draws", sort_columns, key, descending)), \
        400 if errors else 200


@bp.route("/draws/new", methods=["GET", "POST"])
@web_role_required(*MANAGERS)
def new_draw():
    form = _draw_form()
    problem = None
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                draw = create_draw(
                    current_user, counties=form.counties.data, categories=form.categories.data,
                    window_start=_local(form.window_start.data), window_end=_local(form.window_end.data),
                    sample_size=form.sample_size.data, team_size=form.team_size.data,
                    may_propose_penalties=form.may_propose_penalties.data,
                    meeting_point=form.meeting_point.data or None, channel="web")
        except Problem as exc:
            problem = exc
            for name, messages in (exc.errors or {}).items():
                field = getattr(form, name, None)
                if field is not None:
                    field.errors = list(field.errors) + list(messages)
        else:
            flash(f"已创建抽查 {draw.id}：种子和候选名单已锁定，待纪检监察人员录入随机数后生成密封任务。", "success")
            return redirect(url_for("web_draws.show_draw", draw_id=draw.id))
    return render_template("draws/new.html", form=form, problem=problem), 422 if form.errors or problem else 200


def _detail(draw: Draw, cancel_form: CancelDrawForm | None = None, problem: Problem | None = None):
    summary = draw_summary(draw, current_user)
    progress: dict[str, int] = {}
    for item in summary["assignments"]:
        progress[item["status_label"]] = progress.get(item["status_label"], 0) + 1
    return render_template("draws/detail.html", draw=summary, progress=progress, confirm=ConfirmForm(),
                           may_contribute=may_contribute(draw, current_user),
                           cancel_form=cancel_form or CancelDrawForm(formdata=None), problem=problem,
                           can_manage=current_user.role in MANAGERS)


@bp.get("/draws/<int:draw_id>")
@web_role_required(*READERS)
def show_draw(draw_id: int):
    return _detail(get_authorized(Draw, draw_id, current_user))


@bp.get("/draws/<int:draw_id>/close")
@web_role_required(*MANAGERS)
def confirm_close(draw_id: int):
    """The step before closing: what is still unfinished (sealed, dispatched, under way) — by
    number, status, window and team size, never a target — and the box that confirms the close."""
    draw = get_authorized(Draw, draw_id, current_user, "manage")
    return render_template("draws/close.html", draw=draw_summary(draw, current_user, with_assignments=False),
                           unfinished=unfinished_assignments(draw), confirm=ConfirmForm(formdata=None))


@bp.post("/draws/<int:draw_id>/close")
@web_role_required(*MANAGERS)
def close(draw_id: int):
    draw = get_authorized(Draw, draw_id, current_user, "manage")
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash("关闭抽查需要先核对未完成的任务，并勾选确认。", "error")
        return redirect(url_for("web_draws.confirm_close", draw_id=draw_id))
    # The box is only on the confirmation page, under the list of unfinished assignments.
    close_draw(draw, current_user, channel="web", confirmed=True)
    flash("抽查已关闭，种子已公开，任何人可据此核验。", "success")
    return redirect(url_for("web_draws.verification", draw_id=draw_id))


@bp.post("/draws/<int:draw_id>/cancel")
@web_role_required(*MANAGERS)
def cancel(draw_id: int):
    draw = get_authorized(Draw, draw_id, current_user, "manage")
    form = CancelDrawForm()
    if not form.validate_on_submit():
        return _detail(draw, form), 422
    try:
        with db.session.begin_nested():
            cancel_draw(draw, current_user, form.reason.data, "web")
    except Problem as exc:
        if not exc.errors:
            raise
        form.reason.errors = list(form.reason.errors) + list(exc.errors.get("reason", [exc.detail]))
        return _detail(draw, form, exc), exc.status
    flash(f"抽查第 {draw.id} 号已取消，种子已公开；取消理由和替代关系在抽查清单中可见。", "success")
    return redirect(url_for("web_draws.show_draw", draw_id=draw_id))


@bp.get("/draws/<int:draw_id>/verification")
@web_role_required(*READERS)
def verification(draw_id: int):
    draw = get_authorized(Draw, draw_id, current_user)
    return render_template("draws/verification.html", draw=draw_summary(draw, current_user, with_assignments=False),
                           report=verify_draw(draw))


@bp.post("/assignments/<int:assignment_id>/dispatch")
@web_role_required(*MANAGERS)
def dispatch(assignment_id: int):
    assignment = assignment_access.find_assignment(assignment_id, current_user, "manage")
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash("派发需要勾选确认。", "error")
        return redirect(url_for("web_draws.show_draw", draw_id=assignment.draw_id))
    code = assignment_service.dispatch(assignment, current_user, channel="web")
    # The code is rendered into this one response and never stored: no redirect, no flash.
    response = render_template("draws/dispatched.html",
                               assignment=assignment_reading.summary(assignment, current_user), code=code,
                               window_end=as_utc(assignment.window_end).astimezone(CHINA_STANDARD_TIME))
    return response, 200, {"Cache-Control": "no-store"}
