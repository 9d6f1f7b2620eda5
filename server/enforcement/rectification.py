"""Rectification orders (责令限期整改): their states, settings and access, the guarded state change
every step makes, and reading them — find, list, overdue, the order as its readers see it and the
context of its notice.

The document (五): problems found must be put right, and those who refuse are penalised. An
order names the violations of one venue, what must be done and by when
(server.enforcement.rectification_issuing); once the deadline has passed a re-inspection (复查)
of exactly that venue is drawn, and its result decides the order
(server.enforcement.reinspection).

State machine::

    open → reinspection_scheduled → passed | failed
    open | reinspection_scheduled → withdrawn

While an order is open the county or department answerable for the venue may report it put
right; once the office confirms such a report the order is due for its re-inspection without
waiting for the deadline (server.enforcement.rectification_reports).

A violation is under at most one open order (the database's unique (violation_id, open) pair).
Overdue for the office: an open order whose deadline has passed (no re-inspection yet), or a
scheduled re-inspection not submitted by the end of its window. Everyone else may not learn when a
re-inspection is drawn: for them an open order is "待复查" and overdue from its deadline until
the re-inspection's result (`shown_state`). A re-inspection cancelled or
expired before anyone went is drawn again by the next scheduling run.

The access policies are registered here, which every module working on orders imports.

Services flush and never commit; the request or CLI command commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import marshmallow as ma
import sqlalchemy as sa
import yaml
from flask import current_app
from marshmallow import fields, validate
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from ..access import Scope, authorize, get_or_404, grant, register_policy
from ..accounts.models.user import User
from ..columns import as_utc, china_day_start, china_today, local_text, utcnow
from ..draws import assignments as assignment_service
from ..draws.models.draw import Assignment
from ..errors import Conflict, Invalid, NotFound, Problem
from ..extensions import db
from ..field.models.inspection import Inspection
from ..races import is_sqlite_busy
from ..registry.models.reference import PARTY_KIND_LABELS, County, Rule
from ..registry.models.venue import Venue
from ..registry.venues import VENUE_IN_COUNTY, VENUE_OF_DEPARTMENT
from .cases import STATE_LABELS as CASE_STATE_LABELS
from .models.case import EnforcementCase
from .models.rectification import RectificationOrder, RectificationOrderViolation

STATE_LABELS = {
    "open": "整改中",
    "reinspection_scheduled": "已安排复查",
    "passed": "复查合格",
    "failed": "复查不合格（已移交执法）",
    "withdrawn": "已撤回",
}
OPEN_STATES = ("open", "reinspection_scheduled")
# What readers who may not know of the re-inspection (all but the office) see of an open order:
# "整改中" until the deadline (or the office's confirmation of a report that it is put right),
# "待复查" after it until the re-inspection is submitted — the same
# whether it has been drawn or not, so that nothing changes the moment it is drawn.
AWAITING_REINSPECTION_LABEL = "待复查"
# A re-inspection in these statuses has been done (or is being reported); in these, it will not be.
DONE_STATUSES = ("submitted", "closed")
DEAD_STATUSES = ("cancelled", "expired")
# A case in these states takes no order any more.
CLOSED_CASE_STATES = ("revoked",)

LABEL = "整改通知"
ISSUERS = ("enforcement", "office")


def _venue_scope(venue_scope: Scope) -> Scope:
    return Scope(f"orders, {venue_scope.name}",
                 lambda user, order: venue_scope.allows(user, order.venue),
                 lambda user: RectificationOrder.venue_id.in_(sa.select(Venue.id).where(venue_scope.where(user))))


register_policy(RectificationOrder, LABEL)
grant(RectificationOrder, "read", ("enforcement", "office", "admin", "auditor"))
# Departments and counties track the rectifications that concern them (DESIGN.md §1).
grant(RectificationOrder, "read", "department", _venue_scope(VENUE_OF_DEPARTMENT))
grant(RectificationOrder, "read", "county", _venue_scope(VENUE_IN_COUNTY))
grant(RectificationOrder, "act", ISSUERS)
# Who sees when the re-inspection is and who goes: the office, as for any assignment.
grant(RectificationOrder, "read_reinspection", ("office", "admin"))
# The county (属地) and the department (部门) answerable for the venue report it put right; the
# office confirms or sends the report back (server.enforcement.rectification_reports).
grant(RectificationOrder, "report", "department", _venue_scope(VENUE_OF_DEPARTMENT))
grant(RectificationOrder, "report", "county", _venue_scope(VENUE_IN_COUNTY))
grant(RectificationOrder, "review_report", "office")


# --- reference settings ------------------------------------------------------------------------


class RectificationSettingsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    version = fields.String(required=True)
    issuing_authority = fields.String(required=True, validate=validate.Length(min=1, max=128))
    legal_basis_provision = fields.String(required=True, validate=validate.Length(min=1, max=64))
    reinspection_window_days = fields.Integer(required=True, validate=validate.Range(min=1, max=31))
    reinspection_team_size = fields.Integer(required=True, validate=validate.Range(min=2, max=10))
    reinspection_may_propose_penalties = fields.Boolean(required=True)


@dataclass(frozen=True)
class RectificationSettings:
    issuing_authority: str
    legal_basis_provision: str
    reinspection_window_days: int
    reinspection_team_size: int
    reinspection_may_propose_penalties: bool


@lru_cache(maxsize=4)
def _load_settings(path: str) -> RectificationSettings:
    data = RectificationSettingsSchema().load(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    data.pop("version")
    return RectificationSettings(**data)


def settings() -> RectificationSettings:
    """server/reference/rectification.yaml, validated and cached."""
    return _load_settings(str(Path(current_app.config["REFERENCE_DIR"]) / "rectification.yaml"))


# --- state changes -------------------------------------------------------------------------------


def _claim(order: RectificationOrder, from_state: str, to_state: str, **values) -> bool:
    """Move the row only if it is still in `from_state`; True if this transaction did."""
    values = dict(values, state=to_state, updated_at=utcnow())
    try:
        changed = db.session.execute(
            sa.update(RectificationOrder)
            .where(RectificationOrder.id == order.id, RectificationOrder.state == from_state)
            .values(**values).execution_options(synchronize_session=False)).rowcount
    except OperationalError as exc:
        if not is_sqlite_busy(exc):
            raise
        raise Conflict("该整改通知刚被其他操作改动，请刷新后重试。") from None
    if changed != 1:
        return False
    for name, value in values.items():
        set_committed_value(order, name, value)
    return True


def _close_links(order: RectificationOrder) -> None:
    """The covered violations are free for a new order once this one is decided or withdrawn."""
    db.session.execute(sa.update(RectificationOrderViolation)
                       .where(RectificationOrderViolation.order_id == order.id)
                       .values(open=None).execution_options(synchronize_session=False))
    for link in order.links:
        set_committed_value(link, "open", None)


# --- overdue ----------------------------------------------------------------------------------------


def overdue_condition(on: date | None = None):
    """SQL: the deadline has passed with no re-inspection scheduled, or the scheduled
    re-inspection was not submitted by the end of its window."""
    on = on or china_today()
    unfinished = sa.select(Assignment.id).where(Assignment.status.not_in(DONE_STATUSES),
                                                Assignment.window_end <= china_day_start(on))
    return sa.or_(
        sa.and_(RectificationOrder.state == "open", RectificationOrder.deadline < on),
        sa.and_(RectificationOrder.state == "reinspection_scheduled",
                RectificationOrder.reinspection_assignment_id.in_(unfinished)),
    )


def is_overdue(order: RectificationOrder, on: date | None = None) -> bool:
    on = on or china_today()
    if order.state == "open":
        return order.deadline < on
    if order.state == "reinspection_scheduled" and order.reinspection_assignment is not None:
        assignment = order.reinspection_assignment
        return assignment.status not in DONE_STATUSES and as_utc(assignment.window_end) <= china_day_start(on)
    return False


def undisclosed_overdue_condition(on: date | None = None):
    """SQL: overdue as seen by readers who may not know of the re-inspection — the deadline has
    passed and no re-inspection has been submitted, drawn or not."""
    on = on or china_today()
    return sa.and_(RectificationOrder.state.in_(OPEN_STATES), RectificationOrder.deadline < on)


def may_read_reinspection(user: User | None) -> bool:
    """`None` is the operator at the command line."""
    return user is None or _may(user, "read_reinspection")


def _overdue_condition_for(user: User | None, on: date | None):
    return overdue_condition(on) if may_read_reinspection(user) else undisclosed_overdue_condition(on)


def shown_state(order: RectificationOrder, user: User | None, on: date | None = None) -> tuple[str, str]:
    """The order's state and label as `user` may see them (see AWAITING_REINSPECTION_LABEL)."""
    if order.state not in OPEN_STATES or may_read_reinspection(user):
        return order.state, STATE_LABELS[order.state]
    on = on or china_today()
    # A confirmed report of rectification makes the order due for its re-inspection at once.
    awaiting = order.deadline < on or order.rectification_confirmed_at is not None
    return "open", AWAITING_REINSPECTION_LABEL if awaiting else STATE_LABELS["open"]


