"""Pages for penalty cases: the violation queue (open a case or decline), the case queue with
filters, and the case page with evidence, history, one form per allowed transition, the draft of
the document the next transition issues and the case's issued documents."""

from __future__ import annotations

import copy
from io import BytesIO

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from ...access import authorize, web_role_required
from ...errors import Invalid, Problem
from ...extensions import db
from ...field import evidence_store as evidence_service
from ...registry.models.reference import CIRCUMSTANCE_LABELS, County, Department
from ...registry.models.venue import Venue
from ...web.navigation import add_nav_item
from ...web.query_args import choice_arg, flag_arg, int_arg, page_number
from ...web.signed_in import signed_in_user
from .. import case_documents, case_facts, legal_bases
from .. import case_opening as opening
from .. import case_transitions as transitions
from .. import cases as service
from .. import documents as document_service
from ..models.case import CASE_STATES
from .case_forms import CONFIRMED_TRANSITIONS, show_service_errors, transition_data, transition_form
from .open_case_form import DeclineForm, OpenCaseForm

bp = Blueprint("web_cases", __name__, template_folder="templates")

READERS = service.READERS
ACTORS = ("enforcement",)

add_nav_item("执法办案", "web_cases.list_cases", ("enforcement", "office", "admin"))


def _filters_context() -> dict:
    return {
        "counties": list(db.session.scalars(db.select(County).order_by(County.sort_order, County.code))),
        "departments": list(db.session.scalars(db.select(Department).order_by(Department.sort_order,
                                                                             Department.code))),
    }


@bp.get("/cases")
@web_role_required(*READERS)
def list_cases():
    state = choice_arg("state", CASE_STATES)
    filters = {"state": state or "", "county_id": int_arg("county_id"), "department_id": int_arg("department_id"),
               "overdue": request.args.get("overdue", "")}
    page = service.list_cases(signed_in_user(), state=state, county_id=filters["county_id"],
                              department_id=filters["department_id"], overdue=flag_arg("overdue"),
                              page=page_number())
    return render_template("cases/list.html", page=page, filters=filters, labels=service.STATE_LABELS,
                           is_overdue=service.is_overdue, **_filters_context())


@bp.get("/violations")
@web_role_required(*READERS)
def list_violations():
    violations = opening.open_violations(signed_in_user(), county_id=int_arg("county_id"),
                                         department_id=int_arg("department_id"),
                                         rule_code=request.args.get("rule") or None)
    form = DeclineForm()
    form.violation_ids.choices = [SelectChoice(v.id, str(v.id)) for v in violations]
    venues = {v.id: v for v in db.session.scalars(
        db.select(Venue).where(Venue.id.in_({violation.venue_id for violation in violations})))}
    return render_template("cases/violations.html", violations=violations, decline=form, venues=venues,
                           can_act=current_user.role in ACTORS,
                           filters={"county_id": int_arg("county_id"), "department_id": int_arg("department_id"),
                                    "rule": request.args.get("rule", "")}, **_filters_context())


@bp.post("/violations/decline")
@web_role_required(*ACTORS)
def decline():
    form = DeclineForm()
    form.violation_ids.choices = [SelectChoice(v.id, str(v.id)) for v in opening.open_violations(signed_in_user())]
    if not form.validate_on_submit():
        flash("不予立案：" + "；".join(m for messages in form.errors.values() for m in messages), "error")
        return redirect(url_for("web_cases.list_violations"))
    try:
        with db.session.begin_nested():
            rows = opening.decline_violations(form.violation_ids.data, reason=form.reason.data, actor=signed_in_user(),
                                              channel="web")
    except Problem as exc:
        flash(exc.detail, "error")
    else:
        flash(f"已对 {len(rows)} 条违规问题决定不予立案。", "success")
    return redirect(url_for("web_cases.list_violations"))


def _open_form(selected: list[int]) -> OpenCaseForm:
    form = OpenCaseForm()
    open_ids = {v.id: v for v in opening.open_violations(signed_in_user())}
    form.violation_ids.choices = [SelectChoice(vid, f"{vid}：{v.rule_code} {v.description}")
                                  for vid, v in open_ids.items() if vid in selected or request.method == "POST"]
    officers = [SelectChoice(u.id, f"{u.display_name}（执法证 {u.enforcement_certificate_no}）")
                for u in service.officers_available()]
    form.officer1.choices = officers
    form.officer2.choices = officers
    if request.method == "GET":
        form.violation_ids.data = [vid for vid in selected if vid in open_ids]
        chosen = [open_ids[vid] for vid in form.violation_ids.data]
        if chosen and len({v.venue_id for v in chosen}) == 1:
            # Proposed from the record for the officer to edit; the party is not known yet.
            form.facts.data = form.facts_proposed.data = case_facts.compose_facts(chosen)
        if current_user.role == "enforcement" and any(choice.value == current_user.id for choice in officers):
            form.officer1.data = current_user.id
    return form


