"""Who reads which venues of the registry: department viewers the venues of the categories their
department answers for, county viewers the venues of their county (DESIGN.md §6)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, false, select

from ..access import Scope, grant, register_policy
from .models.reference import category_departments
from .models.venue import Venue


def _venue_in_department_categories(user, venue: Venue) -> bool:
    return user.department_id is not None and any(
        department.id == user.department_id for department in venue.category.departments
    )


def _venue_in_department_categories_sql(user) -> ColumnElement[bool]:
    if user.department_id is None:
        return false()
    return Venue.category_id.in_(
        select(category_departments.c.category_id).where(category_departments.c.department_id == user.department_id)
    )


def _venue_in_county(user, venue: Venue) -> bool:
    return user.county_id is not None and venue.county_id == user.county_id


def _venue_in_county_sql(user) -> ColumnElement[bool]:
    return false() if user.county_id is None else Venue.county_id == user.county_id


VENUE_OF_DEPARTMENT = Scope("department categories", _venue_in_department_categories,
                            _venue_in_department_categories_sql)
VENUE_IN_COUNTY = Scope("county", _venue_in_county, _venue_in_county_sql)

register_policy(Venue, "场所")
# Venue master data is not secret (targets are: assignments get their own policy); the
# enforcement bureau needs it city-wide to open cases. Inspectors and propaganda get venues only
# through their assignments and bulletins.
grant(Venue, "read", ("office", "admin", "auditor", "enforcement"))
grant(Venue, "read", "department", VENUE_OF_DEPARTMENT)
grant(Venue, "read", "county", VENUE_IN_COUNTY)
grant(Venue, "manage", ("office", "admin"))