def shown_overdue(order: RectificationOrder, user: User | None, on: date | None = None) -> bool:
    if may_read_reinspection(user):
        return is_overdue(order, on)
    return order.state in OPEN_STATES and order.deadline < (on or china_today())


def overdue_orders(today: date | None = None, *, user: User | None = None) -> list[RectificationOrder]:
    """Orders to look at, earliest deadline first (within `user`'s scope, and as `user` may see
    overdue, if given)."""
    query = sa.select(RectificationOrder).where(_overdue_condition_for(user, today))
    if user is not None:
        query = query.where(authorize(user, "read", RectificationOrder).where(user))
    return list(db.session.scalars(query.options(selectinload(RectificationOrder.venue))
                                   .order_by(RectificationOrder.deadline, RectificationOrder.id)))


# --- reading -------------------------------------------------------------------------------------


def find_order(ident, user: User, action: str = "read") -> RectificationOrder:
    """The order `user` may `action`; roles without a grant get 403 before the lookup, an order
    outside a viewer's scope is 404 like an unknown id."""
    authorize(user, action, RectificationOrder)
    order = get_or_404(RectificationOrder, ident)
    if not authorize(user, "read", RectificationOrder).allows(user, order):
        raise NotFound(f"编号为 {ident} 的{LABEL}不存在。")
    authorize(user, action, order)
    return order