@bp.route("/cases/new", methods=["GET", "POST"])
@web_role_required(*ACTORS)
def new_case():
    selected = [int(v) for v in request.args.getlist("violation") if v.isdigit() and int(v) < 2**31]
    form = _open_form(selected)
    problem = None
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                case = opening.open_case(form.violation_ids.data, officers=[form.officer1.data, form.officer2.data],
                                         party=form.party(), circumstance=form.circumstance.data,
                                         facts=form.officer_facts(), actor=signed_in_user(), channel="web")
        except Problem as exc:
            problem = exc
        else:
            flash(f"已立案：第 {case.id} 号案件。", "success")
            return redirect(url_for("web_cases.show_case", case_id=case.id))
    status = 200 if request.method == "GET" else (problem.status if problem else 422)
    return render_template("cases/new.html", form=form, problem=problem), status


def _render_case(case, forms=None, problem=None, status=200):
    forms = forms or {}
    for to_state in service.allowed_next(case):
        if to_state not in forms:
            forms[to_state] = transition_form(to_state, formdata=None, data={"version": case.version})
    can_act = current_user.role in ACTORS
    return render_template("cases/detail.html", case=service.detail(case), forms=forms if can_act else {},
                           confirmed=CONFIRMED_TRANSITIONS, problem=problem, labels=service,
                           circumstance_labels=CIRCUMSTANCE_LABELS,
                           inspectors_proposed=service.proposed_by_inspectors(case),
                           citations=legal_bases.citations(),
                           document_titles={kind: document_service.document_kind(kind).title
                                            for kind in case_documents.CASE_KINDS},
                           signing_notices=_signing_notices()), status


def _signing_notices() -> list[str]:
    """What the officer must know before issuing: organs of the case documents without a key."""
    organs = dict.fromkeys(document_service.document_kind(kind).authority for kind in case_documents.CASE_KINDS)
    return [notice for notice in map(document_service.signing_notice, organs) if notice]


@bp.get("/cases/<int:case_id>")
@web_role_required(*READERS)
def show_case(case_id: int):
    return _render_case(service.find_case(case_id, signed_in_user()))


@bp.post("/cases/<int:case_id>/transitions/<to_state>")
@web_role_required(*ACTORS)
def transition(case_id: int, to_state: str):
    case = service.find_case(case_id, signed_in_user(), "act")
    if to_state not in service.ACTION_LABELS:
        abort(404)
    form = transition_form(to_state)
    if not form.validate_on_submit():
        return _render_case(case, {to_state: form},
                            Invalid("请检查表单：" + "；".join(m for ms in form.errors.values() for m in ms)), 422)
    try:
        data = transition_data(to_state, form)
    except ValueError:
        abort(400)
    try:
        with db.session.begin_nested():
            transitions.transition(case, to_state, actor=signed_in_user(), channel="web", **data)
    except Problem as exc:
        db.session.refresh(case)
        # The field messages go next to their fields; the box above lists only the others.
        shown = copy.copy(exc)
        shown.errors = show_service_errors(form, exc.errors) or None
        return _render_case(case, {to_state: form}, shown, exc.status)
    flash(f"案件已转入“{service.STATE_LABELS[to_state]}”。", "success")
    return redirect(url_for("web_cases.show_case", case_id=case.id))


@bp.get("/cases/<int:case_id>/documents/<kind>/preview")
@web_role_required(*READERS)
def preview_document(case_id: int, kind: str):
    """The 样稿 of a document the case's next transition issues, from its current data; nothing stored."""
    case = service.find_case(case_id, signed_in_user())
    if kind not in service.detail_previewable(case):
        abort(404)
    data = document_service.preview_document(kind, case_documents.preview_context(case, kind), user=signed_in_user())
    response = send_file(BytesIO(data), mimetype="application/pdf", download_name=f"{kind}-case{case.id}-draft.pdf")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/documents/<document_id>.pdf")
@web_role_required()
def download_document(document_id: str):
    """An issued document's PDF for session-authenticated pages, with the API's access rules:
    those who may not download it get the same 404 as for a document that does not exist."""
    try:
        authorize(signed_in_user(), "download", document_service.Document)
    except Problem:
        abort(404)
    document = document_service.find_document(document_id)
    response = send_file(document_service.document_path(document), mimetype="application/pdf",
                         etag=document.pdf_sha256, conditional=True,
                         download_name=f"{document.kind}-{document.year}-{document.serial}.pdf")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/evidence/<sha256>")
@bp.get("/evidence/<sha256>/<variant>")
@web_role_required()
def evidence(sha256: str, variant: str | None = None):
    """Evidence photos for session-authenticated pages, with the API handler's access rules."""
    row, path = evidence_service.find_evidence(sha256, signed_in_user(), variant)
    media_type = row.media_type if variant is None else "image/jpeg"
    response = send_file(path, mimetype=media_type, etag=f"{row.sha256}-{variant or 'original'}",
                         conditional=True)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
