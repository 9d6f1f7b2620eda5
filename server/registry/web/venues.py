"""Pages of the venue register (场所台账): the list with filters, a venue with its versions,
the create and edit form, closing with a reason, and the import (upload → dry run → confirm).

Office and admin keep the register; the other readers of venues see the list and the venues
within their scope.
"""

from __future__ import annotations

import base64
import binascii

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from ...access import get_authorized, web_role_required
from ...errors import Problem
from ...extensions import db
from ...web.navigation import add_nav_item
from ...web.query_args import choice_arg, int_arg, listed, text_arg
from ..importers import importer_choices, importer_for
from ..models.reference import County, VenueCategory
from ..models.venue import Venue, VenueVersion
from ..venue_changes import close_venue, create_venue, update_venue
from ..venue_import import import_venues  # noqa: F401  (registers the venues' kind of import)
from ..venue_listing import STATES, list_venues
from ..venue_values import format_rooms, values_of
from .venue_forms import CloseVenueForm, ConfirmImportForm, ImportForm, VenueForm

bp = Blueprint("web_venues", __name__, template_folder="templates")

MANAGERS = ("office", "admin")
READERS = ("office", "admin", "auditor", "enforcement", "department", "county")
# The page keeps the checked file in the confirmation form: a few thousand rows at most.
MAX_PAGE_UPLOAD = 2 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHANGE_LABELS = {"created": "登记", "updated": "修改", "merged": "合并", "closed": "关闭"}

add_nav_item("场所台账", "web_venues.list_venues", READERS)


def _choices():
    counties = db.session.scalars(select(County).order_by(County.sort_order, County.code)).all()
    categories = db.session.scalars(select(VenueCategory).order_by(VenueCategory.sort_order,
                                                                   VenueCategory.code)).all()
    return counties, categories


def _venue_form(venue: Venue | None = None) -> VenueForm:
    form = VenueForm()
    counties, categories = _choices()
    form.county.choices = [("", "请选择")] + [(c.code, c.name) for c in counties]
    form.category.choices = [("", "请选择")] + [(c.code, c.name) for c in categories]
    if venue is not None and not form.is_submitted():
        values = values_of(venue)
        for name, value in values.items():
            field = getattr(form, name, None)
            if field is not None:
                field.data = format_rooms(value) if name == "rooms" else ("" if value is None else str(value))
    return form


def _typed(form: VenueForm) -> dict:
    names = ("name", "category", "county", "town", "address", "operator_name", "contact_phone", "credit_code",
             "approved_capacity", "rooms", "longitude", "latitude")
    return {name: (getattr(form, name).data or "").strip() for name in names}


def _show_problem(form, exc: Problem) -> None:
    for name, messages in (exc.errors or {}).items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = list(field.errors) + list(messages)


# Endpoint "list_venues" (the navigation's name); the view is named apart from the service it calls.
@bp.get("/venues", endpoint="list_venues")
@web_role_required(*READERS)
def list_venues_page():
    errors: dict[str, list[str]] = {}
    filters = {"county": text_arg("county"), "category": text_arg("category"), "q": text_arg("q"),
               "state": choice_arg("state", (*STATES, "all")) or "open"}
    page_number = int_arg("page", "页码", errors) or 1
    page = listed(lambda: list_venues(current_user, county=filters["county"], category=filters["category"],
                                      q=filters["q"], state=None if filters["state"] == "all" else filters["state"],
                                      page=page_number), errors)
    counties, categories = _choices()
    return render_template("venues/list.html", page=page, filters=filters, errors=errors, counties=counties,
                           categories=categories, states=STATES,
                           can_manage=current_user.role in MANAGERS), 400 if errors else 200


@bp.route("/venues/new", methods=["GET", "POST"])
@web_role_required(*MANAGERS)
def new_venue():
    form = _venue_form()
    problem = None
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                venue, created = create_venue(current_user, _typed(form), merge=form.merge.data, channel="web")
        except Problem as exc:
            problem = exc
            _show_problem(form, exc)
        else:
            flash(f"已登记场所“{venue.name}”。" if created else f"已合并到已登记的场所“{venue.name}”。", "success")
            return redirect(url_for("web_venues.show_venue", venue_id=venue.id))
    return render_template("venues/form.html", form=form, problem=problem, venue=None), \
        422 if form.errors or problem else 200


@bp.get("/venues/<int:venue_id>")
@web_role_required(*READERS)
def show_venue(venue_id: int, close_form: CloseVenueForm | None = None, problem: Problem | None = None):
    venue = get_authorized(Venue, venue_id, current_user)
    versions = db.session.scalars(select(VenueVersion).where(VenueVersion.venue_id == venue.id)
                                  .order_by(VenueVersion.version.desc())).all()
    return render_template("venues/detail.html", venue=venue, versions=versions, change_labels=CHANGE_LABELS,
                           close_form=close_form or CloseVenueForm(formdata=None), problem=problem,
                           can_manage=current_user.role in MANAGERS)


