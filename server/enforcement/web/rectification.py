"""Pages for rectification orders: the office's list of overdue orders (and the open ones), and
the form on a case page that orders the case's violations put right."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import DateField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ...access import web_role_required
from ...draws import assignments as assignment_service
from ...errors import Problem
from ...extensions import db
from ...web.chinese_form import ChineseForm
from ...web.navigation import add_nav_item
from ...web.signed_in import signed_in_user
from .. import rectification as service
from .. import rectification_issuing as issuing
from ..cases import find_case

bp = Blueprint("web_rectification", __name__, template_folder="templates")

READERS = ("office", "enforcement", "admin")
# The case page holds one form per transition, each with its own prefix; this one too.
FORM_PREFIX = "rectification"

add_nav_item("整改复查", "web_rectification.list_orders", ("office", "enforcement"))


class IssueOrderForm(ChineseForm):
    """责令限期整改 for the case's violations."""

    deadline = DateField("整改期限（最后一天）", validators=[DataRequired(message="请填写整改期限。")])
    requirements = TextAreaField("整改要求", validators=[DataRequired(message="请填写整改要求。"), Length(max=2000)])
    legal_basis = TextAreaField("法律依据（可选）", validators=[Optional(), Length(max=2000)])


def rectification_for_case(case_id: int) -> dict:
    """For the case page: the case's orders, and the issuing form for those who may issue."""
    from ..models.case import EnforcementCase

    case = db.session.get(EnforcementCase, case_id)
    orders = service.orders_of_case(case) if case is not None else []
    form = None
    if current_user.role in service.ISSUERS and case is not None and case.state not in service.CLOSED_CASE_STATES:
        form = IssueOrderForm(formdata=None, prefix=FORM_PREFIX,
                              data={"deadline": service.china_today() + timedelta(days=7)})
    # Each order's state as this reader may see it (shown_state: a drawn re-inspection stays hidden).
    return {"orders": orders, "form": form,
            "order_labels": {order.id: service.shown_state(order, current_user)[1] for order in orders}}


@bp.get("/rectification")
@web_role_required(*READERS)
def list_orders():
    user = signed_in_user()
    today = service.china_today()
    overdue = service.overdue_orders(today, user=user)
    overdue_ids = {order.id for order in overdue}
    pending = [order for order in service.list_orders(user, on=today)
               if order.state in service.OPEN_STATES and order.id not in overdue_ids]
    labels = {order.id: service.shown_state(order, user, today)[1] for order in [*overdue, *pending]}
    return render_template("rectification/list.html", overdue=overdue, pending=pending, today=today,
                           labels=labels, assignment_labels=assignment_service.STATUS_LABELS,
                           show_reinspection=service.may_read_reinspection(user))


@bp.post("/cases/<int:case_id>/rectification")
@web_role_required(*service.ISSUERS)
def issue_for_case(case_id: int):
    user = signed_in_user()
    case = find_case(case_id, user)
    form = IssueOrderForm(prefix=FORM_PREFIX)
    target = redirect(url_for("web_cases.show_case", case_id=case.id) + "#rectification")
    if not form.validate_on_submit():
        flash("责令整改：" + "；".join(m for messages in form.errors.values() for m in messages), "error")
        return target
    try:
        with db.session.begin_nested():
            order = issuing.issue_order([], case=case, deadline=form.deadline.data,
                                        requirements=form.requirements.data, legal_basis=form.legal_basis.data,
                                        actor=user, channel="web")
    except Problem as exc:
        flash("责令整改：" + exc.detail + ("（" + "；".join(" ".join(m) for m in exc.errors.values()) + "）"
                                         if exc.errors else ""), "error")
        return target
    flash(f"已发出第 {order.id} 号整改通知，整改期限至 {order.deadline.isoformat()}。", "success")
    return target
