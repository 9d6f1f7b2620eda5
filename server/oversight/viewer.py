"""What a department or county viewer sees: the violations of its sector or territory (with the
photos taken of them, as re-encoded variants only), their handling, and the rectification orders
that concern it.

The set of violations is the statistics module's (`statistics.violation_facts` with the viewer
as `user`), so the list, the summary on the same page and the statistics page always agree on
what is in scope: a department sees the violations recorded with it as responsible, a county
those in its territory, and only of submitted inspections.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..access import require_role
from ..accounts.models.user import User
from ..columns import china_date
from ..enforcement import rectification
from ..enforcement.models.case import CaseViolation, ViolationDecline
from ..enforcement.models.rectification import RectificationOrder, RectificationOrderViolation
from ..errors import Invalid, NotFound
from ..extensions import db
from ..field.evidence_store import variant_file
from ..field.models.evidence import EvidenceFile
from ..field.models.inspection import Inspection, Photo, Violation
from ..pagination import PER_PAGE, Page, page_of
from ..registry.models.reference import County, Department, Rule, VenueCategory, category_departments
from ..registry.models.venue import Venue
from . import statistics

VIEWER_ROLES = statistics.SCOPED_ROLES
HANDLING_LABELS = {"pending": "待执法部门处理", "case": "已立案", "declined": "不予立案"}
SORTS = {"date": "日期", "venue": "场所", "county": "属地", "category": "场所类别", "rule": "规则"}
DEFAULT_DAYS = 30
MISSING = "该督查发现不存在或不在您的职责范围内。"
# What a viewer may fetch of a photo: re-encoded JPEGs without EXIF or GPS (DESIGN.md §6: the
# original, with where and when it was taken, is evidence for the office and the bureau).
PHOTO_VARIANTS = ("thumbnail", "public")
# The order filter's states as a viewer may tell them apart (shown_state: both open states are one).
ORDER_STATE_FILTERS = {"open": "整改中或待复查", "passed": "复查合格", "failed": "复查不合格（已移交执法）",
                       "withdrawn": "已撤回"}


@dataclass
class ViolationRow:
    violation: Violation
    day: date
    venue: Venue
    handling: str

    @property
    def handling_label(self) -> str:
        return HANDLING_LABELS[self.handling]


def default_period(today: date) -> tuple[date, date]:
    return today - timedelta(days=DEFAULT_DAYS - 1), today


def scope_label(user: User) -> str:
    if user.role == "county":
        return user.county.name if user.county else "未指定辖区"
    return user.department.name if user.department else "未指定部门"


def categories_of(department_id: int | None) -> list[VenueCategory]:
    """The venue categories a department answers for, in the reference data's order."""
    if department_id is None:
        return []
    return list(db.session.scalars(
        sa.select(VenueCategory).join(category_departments, category_departments.c.category_id == VenueCategory.id)
        .where(category_departments.c.department_id == department_id)
        .order_by(VenueCategory.sort_order, VenueCategory.id)))


def filter_choices(user: User) -> dict:
    """Counties and categories a viewer may filter by: only those within its scope."""
    counties = sa.select(County).order_by(County.sort_order, County.code)
    if user.role == "county":
        counties = counties.where(County.id == (user.county_id or 0))
    if user.role == "department":
        categories = categories_of(user.department_id)
    else:
        categories = list(db.session.scalars(sa.select(VenueCategory).order_by(VenueCategory.sort_order,
                                                                              VenueCategory.id)))
    return {"counties": list(db.session.scalars(counties)), "categories": categories}


def _handling(violation_ids: list[int]) -> dict[int, str]:
    if not violation_ids:
        return {}
    in_case = set(db.session.scalars(sa.select(CaseViolation.violation_id).where(
        CaseViolation.live.is_(True), CaseViolation.violation_id.in_(violation_ids))))
    declined = set(db.session.scalars(sa.select(ViolationDecline.violation_id).where(
        ViolationDecline.violation_id.in_(violation_ids))))
    return {vid: "case" if vid in in_case else "declined" if vid in declined else "pending" for vid in violation_ids}