def list_orders(user: User, *, state: str | None = None, overdue: bool | None = None, county: str | None = None,
                case_id: int | None = None, on: date | None = None) -> list[RectificationOrder]:
    """The orders `user` may read, earliest deadline first, filtered."""
    query = sa.select(RectificationOrder).where(authorize(user, "read", RectificationOrder).where(user))
    if state and state in OPEN_STATES and not may_read_reinspection(user):
        # Both open states are "open" to this reader (shown_state): filtering must not tell them apart.
        query = query.where(RectificationOrder.state.in_(OPEN_STATES))
    elif state:
        query = query.where(RectificationOrder.state == state)
    if overdue is not None:
        condition = _overdue_condition_for(user, on)
        query = query.where(condition if overdue else sa.not_(condition))
    if county and user.role == "county" and user.county is not None and county not in (user.county.code,
                                                                                       user.county.name):
        # A county reads only its own orders: another county is a mistake to name, not an empty list.
        raise Invalid("筛选条件有误。", errors={"county": [f"只能查询本辖区（{user.county.name}）的整改通知。"]})
    if county:
        query = query.where(RectificationOrder.county_id.in_(
            sa.select(County.id).where(sa.or_(County.code == county, County.name == county))))
    if case_id is not None:
        query = query.where(RectificationOrder.case_id == case_id)
    return list(db.session.scalars(query.options(selectinload(RectificationOrder.venue),
                                                 selectinload(RectificationOrder.county))
                                   .order_by(RectificationOrder.deadline, RectificationOrder.id)))


def _link_summary(link: RectificationOrderViolation) -> dict:
    v = link.violation
    return {"id": v.id, "kind": link.kind, "inspection_id": v.inspection_id, "rule_code": v.rule_code,
            "check_code": v.check_code, "description": v.description}


def detail(order: RectificationOrder, user: User, on: date | None = None) -> dict:
    """What a reader of the order sees. When and by whom the re-inspection takes place only the
    office sees ("四不两直"); everyone else sees "待复查" from the deadline until the result, not
    whether it has been drawn (shown_state)."""
    state, state_label = shown_state(order, user, on)
    data = {
        "id": order.id, "state": state, "state_label": state_label,
        "venue": {"id": order.venue.id, "name": order.venue.name, "address": order.venue.address},
        "county": {"id": order.county.id, "code": order.county.code, "name": order.county.name},
        "case_id": order.case_id, "requirements": order.requirements, "legal_basis": order.legal_basis,
        "deadline": order.deadline, "issuing_authority": order.issuing_authority, "issued_on": order.issued_on,
        "issued_at": as_utc(order.issued_at),
        "issued_by": {"id": order.issued_by.id, "username": order.issued_by.username,
                      "display_name": order.issued_by.display_name},
        "overdue": shown_overdue(order, user, on),
        "violations": [_link_summary(link) for link in order.links if link.kind == "covered"],
        "found_again": [_link_summary(link) for link in order.links if link.kind == "found_again"],
        "reinspection_scheduled": (order.reinspection_assignment_id is not None
                                   if may_read_reinspection(user) else None),
        "reinspection": None,
        "result_at": as_utc(order.result_at), "result_note": order.result_note,
        "escalated_case_id": order.escalated_case_id, "withdrawn_reason": order.withdrawn_reason,
        "notice": None,
    }
    from .rectification_documents import notice_of

    notice = notice_of(order)
    if notice is not None:
        from .documents import document_signature

        data["notice"] = {"id": notice.id, "number": notice.number, "download_url": f"/api/v1/documents/{notice.id}/pdf",
                          "signed": document_signature(notice)["signed"]}
    if order.reinspection_assignment is not None and _may(user, "read_reinspection"):
        a = order.reinspection_assignment
        data["reinspection"] = {
            "assignment_id": a.id, "draw_id": a.draw_id, "status": a.status,
            "status_label": assignment_service.STATUS_LABELS[a.status], "visit_date": a.visit_date,
            "window_start": as_utc(a.window_start), "window_end": as_utc(a.window_end),
            "scheduled_at": as_utc(order.reinspection_scheduled_at)}
    return data