@bp.route("/venues/<int:venue_id>/edit", methods=["GET", "POST"])
@web_role_required(*MANAGERS)
def edit_venue(venue_id: int):
    venue = get_authorized(Venue, venue_id, current_user, "manage")
    if venue.is_closed:
        flash("该场所已关闭，不能修改。", "error")
        return redirect(url_for("web_venues.show_venue", venue_id=venue.id))
    form = _venue_form(venue)
    problem = None
    if form.validate_on_submit():
        try:
            with db.session.begin_nested():
                update_venue(venue, current_user, _typed(form), channel="web")
        except Problem as exc:
            problem = exc
            _show_problem(form, exc)
        else:
            flash("已保存修改。", "success")
            return redirect(url_for("web_venues.show_venue", venue_id=venue.id))
    return render_template("venues/form.html", form=form, problem=problem, venue=venue), \
        422 if form.errors or problem else 200


@bp.post("/venues/<int:venue_id>/close")
@web_role_required(*MANAGERS)
def close(venue_id: int):
    venue = get_authorized(Venue, venue_id, current_user, "manage")
    form = CloseVenueForm()
    if not form.validate_on_submit():
        return show_venue(venue_id, close_form=form), 422
    try:
        with db.session.begin_nested():
            close_venue(venue, current_user, form.reason.data, channel="web")
    except Problem as exc:
        _show_problem(form, exc)
        return show_venue(venue_id, close_form=form, problem=exc), exc.status
    flash("场所已关闭：保留记录，不再参加抽查。", "success")
    return redirect(url_for("web_venues.show_venue", venue_id=venue.id))


@bp.get("/venues/template.<kind>")
@web_role_required(*MANAGERS)
def template(kind: str):
    importer = importer_for(text_arg("for") or "venues")
    if kind not in ("xlsx", "csv") or importer is None:
        abort(404)
    name = f"{text_arg('for') or 'venues'}-template.{kind}"
    return Response(importer.template(kind), mimetype=XLSX if kind == "xlsx" else "text/csv",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


def _import_form(**options) -> ImportForm:
    form = ImportForm(**options)
    form.kind.choices = importer_choices()
    return form


def _run_import(kind: str, content: bytes, filename: str, merge: bool, dry_run: bool):
    return importer_for(kind).run(current_user, content, filename, dry_run=dry_run, merge=merge, channel="web")


@bp.route("/venues/import", methods=["GET", "POST"])
@web_role_required(*MANAGERS)
def import_page():
    form = _import_form()
    if not form.validate_on_submit():
        return render_template("venues/import.html", form=form, report=None), 422 if form.errors else 200
    upload = form.file.data
    content = upload.read(MAX_PAGE_UPLOAD + 1) if upload else b""
    if not content:
        form.file.errors = ["请选择要导入的文件。"]
    elif len(content) > MAX_PAGE_UPLOAD:
        form.file.errors = [f"网页导入的文件不超过 {MAX_PAGE_UPLOAD // 1024 // 1024} MB，更大的文件请用命令行导入。"]
    if form.file.errors:
        return render_template("venues/import.html", form=form, report=None), 422
    filename = (upload.filename or "upload")[-128:]
    report = _run_import(form.kind.data, content, filename, form.merge.data, dry_run=True)
    confirm = ConfirmImportForm(formdata=None, kind=form.kind.data, filename=filename,
                                content=base64.b64encode(content).decode(), merge="y" if form.merge.data else "")
    return render_template("venues/import.html", form=form, report=report, confirm=confirm,
                           noun=importer_for(form.kind.data).label), 422 if report.problems else 200


@bp.post("/venues/import/confirm")
@web_role_required(*MANAGERS)
def confirm_import():
    form = ConfirmImportForm()
    try:
        content = base64.b64decode(form.content.data or "", validate=True)
    except (binascii.Error, ValueError):
        content = b""
    if not form.validate_on_submit() or not content or importer_for(form.kind.data or "") is None:
        flash("确认导入的请求无效，请重新上传文件。", "error")
        return redirect(url_for("web_venues.import_page"))
    noun = importer_for(form.kind.data).label
    report = _run_import(form.kind.data, content, form.filename.data or "upload", form.merge.data == "y",
                         dry_run=False)
    if report.problems:
        # The register changed since the dry run (another import, an edit): nothing was written.
        return render_template("venues/import.html", form=_import_form(formdata=None), report=report, confirm=None,
                               noun=noun), 409
    merged = f"，合并 {report.merged} 个" if report.merged else ""
    flash(f"已导入：共 {report.rows} 行，新增 {report.created} 个{noun}{merged}。", "success")
    return redirect(url_for("web_venues.list_venues"))
