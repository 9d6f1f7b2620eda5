"""Accountability pages (倒查责任): a period's failures traced along the four-party responsibility
with the measures the thresholds suggest and charts of the same numbers; the draft report as a
PDF; accountability cases — opened, reviewed and issued by the office — with their findings."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict
from wtforms import DateField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from ...access import authorize, policy_for, web_role_required
from ...columns import china_today
from ...enforcement.documents import Document
from ...errors import Problem
from ...extensions import db
from ...jobs.web.answers import file_or_job_page
from ...pdf.charts import bar_chart, day_chart
from ...registry.models.reference import County
from ...web.chinese_form import ChineseForm
from ...web.forms import ConfirmForm, check_period
from ...web.navigation import add_nav_item
from ...web.query_args import choice_arg, page_number
from ...web.signed_in import signed_in_user
from .. import accountability
from .. import accountability_cases as service
from ..jobs import draft_job
from ..models.accountability import AccountabilityCase
from ..statistics import MAX_PERIOD_DAYS

bp = Blueprint("web_accountability", __name__, url_prefix="/accountability", template_folder="templates")

_grants = policy_for(AccountabilityCase).grants
READERS = tuple(_grants["read"])
MANAGERS = tuple(_grants["manage"])

add_nav_item("倒查问责", "web_accountability.findings", READERS)

# The service's field names in its refusals, and this page's.
SERVICE_FIELDS = {"from": "date_from", "to": "date_to", "county": "county"}


class PeriodForm(ChineseForm):
    """A period (China-time dates, both inclusive) and optionally one county."""

    date_from = DateField("开始日期", validators=[InputRequired(message="请填写开始日期。")])
    date_to = DateField("结束日期", validators=[InputRequired(message="请填写结束日期。")])
    county = SelectField("县（市、区）", default="")

    def validate_date_to(self, field):
        check_period(self.date_from.data, field.data, MAX_PERIOD_DAYS)


class PeriodFilterForm(PeriodForm):
    class Meta:
        csrf = False


class ReviewForm(ChineseForm):
    note = TextAreaField("审核意见（可不填）", validators=[Optional(), Length(max=2000, message="审核意见不超过 2000 个字符。")])


def _with_counties(form: PeriodForm) -> PeriodForm:
    counties = db.session.scalars(db.select(County).order_by(County.sort_order, County.code))
    form.county.choices = [SelectChoice("", "全市")] + [SelectChoice(c.code, c.name) for c in counties]
    return form


def _county_id(code: str | None) -> int | None:
    return db.session.scalar(db.select(County.id).where(County.code == code)) if code else None


def _period_filter() -> PeriodFilterForm:
    """The period of the query string; by default the seven days up to yesterday, as on the
    statistics page."""
    yesterday = china_today() - timedelta(days=1)
    defaults = MultiDict({"date_from": (yesterday - timedelta(days=6)).isoformat(),
                          "date_to": yesterday.isoformat(), "county": ""})
    given = any(name in request.args for name in defaults)
    return _with_counties(PeriodFilterForm(formdata=request.args if given else defaults))


def _charts(findings: dict) -> dict:
    return {"county": bar_chart(findings["by_county"], "各县（市、区）违规问题数"),
            "department": bar_chart(findings["by_department"], "各责任部门违规问题数"),
            "day": day_chart(findings["by_day"], "每日违规问题数")}


def _period_query(form: PeriodForm) -> dict:
    return {"date_from": form.date_from.data.isoformat(), "date_to": form.date_to.data.isoformat(),
            **({"county": form.county.data} if form.county.data else {})}


@bp.get("")
@web_role_required(*READERS)
def findings():
    form = _period_filter()
    findings = None
    if form.validate():
        findings = accountability.trace(date_from=form.date_from.data, date_to=form.date_to.data,
                                        county_id=_county_id(form.county.data), user=signed_in_user())
    can_manage = current_user.role in MANAGERS
    create_form = None
    if can_manage and findings is not None:
        create_form = _with_counties(PeriodForm(formdata=None, data={
            "date_from": form.date_from.data, "date_to": form.date_to.data, "county": form.county.data}))
    return render_template(
        "accountability/findings.html", form=form, findings=findings,
        charts=_charts(findings) if findings else {}, query=_period_query(form) if findings else {},
        create_form=create_form, labels=accountability), 200 if findings is not None else 422


@bp.get("/report.pdf")
@web_role_required(*READERS)
def preview_report():
    """The report of the period as a draft (样稿): no number, not issued; opened in the browser.
    Rendered by a background job: the page waits ("生成中…") until the file is there."""
    form = _period_filter()
    if not form.validate():
        abort(400)
    return file_or_job_page(draft_job(date_from=form.date_from.data, date_to=form.date_to.data,
                                      county_id=_county_id(form.county.data), user=signed_in_user()))


@bp.get("/cases")
@web_role_required(*READERS)
def list_cases():
    state = choice_arg("state", service.STATE_LABELS)
    page = service.list_cases(signed_in_user(), state=state, page=page_number())
    return render_template("accountability/cases.html", page=page, state=state or "", labels=service)


@bp.post("/cases")
@web_role_required(*MANAGERS)
def create_case():
    form = _with_counties(PeriodForm())
    problem = None
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                case = service.create_case(signed_in_user(), date_from=form.date_from.data, date_to=form.date_to.data,
                                           county_code=form.county.data or None, channel="web")
        except Problem as exc:
            problem = exc
            for name in exc.errors or {}:
                field = getattr(form, SERVICE_FIELDS.get(name, name), None)
                if field is not None:
                    field.errors = [*field.errors, exc.detail]
        else:
            flash(f"已建立第 {case.id} 号倒查问责报告（草稿），请核对倒查结果后审核。", "success")
            return redirect(url_for("web_accountability.show_case", case_id=case.id))
    return render_template("accountability/new.html", form=form, problem=problem), 422


def _render_case(case: AccountabilityCase, *, review=None, problem=None, status=200):
    summary = service.case_summary(case, signed_in_user())
    can_manage = current_user.role in MANAGERS
    try:
        authorize(signed_in_user(), "download", Document)
        can_download = True
    except Problem:
        can_download = False
    query = {"date_from": case.date_from.isoformat(), "date_to": case.date_to.isoformat(),
             **({"county": case.county.code} if case.county else {})}
    # Four eyes: the drafter is shown why the review or issue form is not offered, instead of it.
    step = {"draft": "review", "reviewed": "issue"}.get(case.state)
    refusal = service.four_eyes_refusal(case, signed_in_user(), step) if can_manage and step else None
    return render_template(
        "accountability/case.html", case=case, summary=summary, findings=summary["findings"],
        charts=_charts(summary["findings"]), query=query, can_manage=can_manage, can_download=can_download,
        four_eyes_refusal=refusal,
        review=review or ReviewForm(formdata=None), confirm=ConfirmForm(formdata=None), problem=problem,
        labels=service), status


@bp.get("/cases/<int:case_id>")
@web_role_required(*READERS)
def show_case(case_id: int):
    return _render_case(service.find_case(case_id, signed_in_user()))


@bp.post("/cases/<int:case_id>/review")
@web_role_required(*MANAGERS)
def review_case(case_id: int):
    case = service.find_case(case_id, signed_in_user(), "manage")
    form = ReviewForm()
    if not form.validate_on_submit():
        return _render_case(case, review=form, status=422)
    try:
        with db.session.begin_nested():
            service.review_case(case, signed_in_user(), note=(form.note.data or "").strip() or None, channel="web")
    except Problem as exc:
        db.session.refresh(case)
        return _render_case(case, review=form, problem=exc, status=exc.status)
    flash("报告已审核，可以印发。", "success")
    return redirect(url_for("web_accountability.show_case", case_id=case.id))


@bp.post("/cases/<int:case_id>/issue")
@web_role_required(*MANAGERS)
def issue_case(case_id: int):
    case = service.find_case(case_id, signed_in_user(), "manage")
    if not ConfirmForm().validate_on_submit():
        flash("印发需要勾选确认。", "error")
        return redirect(url_for("web_accountability.show_case", case_id=case.id))
    try:
        with db.session.begin_nested():
            service.issue_case(case, signed_in_user(), channel="web")
    except Problem as exc:
        db.session.refresh(case)
        return _render_case(case, problem=exc, status=exc.status)
    flash(f"报告已印发：{case.document.number}。", "success")
    return redirect(url_for("web_accountability.show_case", case_id=case.id))
