"""The venue register (场所台账): list, read, create, edit and close venues, read their versions,
download the import templates.

Office and admin keep the register; the other readers of venues (auditor, enforcement, and
department and county viewers within their scope) list and read it.
"""

from flask import Response
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy import select

from ...access import api_auth_required, get_authorized
from ...extensions import db
from ..models.venue import Venue, VenueVersion
from ..schemas.venue_api import (
    VenueCloseSchema,
    VenueCreateSchema,
    VenueFieldsSchema,
    VenueListArgsSchema,
    VenuePageSchema,
    VenueSchema,
    VenueVersionSchema,
)
from ..venue_changes import close_venue, create_venue, update_venue
from ..venue_import import venue_template
from ..venue_listing import list_venues

blp = Blueprint("venues", __name__, url_prefix="/api/v1/venues", description="场所台账")

MANAGERS = ("office", "admin")
READERS = ("office", "admin", "auditor", "enforcement", "department", "county")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _user():
    return current_user._get_current_object()


@blp.get("")
@api_auth_required(*READERS)
@blp.arguments(VenueListArgsSchema, location="query")
@blp.response(200, VenuePageSchema)
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="查询参数有误")
def list_(args):
    """List venues of the register, one page at a time.

    Filters: `county` and `category` (codes), `q` (part of the name or address), `state`
    (open by default). Paging: `page` (from 1) and `per_page` (1–100); the answer gives
    `total` and `pages`.
    """
    state = None if args["state"] == "all" else args["state"]
    page = list_venues(_user(), county=args.get("county"), category=args.get("category"), q=args.get("q"),
                       state=state, page=args["page"], per_page=args["per_page"])
    return {"items": page.items, "total": page.total, "page": page.page, "per_page": page.per_page,
            "pages": page.pages}


@blp.post("")
@api_auth_required(*MANAGERS)
@blp.arguments(VenueCreateSchema)
@blp.response(201, VenueSchema)
@blp.alt_response(200, schema=VenueSchema, description="merge 为 true 且与已登记场所重复：已以本次信息更新该场所")
@blp.alt_response(409, response="CONFLICT", description="与已登记场所重复（同一统一社会信用代码或同名同地址）；"
                                                          "venue_ids 给出重复的场所")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="场所信息有误，errors 给出各字段的问题")
def create(data):
    """Register a venue, or merge it into the registered duplicate when `merge` is true."""
    merge = data.pop("merge")
    venue, created = create_venue(_user(), data, merge=merge, channel="api")
    return venue, 201 if created else 200


@blp.get("/template.xlsx")
@api_auth_required(*MANAGERS)
@blp.response(200, description="场所台账导入模板（XLSX）")
def template_xlsx():
    """Download the import template as XLSX (headings and a sheet explaining each column)."""
    return Response(venue_template("xlsx"), mimetype=XLSX,
                    headers={"Content-Disposition": "attachment; filename=venue-template.xlsx"})


@blp.get("/template.csv")
@api_auth_required(*MANAGERS)
@blp.response(200, description="场所台账导入模板（CSV，UTF-8）")
def template_csv():
    """Download the import template as CSV (UTF-8 with BOM)."""
    return Response(venue_template("csv"), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=venue-template.csv"})


@blp.get("/<int:venue_id>")
@api_auth_required(*READERS)
@blp.response(200, VenueSchema)
@blp.alt_response(404, response="NOT_FOUND")
def get(venue_id: int):
    """Get a venue with its rooms, and its closing if closed."""
    return get_authorized(Venue, venue_id, _user())


@blp.patch("/<int:venue_id>")
@api_auth_required(*MANAGERS)
@blp.arguments(VenueFieldsSchema)
@blp.response(200, VenueSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="场所已关闭，或修改后与其他场所重复")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="场所信息有误，errors 给出各字段的问题")
def edit(data, venue_id: int):
    """Edit a venue: only the fields given change; a new version is recorded."""
    venue = get_authorized(Venue, venue_id, _user(), "manage")
    return update_venue(venue, _user(), data, channel="api")


@blp.post("/<int:venue_id>/close")
@api_auth_required(*MANAGERS)
@blp.arguments(VenueCloseSchema)
@blp.response(200, VenueSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="场所已关闭")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="未说明理由，或理由不足 4 个字")
def close(data, venue_id: int):
    """Close a venue with a reason: it stays on record and is no longer drawn."""
    venue = get_authorized(Venue, venue_id, _user(), "manage")
    return close_venue(venue, _user(), data["reason"], channel="api")


@blp.get("/<int:venue_id>/versions")
@api_auth_required(*MANAGERS, "auditor")
@blp.response(200, VenueVersionSchema(many=True))
@blp.alt_response(404, response="NOT_FOUND")
def versions(venue_id: int):
    """List every registered version of a venue, oldest first."""
    venue = get_authorized(Venue, venue_id, _user())
    return db.session.scalars(select(VenueVersion).where(VenueVersion.venue_id == venue.id)
                              .order_by(VenueVersion.version)).all()