def _may(user: User, action: str) -> bool:
    try:
        authorize(user, action, RectificationOrder)
    except Problem:
        return False
    return True


def orders_of_case(case: EnforcementCase) -> list[RectificationOrder]:
    return list(db.session.scalars(sa.select(RectificationOrder).where(RectificationOrder.case_id == case.id)
                                   .order_by(RectificationOrder.id)))


# --- the notice --------------------------------------------------------------------------------------


def _chinese_date(day: date | None) -> str | None:
    return f"{day.year}年{day.month}月{day.day}日" if day else None


def rectification_notice_context(order: RectificationOrder) -> dict:
    """Everything the 责令（限期）整改通知书 needs, as plain data with Chinese labels resolved,
    for `documents.issue_document("rectification_order", context, actor=…,
    subject_type="rectification_order", subject_id=order.id)`.

    Keys: order_id, title, issuing_authority, issued_on (ISO) and issued_on_text (2026年3月10日),
    venue {name, address, town, county, category}, party {kind, kind_label, name,
    unit_name, credit_code, legal_representative, address} — from the case when the order
    belongs to one, else the venue's operator —, violations [{rule_code, rule_title,
    rule_section, rule_text, check_code, description, found_on}], requirements, legal_basis
    (None if not given), deadline and deadline_text, case {id, state_label} or None, state and
    state_label.
    """
    venue = order.venue
    covered = [link.violation for link in order.links if link.kind == "covered"]
    rules = {rule.code: rule for rule in db.session.scalars(
        sa.select(Rule).where(Rule.code.in_({v.rule_code for v in covered})))}
    found_on = dict(db.session.execute(sa.select(Inspection.id, Inspection.checked_in_at).where(
        Inspection.id.in_({v.inspection_id for v in covered}))).all())
    case = order.case
    if case is not None:
        party = {"kind": case.party_kind, "kind_label": PARTY_KIND_LABELS[case.party_kind], "name": case.party_name,
                 "unit_name": case.party_unit_name, "credit_code": case.party_credit_code,
                 "legal_representative": case.party_legal_representative, "address": case.party_address}
    else:
        party = {"kind": None, "kind_label": "场所经营者", "name": venue.operator_name, "unit_name": venue.name,
                 "credit_code": venue.credit_code, "legal_representative": None, "address": venue.address}
    return {
        "order_id": order.id,
        "title": "责令限期整改通知书",
        "issuing_authority": order.issuing_authority,
        "issued_on": order.issued_on.isoformat(),
        "issued_on_text": _chinese_date(order.issued_on),
        "venue": {"name": venue.name, "address": venue.address, "town": venue.town, "county": venue.county.name,
                  "category": venue.category.name},
        "party": party,
        "violations": [{
            "rule_code": v.rule_code,
            "rule_title": rules[v.rule_code].title if v.rule_code in rules else None,
            "rule_section": rules[v.rule_code].section if v.rule_code in rules else None,
            "rule_text": rules[v.rule_code].source_text if v.rule_code in rules else None,
            "check_code": v.check_code, "description": v.description,
            "found_on": local_text(found_on.get(v.inspection_id))[:10] if found_on.get(v.inspection_id) else None,
        } for v in covered],
        "requirements": order.requirements,
        "legal_basis": order.legal_basis,
        "deadline": order.deadline.isoformat(),
        "deadline_text": _chinese_date(order.deadline),
        "case": {"id": case.id, "state_label": CASE_STATE_LABELS[case.state]} if case is not None else None,
        "state": order.state,
        "state_label": STATE_LABELS[order.state],
    }
