"""Pages for inspection records: the list with filters and sorting, and one record in full."""

from __future__ import annotations

from flask import Blueprint, make_response, render_template

from ...access import policy_for, web_role_required
from ...draws.models.draw import Assignment
from ...web.navigation import add_nav_item
from ...web.query_args import int_arg, listed, sort_arg, sort_links, text_arg
from ...web.signed_in import signed_in_user
from .. import inspections as service
from ..completion import INSPECTION_STATUS_LABELS
from ..inspection_record import amendment_history, unrecorded_checks
from .parallel_records import parallel_section
from ..signature_images import find_signature_png
from ..models.inspection import INSPECTION_STATUSES

bp = Blueprint("web_inspections", __name__, template_folder="templates")

READERS = ("office", "admin", "enforcement", "inspector", "department", "county")

add_nav_item("督查记录", "web_inspections.list_inspections", READERS)


def _may_open_assignments(user) -> bool:
    """Readers of a record also read its assignment, except the enforcement bureau (no grant)."""
    return policy_for(Assignment).scope_for("read", user.role) is not None


@bp.get("/inspections")
@web_role_required(*READERS)
def list_inspections():
    errors: dict[str, list[str]] = {}
    filters = {"county_id": int_arg("county_id", "属地", errors), "draw_id": int_arg("draw_id", "抽查编号", errors),
               "state": text_arg("state"), "flagged": text_arg("flagged") == "1"}
    page_number = int_arg("page", "页码", errors) or 1
    sort_columns = {key: label for key, (_, label) in service.SORT_COLUMNS.items()}
    key, descending = sort_arg(sort_columns, service.DEFAULT_SORT, errors)
    page = listed(lambda: service.list_inspections(signed_in_user(), sort=text_arg("sort"), page=page_number, **filters),
                  errors)
    return render_template("inspections/list.html", page=page, filters=filters, errors=errors,
                           sort=text_arg("sort") or service.DEFAULT_SORT, counties=service.county_choices(),
                           states={code: INSPECTION_STATUS_LABELS[code] for code in INSPECTION_STATUSES},
                           sort_columns=sort_columns,
                           sort_links=sort_links("web_inspections.list_inspections", sort_columns, key, descending),
                           can_open_assignments=_may_open_assignments(signed_in_user())), \
        400 if errors else 200


@bp.get("/inspections/<int:inspection_id>")
@web_role_required(*READERS)
def show_inspection(inspection_id: int):
    user = signed_in_user()
    inspection = service.find_inspection(inspection_id, user)
    return render_template("inspections/detail.html", record=service.detail(inspection, user),
                           amendments=amendment_history(inspection), unrecorded=unrecorded_checks(inspection),
                           target_link=service.target_readable(inspection.assignment, user),
                           can_open_assignment=_may_open_assignments(user),
                           parallel=parallel_section(inspection.assignment, user))


@bp.get("/inspections/<int:inspection_id>/signatures/<sha256>.png")
@web_role_required(*READERS)
def signature_image(inspection_id: int, sha256: str):
    """A signature's image for the record's page (whose CSP allows images from this site only),
    to whoever may read the record."""
    inspection = service.find_inspection(inspection_id, signed_in_user())
    response = make_response(find_signature_png(inspection, sha256))
    response.headers["Content-Type"] = "image/png"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