def list_violations(user: User, *, date_from: date, date_to: date, county_id: int | None = None,
                    category_id: int | None = None, handling: str | None = None, sort: str = "date",
                    descending: bool = True, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The viewer's violations of the period, filtered, sorted and paginated."""
    require_role(user, *VIEWER_ROLES)
    facts = statistics.violation_facts(date_from=date_from, date_to=date_to, county_id=county_id,
                                       category_id=category_id, user=user)
    handled = _handling([fact.violation_id for fact in facts])
    if handling:
        facts = [fact for fact in facts if handled[fact.violation_id] == handling]
    venues = {venue.id: venue for venue in db.session.scalars(
        sa.select(Venue).where(Venue.id.in_({fact.venue_id for fact in facts} or {0}))
        .options(selectinload(Venue.county), selectinload(Venue.category)))}
    keys = {
        "date": lambda fact: (fact.day, fact.violation_id),
        "venue": lambda fact: (venues[fact.venue_id].name, fact.violation_id),
        "county": lambda fact: (venues[fact.venue_id].county.sort_order, venues[fact.venue_id].county_id,
                                fact.violation_id),
        "category": lambda fact: (venues[fact.venue_id].category.sort_order, fact.category_id, fact.violation_id),
        "rule": lambda fact: (fact.rule_code, fact.check_code, fact.violation_id),
    }
    facts = sorted(facts, key=keys[sort if sort in keys else "date"], reverse=descending)
    result = page_of(facts, page, per_page)
    violations = {v.id: v for v in db.session.scalars(
        sa.select(Violation).where(Violation.id.in_([fact.violation_id for fact in result.items] or [0])))}
    return dataclasses.replace(result, items=[
        ViolationRow(violations[fact.violation_id], fact.day, venues[fact.venue_id], handled[fact.violation_id])
        for fact in result.items])


def _in_scope(user: User, violation: Violation) -> bool:
    # The statistics module's rule for one row: live, of a submitted inspection, and the viewer's
    # county or one of the departments recorded with the violation.
    inspection = db.session.get(Inspection, violation.inspection_id)
    if violation.withdrawn_at is not None or inspection.status not in statistics.SUBMITTED_STATUSES:
        return False
    if user.role == "county":
        return user.county_id is not None and violation.county_id == user.county_id
    if user.role == "department":
        return user.department_id is not None and user.department_id in [int(d) for d in violation.department_ids or ()]
    return False


def find_violation(ident, user: User) -> Violation:
    """A violation in the viewer's scope; anything else is the same 404 as an unknown id."""
    require_role(user, *VIEWER_ROLES)
    try:
        key = int(ident)
    except (TypeError, ValueError):
        raise NotFound(MISSING) from None
    violation = db.session.get(Violation, key) if 0 < key < 2**31 else None
    if violation is None or not _in_scope(user, violation):
        raise NotFound(MISSING)
    return violation


def finding_photos(violation: Violation) -> list[Photo]:
    """The photos of the violation's record that have arrived: those taken for its finding and
    those of the inspection not tied to any finding (the same venue, the same visit); a photo
    taken for another finding stays with that finding."""
    query = sa.select(Photo).where(Photo.inspection_id == violation.inspection_id,
                                   Photo.evidence_file_id.is_not(None))
    if violation.finding_id is not None:
        query = query.where(sa.or_(Photo.finding_id == violation.finding_id, Photo.finding_id.is_(None)))
    else:
        query = query.where(Photo.finding_id.is_(None))
    return list(db.session.scalars(query.order_by(Photo.taken_at, Photo.id)))


def finding_photo_file(violation: Violation, photo_id, variant: str) -> tuple[EvidenceFile, object]:
    """A variant of one of the violation's photos (`finding_photos`); anything else is a 404. The
    caller has found the violation in the viewer's scope (`find_violation`)."""
    photo = next((p for p in finding_photos(violation) if str(p.id) == str(photo_id)), None)
    if photo is None or variant not in PHOTO_VARIANTS:
        raise NotFound("照片不存在或不在您的职责范围内。")
    evidence = db.session.get(EvidenceFile, photo.evidence_file_id)
    return evidence, variant_file(evidence, variant)


def violation_detail(violation: Violation, user: User) -> dict:
    """What a viewer reads of one violation: where, when, which rule, how it is being handled and
    the rectification orders covering it (the re-inspection's date stays with the office)."""
    inspection = db.session.get(Inspection, violation.inspection_id)
    venue = db.session.get(Venue, violation.venue_id)
    rule = db.session.scalar(sa.select(Rule).where(Rule.code == violation.rule_code))
    departments = list(db.session.scalars(sa.select(Department.name).where(
        Department.id.in_([int(d) for d in violation.department_ids or ()] or [0]))
        .order_by(Department.sort_order, Department.id)))
    orders = list(db.session.scalars(
        sa.select(RectificationOrder).join(RectificationOrderViolation,
                                           RectificationOrderViolation.order_id == RectificationOrder.id)
        .where(RectificationOrderViolation.violation_id == violation.id).order_by(RectificationOrder.id)))
    return {
        "id": violation.id, "rule_code": violation.rule_code, "rule_title": rule.title if rule else "",
        "description": violation.description, "venue": venue.name, "address": venue.address,
        "county": venue.county.name, "category": venue.category.name, "departments": departments,
        "day": china_date(inspection.checked_in_at),
        "handling_label": HANDLING_LABELS[_handling([violation.id])[violation.id]],
        "photos": [{"id": photo.id, "caption": photo.caption} for photo in finding_photos(violation)],
        "orders": [{"id": order.id, "deadline": order.deadline,
                    "state_label": rectification.shown_state(order, user)[1],
                    "overdue": rectification.shown_overdue(order, user)} for order in orders],
    }


def rectification_overview(user: User, today: date) -> dict:
    """The viewer's open rectification orders, overdue ones first and apart."""
    require_role(user, *VIEWER_ROLES)
    overdue = rectification.overdue_orders(today, user=user)
    overdue_ids = {order.id for order in overdue}
    pending = [order for order in rectification.list_orders(user, on=today)
               if order.state in rectification.OPEN_STATES and order.id not in overdue_ids]
    labels = {order.id: rectification.shown_state(order, user, today)[1] for order in [*overdue, *pending]}
    return {"overdue": overdue, "pending": pending, "labels": labels}


def check_filter_scope(user: User, *, county_id: int | None, category_id: int | None) -> None:
    """A county or category outside what the viewer may filter by is the caller's mistake, named
    on its field, rather than an empty list that reads as "nothing found"."""
    choices = filter_choices(user)
    errors = {}
    if county_id is not None and county_id not in {county.id for county in choices["counties"]}:
        errors["county_id"] = ["不在您的职责范围内，请从列表中选择。"]
    if category_id is not None and category_id not in {category.id for category in choices["categories"]}:
        errors["category_id"] = ["不在您的职责范围内，请从列表中选择。"]
    if errors:
        raise Invalid("筛选条件有误。", errors=errors)


def list_orders(user: User, *, county_id: int | None = None, category_id: int | None = None,
                state: str | None = None, today: date) -> list[RectificationOrder]:
    """The rectification orders that concern the viewer, earliest deadline first, filtered within
    its scope (`check_filter_scope`)."""
    require_role(user, *VIEWER_ROLES)
    check_filter_scope(user, county_id=county_id, category_id=category_id)
    orders = rectification.list_orders(user, state=state or None, on=today)
    if county_id is not None:
        orders = [order for order in orders if order.county_id == county_id]
    if category_id is not None:
        orders = [order for order in orders if order.venue.category_id == category_id]
    return orders
