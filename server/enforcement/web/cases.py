"""Pages for penalty cases: the violation queue (open a case or decline), the case queue with
filters, and the case page with evidence, history, one form per allowed transition, the draft of
the document the next transition issues and the case's issued documents."""

from __future__ import annotations

import copy
from io import BytesIO

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from ...access import authorize, web_role_required
from ...columns import as_utc
from ...errors import Invalid, Problem
from ...extensions import db
from ...field import evidence_store as evidence_service
from ...field.models.inspection import Inspection
from ...registry.models.reference import CIRCUMSTANCE_LABELS, County, Department, Rule
from ...registry.models.venue import Venue
from ...web.navigation import add_nav_item
from ...web.query_args import choice_arg, flag_arg, int_arg, page_number
from ...web.signed_in import signed_in_user
from .. import case_documents, case_facts, legal_bases, rectification_documents
from .. import case_opening as opening
from .. import case_transitions as transitions
from .. import cases as service
from .. import documents as document_service
from ..models.case import CASE_STATES
from ..models.rectification import RectificationOrder, RectificationOrderViolation
from .case_forms import CONFIRMED_TRANSITIONS, show_service_errors, transition_data, transition_form
from .open_case_form import DeclineForm, OpenCaseForm, show_refusal, violation_choices

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
    titles = dict(db.session.execute(db.select(Rule.code, Rule.title).where(
        Rule.code.in_({violation.rule_code for violation in violations}))).all())
    return render_template("cases/violations.html", violations=violations, decline=form, venues=venues,
                           rule_titles=titles,
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


def _officer_choices(form: OpenCaseForm) -> None:
    officers = [SelectChoice(u.id, f"{u.display_name}（执法证 {u.enforcement_certificate_no}）")
                for u in service.officers_available()]
    form.officer1.choices = officers
    form.officer2.choices = officers
    if request.method == "GET" and current_user.role == "enforcement" and any(
            choice.value == current_user.id for choice in officers):
        form.officer1.data = current_user.id


def _ids(values) -> list[int]:
    return [int(v) for v in values if isinstance(v, str) and v.isdigit() and int(v) < 2**31]


def _venue_of_request(form: OpenCaseForm, open_by_id: dict) -> Venue | None:
    """The venue the case is opened against: the form's own (after a refusal too), else that of
    the ticked violations when they are all of one venue (`?venue=` names it outright)."""
    ident = form.venue_ident() if request.method == "POST" else int_arg("venue")
    if ident is None:
        ticked = {open_by_id[i].venue_id for i in _ids(request.values.getlist(
            "violation_ids" if request.method == "POST" else "violation")) if i in open_by_id}
        ident = ticked.pop() if len(ticked) == 1 else None
    return db.session.get(Venue, ident) if ident is not None else None


def _mixed_selection(open_by_id: dict) -> dict[Venue, list]:
    """Violations ticked on the queue that belong to several venues, by venue."""
    groups: dict[int, list] = {}
    for ident in _ids(request.args.getlist("violation")):
        if ident in open_by_id:
            groups.setdefault(open_by_id[ident].venue_id, []).append(open_by_id[ident])
    if len(groups) < 2:
        return {}
    venues = {v.id: v for v in db.session.scalars(db.select(Venue).where(Venue.id.in_(groups)))}
    return {venues[venue_id]: violations for venue_id, violations in groups.items()}


def _check_one_venue(form: OpenCaseForm, venue: Venue, foreign: list) -> bool:
    if foreign:
        form.violation_ids.errors = [*form.violation_ids.errors,
                                     opening.mixed_venues_message({venue.id, *(v.venue_id for v in foreign)})]
    return not foreign


def _check_party(form: OpenCaseForm) -> bool:
    """What the service will require of the party (which items its kind needs), shown with the rest."""
    try:
        opening.check_party(form.party())
    except Problem as exc:
        show_refusal(form, exc.errors)
        return False
    return True


def _check_party_county(form: OpenCaseForm, venue: Venue) -> bool:
    """An address naming another county than the venue's needs the officer's confirmation."""
    other = opening.other_county_named(form.party_address.data, venue.county)
    if other is None or form.party_address_confirmed.data:
        return True
    form.party_address.errors = [*form.party_address.errors,
                                 f"地址在{other.name}，不在本案场所所在的{venue.county.name}。当事人住所（注册地）确在"
                                 f"{other.name}的，请勾选下方的确认后再立案。"]
    return False


def _render_new(form: OpenCaseForm | None, status: int = 200, *, venue: Venue | None = None, **context):
    # The confirmation is offered only while the address names another county.
    elsewhere = venue is not None and form is not None and request.method == "POST" and \
        opening.other_county_named(form.party_address.data, venue.county) is not None
    return render_template("cases/new.html", form=form, venue=venue, address_elsewhere=elsewhere,
                           **{"problem": None, "mixed": {}, **context}), status


@bp.route("/cases/new", methods=["GET", "POST"])
@web_role_required(*ACTORS)
def new_case():
    user = signed_in_user()
    open_by_id = {v.id: v for v in opening.open_violations(user)}
    form = OpenCaseForm()
    _officer_choices(form)
    venue = _venue_of_request(form, open_by_id)
    if venue is None:
        mixed = _mixed_selection(open_by_id) if request.method == "GET" else {}
        labels = {choice.value: choice.label for choice in violation_choices([v for vs in mixed.values() for v in vs])}
        return _render_new(None, 200 if request.method == "GET" else 422, mixed=mixed, mixed_labels=labels,
                           mixed_error=mixed and opening.mixed_venues_message([other.id for other in mixed]))
    form.venue_id.data = str(venue.id)
    offered = [v for v in open_by_id.values() if v.venue_id == venue.id]
    # Ticked violations of other venues stay on the form, named, so the refusal says which they are.
    foreign = [open_by_id[i] for i in _ids(request.form.getlist("violation_ids"))
               if i in open_by_id and open_by_id[i].venue_id != venue.id]
    form.violation_ids.choices = violation_choices(offered + foreign)
    if request.method == "GET":
        chosen = [v for v in offered if v.id in _ids(request.args.getlist("violation"))] or offered
        form.violation_ids.data = [v.id for v in chosen]
        form.propose_party(opening.proposed_party(venue))
        # Proposed from the record for the officer to edit; composed again at 立案 when left as it is.
        form.facts.data = form.facts_proposed.data = case_facts.compose_facts(chosen, opening.proposed_party(venue))
        return _render_new(form, venue=venue)
    # Every check at once, so that one round of corrections is enough: the form's own, one venue,
    # the party complete for its kind, its address in the venue's county or confirmed.
    checks = [form.validate_on_submit(), _check_one_venue(form, venue, foreign), _check_party(form),
              _check_party_county(form, venue)]
    if not all(checks):
        return _render_new(form, 422, venue=venue)
    try:
        with db.session.begin_nested():
            case = opening.open_case(form.violation_ids.data, officers=[form.officer1.data, form.officer2.data],
                                     party=form.party(), circumstance=form.circumstance.data,
                                     facts=form.officer_facts(), actor=user, channel="web")
    except Problem as exc:
        # The field messages go next to their fields; the box above keeps the reason and the rest.
        shown = copy.copy(exc)
        shown.errors = show_refusal(form, exc.errors) or None
        return _render_new(form, exc.status, problem=shown, venue=venue)
    flash(f"已立案：第 {case.id} 号案件。", "success")
    return redirect(url_for("web_cases.show_case", case_id=case.id))


def _issued_documents(case) -> list[dict]:
    """Every document issued for the case, oldest first: its own (告知书, 决定书), the 责令（限期）
    整改通知书 of the orders on its violations (issued with the case, before it, or the order whose
    failed re-inspection led to it) and the 检查记录 of the inspections that found them."""
    violation_ids = [link.violation_id for link in case.links]
    orders = db.session.scalars(db.select(RectificationOrder).where(sa.or_(
        RectificationOrder.case_id == case.id, RectificationOrder.escalated_case_id == case.id,
        RectificationOrder.id.in_(db.select(RectificationOrderViolation.order_id).where(
            RectificationOrderViolation.violation_id.in_(violation_ids))))).order_by(RectificationOrder.id))
    inspections = db.session.scalars(db.select(Inspection).where(
        Inspection.id.in_({link.violation.inspection_id for link in case.links})).order_by(Inspection.id))
    documents = [*case_documents.documents_of(case), *map(rectification_documents.notice_of, orders),
                 *map(document_service.record_document_of, inspections)]
    return [service.document_summary(document)
            for document in sorted({d.id: d for d in documents if d is not None}.values(),
                                   key=lambda d: (as_utc(d.issued_at), d.id))]


def _render_case(case, forms=None, problem=None, status=200):
    forms = forms or {}
    for to_state in service.allowed_next(case):
        if to_state not in forms:
            forms[to_state] = transition_form(to_state, case, formdata=None, data={"version": case.version})
    can_act = current_user.role in ACTORS
    # The case's violations as the officer knows them (venue, time, rule), not by their codes.
    violation_labels = [choice.label for choice in violation_choices(service.case_violations(case))]
    return render_template("cases/detail.html", case=service.detail(case), documents=_issued_documents(case),
                           violation_labels=violation_labels,
                           forms=forms if can_act else {},
                           confirmed=CONFIRMED_TRANSITIONS, problem=problem, labels=service,
                           circumstance_labels=CIRCUMSTANCE_LABELS,
                           inspectors_proposed=service.proposed_by_inspectors(case),
                           citations=legal_bases.citations(),
                           document_titles={kind: document_service.document_kind(kind).title
                                            for kind in case_documents.CASE_KINDS},
                           signing_notices=_signing_notices(case)), status


def _signing_notices(case) -> list[str]:
    """What the officer must know before issuing: organs of the case's documents without a key."""
    organs = dict.fromkeys(case_documents.case_organ(case, kind).name for kind in case_documents.CASE_KINDS)
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
    form = transition_form(to_state, case)
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
