"""The register as a list: venues filtered by county, category, name or address and state,
within what the reader may see (server.registry.venues), one page at a time."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from ..access import authorize, scope_filter
from ..pagination import PER_PAGE, Page, paginate
from .models.reference import County, VenueCategory
from .models.venue import Venue

STATES = {"open": "在册", "closed": "已关闭"}


def list_venues(user, *, county: str | None = None, category: str | None = None, q: str | None = None,
                state: str | None = "open", page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Venues by id; `county` and `category` are codes, `q` part of the name or address."""
    authorize(user, "read", Venue)
    query = (select(Venue).where(scope_filter(user, "read", Venue))
             .options(selectinload(Venue.category), selectinload(Venue.county), selectinload(Venue.rooms)))
    if county:
        query = query.join(County, Venue.county_id == County.id).where(County.code == county)
    if category:
        query = query.join(VenueCategory, Venue.category_id == VenueCategory.id).where(VenueCategory.code == category)
    if q:
        pattern = f"%{q.strip()[:64]}%"
        query = query.where(or_(Venue.name.like(pattern), Venue.address.like(pattern)))
    if state == "open":
        query = query.where(Venue.closed_at.is_(None))
    elif state == "closed":
        query = query.where(Venue.closed_at.is_not(None))
    return paginate(query.order_by(Venue.id), page, per_page)
