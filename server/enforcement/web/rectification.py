"""Pages for rectification orders: the office's list of overdue orders (and the open ones, and the
reports waiting for its decision), the form on a case page that orders the case's violations put
right, and one order's page, where the county or department answerable for the venue reports it
put right with a note and photos and the office confirms the report or sends it back."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from flask_wtf.file import MultipleFileField
from werkzeug.exceptions import RequestEntityTooLarge
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
from .. import rectification_reports as reports
from ..cases import find_case

bp = Blueprint("web_rectification", __name__, template_folder="templates")

READERS = ("office", "enforcement", "admin")
# Who may open one order's page: its readers and the department and county it concerns (and the
# auditor, who reads orders too); scope is checked per order (`find_order`).
ORDER_READERS = (*READERS, "department", "county", "auditor")
# A report's request: the photos at their limit plus the note and the multipart framing.
REPORT_ALLOWANCE = 64 * 1024
# The case page holds one form per transition, each with its own prefix; this one too.
FORM_PREFIX = "rectification"

add_nav_item("整改复查", "web_rectification.list_orders", ("office", "enforcement"))


class IssueOrderForm(ChineseForm):
    """责令限期整改 for the case's violations."""

    deadline = DateField("整改期限（最后一天）", validators=[DataRequired(message="请填写整改期限。")])
    requirements = TextAreaField("整改要求", validators=[DataRequired(message="请填写整改要求。"), Length(max=2000)])
    legal_basis = TextAreaField("法律依据（可选）", validators=[Optional(), Length(max=2000)])


class ReportDoneForm(ChineseForm):
    """整改完成: what was done, with photos of the venue put right (checked by the service)."""

    note = TextAreaField("整改情况说明", validators=[
        DataRequired(message="请填写整改情况说明。"),
        Length(max=reports.MAX_NOTE, message=f"不能超过 {reports.MAX_NOTE} 个字。")])
    photos = MultipleFileField("整改后的照片", render_kw={"accept": "image/jpeg,image/png", "multiple": True})


class ReturnReportForm(ChineseForm):
    reason = TextAreaField("退回原因", validators=[DataRequired(message="请填写退回原因。"),
                                               Length(max=reports.MAX_REASON,
                                                      message=f"不能超过 {reports.MAX_REASON} 个字。")])


class ConfirmReportForm(ChineseForm):
    """Only the CSRF token: confirming needs nothing else."""


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
    waiting = reports.waiting_reports(user) if reports.may(user, "review_report", service.RectificationOrder) else []
    return render_template("rectification/list.html", overdue=overdue, pending=pending, today=today,
                           labels=labels, assignment_labels=assignment_service.STATUS_LABELS,
                           show_reinspection=service.may_read_reinspection(user), waiting=waiting,
                           reported_as_labels=reports.REPORTED_AS_LABELS)


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


# --- one order, and reports that it is put right -------------------------------------------------


def _photo_url(report, position, variant):
    return url_for("web_rectification.report_photo", order_id=report.order_id, report_id=report.id,
                   position=position, variant=variant)


def _order_page(order, user, *, report_form=None, return_form=None, status=200):
    today = service.china_today()
    may_review = reports.may(user, "review_report", order)
    may_report = reports.may_report(user, order)
    return render_template(
        "rectification/order.html", order=service.detail(order, user, today),
        reports=[reports.report_summary(report, _photo_url) for report in reports.reports_of(order)],
        report_form=(report_form or ReportDoneForm(formdata=None)) if may_report else None,
        may_review=may_review and order.state in service.OPEN_STATES,
        return_form=return_form or ReturnReportForm(formdata=None), confirm_form=ConfirmReportForm(formdata=None),
        max_photos=reports.MAX_PHOTOS, max_photo_size=reports.size_text(reports.MAX_PHOTO_BYTES),
        confirmed=order.rectification_confirmed_at is not None), status


@bp.get("/rectification/<int:order_id>")
@web_role_required(*ORDER_READERS)
def show_order(order_id):
    user = signed_in_user()
    return _order_page(service.find_order(order_id, user), user)


@bp.post("/rectification/<int:order_id>/reports")
@web_role_required("county", "department")
def report_done(order_id):
    user = signed_in_user()
    order = service.find_order(order_id, user, "report")
    limit = reports.MAX_PHOTOS * (reports.MAX_PHOTO_BYTES + REPORT_ALLOWANCE)
    each = reports.size_text(reports.MAX_PHOTO_BYTES)
    too_large = f"提交的照片过大：最多 {reports.MAX_PHOTOS} 张，每张不超过 {each}。"
    if request.content_length is not None and request.content_length > limit:
        flash(too_large, "error")
        return redirect(url_for(".show_order", order_id=order.id))
    request.max_content_length = limit  # a body sent without a length is cut off at the limit too
    try:
        form = ReportDoneForm()
        valid = form.validate_on_submit()
    except RequestEntityTooLarge:
        flash(too_large, "error")
        return redirect(url_for(".show_order", order_id=order.id))
    uploads = [upload for upload in (form.photos.data or []) if getattr(upload, "filename", "")]
    if not uploads:
        form.photos.errors = [*form.photos.errors, "请至少上传一张整改后的照片。"]
        valid = False
    if not valid:
        return _order_page(order, user, report_form=form, status=422)
    photos = [reports.PhotoUpload(upload.filename, upload.read(reports.MAX_PHOTO_BYTES + 1)) for upload in uploads]
    try:
        with db.session.begin_nested():
            reports.submit_report(order, note=form.note.data, photos=photos, actor=user, channel="web")
    except Problem as exc:
        if exc.errors:
            for name, messages in exc.errors.items():
                getattr(form, name).errors = [*getattr(form, name).errors, *messages]
            return _order_page(order, user, report_form=form, status=exc.status)
        flash(exc.detail, "error")
        return redirect(url_for(".show_order", order_id=order.id))
    flash("已报告整改完成，等待领导小组办公室确认；确认后将安排复查。", "success")
    return redirect(url_for(".show_order", order_id=order.id))


@bp.post("/rectification/<int:order_id>/reports/<int:report_id>/confirm")
@web_role_required("office")
def confirm_report(order_id, report_id):
    user = signed_in_user()
    order = service.find_order(order_id, user, "review_report")
    report = reports.find_report(order, report_id)
    if not ConfirmReportForm().validate_on_submit():
        flash("页面已过期，请刷新后重试。", "error")
        return redirect(url_for(".show_order", order_id=order.id))
    try:
        with db.session.begin_nested():
            reports.confirm_report(report, actor=user, channel="web")
    except Problem as exc:
        flash(exc.detail, "error")
        return redirect(url_for(".show_order", order_id=order.id))
    flash(f"已确认第 {order.id} 号整改通知整改完成；下一次复查安排将为该场所抽取复查督查组。", "success")
    return redirect(url_for(".show_order", order_id=order.id))


@bp.post("/rectification/<int:order_id>/reports/<int:report_id>/return")
@web_role_required("office")
def return_report(order_id, report_id):
    user = signed_in_user()
    order = service.find_order(order_id, user, "review_report")
    report = reports.find_report(order, report_id)
    form = ReturnReportForm()
    if not form.validate_on_submit():
        return _order_page(order, user, return_form=form, status=422)
    try:
        with db.session.begin_nested():
            reports.return_report(report, reason=form.reason.data, actor=user, channel="web")
    except Problem as exc:
        flash(exc.detail, "error")
        return redirect(url_for(".show_order", order_id=order.id))
    flash("已退回整改完成报告；属地或部门可补充整改后重新报告。", "success")
    return redirect(url_for(".show_order", order_id=order.id))


@bp.get("/rectification/<int:order_id>/reports/<int:report_id>/photos/<int:position>/<variant>")
@web_role_required(*ORDER_READERS)
def report_photo(order_id, report_id, position, variant):
    """A report's photo, re-encoded without EXIF or GPS, for readers of the order."""
    order = service.find_order(order_id, signed_in_user())
    evidence, path = reports.report_photo_file(reports.find_report(order, report_id), position, variant)
    return send_file(path, mimetype="image/jpeg", etag=f"{evidence.sha256}-{variant}", conditional=True,
                     download_name=f"{evidence.sha256}-{variant}.jpg")
