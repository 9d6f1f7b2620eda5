"""Rectification orders (责令限期整改) and their re-inspection (复查).

The document (五): problems found must be put right, and those who refuse are penalised. An
order names the violations of one venue, what must be done and by when; once the deadline has
passed, the office's daily job (`schedule_reinspections`, `anfang rectification schedule`) draws
a re-inspection for exactly that venue through the draw machinery — commitment, snapshots, the
same selection with 回避, a sealed assignment the office dispatches like any other. When that
assignment's inspection is submitted (`on_inspection_submitted`, on the field's
`inspection_submitted` signal), the order is decided:

- every check the order covers was evaluated and none is violated any more → **passed**;
- otherwise → **failed** (escalated): the re-inspection's violations of the covered checks are
  linked to the order as `found_again`; they are ordinary violations, so they wait in the
  enforcement queue (`GET /api/v1/violations`) for a new case — with the circumstance 拒不整改
  in mind — and when one is opened from them (`note_case_opened`, called by `cases.open_case`)
  the order records it as `escalated_case_id`. A check the re-inspection did not record counts
  as not put right: a re-inspection that did not look cannot confirm a rectification.

The order's own case (if any) is never moved by these results: the result is written to the
audit log on the case (`case.rectification_passed` / `case.rectification_failed`), where the
bureau takes its next step.

State machine::

    open → reinspection_scheduled → passed | failed
    open | reinspection_scheduled → withdrawn

A violation is under at most one open order (the database's unique (violation_id, open) pair).
Overdue for the office: an open order whose deadline has passed (no re-inspection yet), or a
scheduled re-inspection not submitted by the end of its window. A re-inspection cancelled or
expired before anyone went is drawn again by the next scheduling run.

Services flush and never commit; the request or CLI command commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
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

import rulecheck

from ..access import Scope, authorize, get_or_404, grant, register_policy
from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import CHINA_STANDARD_TIME, as_utc, local_text, utcnow
from ..draws import assignments as assignment_service
from ..draws.models.draw import Assignment, Draw
from ..errors import Conflict, Invalid, NotFound, Problem
from ..extensions import db
from ..field.models.inspection import Inspection, Violation
from ..field.signals import inspection_submitted
from ..field.sync import effective_observations
from ..races import conflict_on_race, is_sqlite_busy
from ..registry.loader import rules_bundle_for_category, venue_facts
from ..registry.models.reference import County, Rule
from ..registry.models.venue import Venue
from ..registry.venues import VENUE_IN_COUNTY, VENUE_OF_DEPARTMENT
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


def china_today() -> date:
    """Today in 金华 (China Standard Time): deadlines are calendar days there."""
    return utcnow().astimezone(CHINA_STANDARD_TIME).date()


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), CHINA_STANDARD_TIME).astimezone(timezone.utc)


# --- issuing -----------------------------------------------------------------------------------


def _text(value, name: str, label: str, *, required: bool = True, limit: int = 2000) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        if required:
            raise Invalid(f"须填写{label}。", errors={name: ["必填。"]})
        return None
    if len(text) > limit:
        raise Invalid(f"{label}过长。", errors={name: [f"最多 {limit} 个字符。"]})
    return text


def _deadline(value, on: date) -> date:
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value))
        except ValueError:
            raise Invalid("整改期限的日期格式不正确。", errors={"deadline": ["须为 YYYY-MM-DD。"]}) from None
    if value <= on:
        raise Invalid(f"整改期限须晚于今天（{on.isoformat()}，北京时间）。",
                      errors={"deadline": [f"须晚于 {on.isoformat()}。"]})
    return value


def _open_links():
    return sa.select(RectificationOrderViolation.violation_id).where(RectificationOrderViolation.open.is_(True))


def _order_violations(violation_ids, case: EnforcementCase | None) -> list[Violation]:
    from .cases import _violations

    if case is not None and not violation_ids:
        violations = [link.violation for link in case.links if link.live]
        if not violations:
            raise Conflict("该案件没有可整改的违规问题。")
    else:
        violations = _violations(violation_ids)
    if len({v.venue_id for v in violations}) != 1:
        raise Invalid("一份整改通知只能包含同一场所的违规问题。", errors={"violation_ids": ["涉及多个场所。"]})
    if case is not None:
        outside = sorted(v.id for v in violations if v.id not in {link.violation_id for link in case.links})
        if outside:
            raise Invalid(f"违规问题 {'、'.join(map(str, outside))} 不属于案件 {case.id}。",
                          errors={"violation_ids": [f"编号 {i} 不在该案件中。" for i in outside]})
    withdrawn = sorted(v.id for v in violations if v.withdrawn_at is not None)
    if withdrawn:
        raise Conflict(f"违规问题 {'、'.join(map(str, withdrawn))} 已被更正撤回，无须整改。", violation_ids=withdrawn)
    taken = sorted(set(db.session.scalars(_open_links().where(
        RectificationOrderViolation.violation_id.in_([v.id for v in violations])))))
    if taken:
        raise Conflict(f"违规问题 {'、'.join(map(str, taken))} 已有未结束的整改通知。", violation_ids=taken)
    return violations


def case_for_order(case_id: int | None) -> EnforcementCase | None:
    """The case named in an order's request body: an unknown id is a 422, not a 404."""
    if case_id is None:
        return None
    case = db.session.get(EnforcementCase, case_id)
    if case is None:
        raise Invalid(f"案件 {case_id} 不存在。", errors={"case_id": [f"编号 {case_id} 不存在。"]})
    return case


def issue_order(violation_ids, *, deadline, requirements: str, actor: User, case: EnforcementCase | None = None,
                legal_basis: str | None = None, channel: str = "api") -> RectificationOrder:
    """Order the venue of `violation_ids` to put them right by `deadline` (enforcement, office).

    With a `case` and no ids, the case's live violations. The deadline must lie after today
    (China Standard Time): 422. A violation withdrawn or already under an open order: 409.
    """
    authorize(actor, "act", RectificationOrder)
    on = china_today()
    requirements = _text(requirements, "requirements", "整改要求")
    legal_basis = _text(legal_basis, "legal_basis", "法律依据", required=False)
    deadline = _deadline(deadline, on)
    if case is not None and case.state in CLOSED_CASE_STATES:
        raise Conflict(f"案件 {case.id} 已撤销，不能再据此责令整改。")
    violations = _order_violations(violation_ids, case)
    venue = db.session.get(Venue, violations[0].venue_id)
    order = RectificationOrder(
        state="open", venue_id=venue.id, county_id=venue.county_id, case_id=case.id if case else None,
        requirements=requirements, legal_basis=legal_basis, deadline=deadline,
        issuing_authority=settings().issuing_authority, issued_on=on, issued_at=utcnow(), issued_by_id=actor.id)
    order.links = [RectificationOrderViolation(violation_id=v.id, kind="covered", open=True) for v in violations]
    with conflict_on_race("所选违规问题刚被另一份整改通知包含，请刷新后重试。"):
        db.session.add(order)
    record_event("rectification.issued", actor=actor, channel=channel, object_type="rectification_order",
                 object_id=order.id, details={"violation_ids": [v.id for v in violations], "case_id": order.case_id,
                                              "deadline": deadline.isoformat()})
    if case is not None:
        record_event("case.rectification_ordered", actor=actor, channel=channel, object_type="enforcement_case",
                     object_id=case.id, details={"order_id": order.id, "deadline": deadline.isoformat()})
    # The 责令（限期）整改通知书, numbered, in the same transaction: no order without its notice.
    from .rectification_documents import issue_rectification_notice

    issue_rectification_notice(order, actor=actor, channel=channel)
    return order


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


def withdraw_order(order: RectificationOrder, *, reason: str, actor: User, channel: str = "api") -> RectificationOrder:
    """Withdraw an order not yet decided (enforcement, office), with a reason. A re-inspection
    still pending is cancelled with it, which only the office may do; one already submitted
    decides the order and cannot be withdrawn."""
    authorize(actor, "act", order)
    reason = _text(reason, "reason", "撤回理由")
    from_state = order.state
    if from_state not in OPEN_STATES:
        raise Conflict(f"整改通知{STATE_LABELS[from_state]}，不能撤回。", state=from_state)
    assignment = order.reinspection_assignment if from_state == "reinspection_scheduled" else None
    if assignment is not None and assignment.status in DONE_STATUSES:
        raise Conflict("复查记录已提交，整改通知以复查结果为准，不能撤回。")
    if assignment is not None and assignment.status not in DEAD_STATUSES and actor.role not in ("office", "admin"):
        raise Conflict("已安排复查：撤回须同时取消复查任务，请由领导小组办公室撤回。")
    if not _claim(order, from_state, "withdrawn", withdrawn_reason=reason, withdrawn_by_id=actor.id,
                  result_at=utcnow()):
        raise Conflict("该整改通知刚被其他操作改动，请刷新后重试。")
    if assignment is not None and assignment.status not in DEAD_STATUSES:
        assignment_service.cancel(assignment, actor, channel=channel, reason=f"整改通知 {order.id} 已撤回：{reason}")
    _close_links(order)
    record_event("rectification.withdrawn", actor=actor, channel=channel, object_type="rectification_order",
                 object_id=order.id, details={"from": from_state, "reason": reason})
    return order


# --- overdue and scheduling ------------------------------------------------------------------------


def overdue_condition(on: date | None = None):
    """SQL: the deadline has passed with no re-inspection scheduled, or the scheduled
    re-inspection was not submitted by the end of its window."""
    on = on or china_today()
    unfinished = sa.select(Assignment.id).where(Assignment.status.not_in(DONE_STATUSES),
                                                Assignment.window_end <= _day_start(on))
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
        return assignment.status not in DONE_STATUSES and as_utc(assignment.window_end) <= _day_start(on)
    return False


def overdue_orders(today: date | None = None, *, user: User | None = None) -> list[RectificationOrder]:
    """Orders the office must look at, earliest deadline first (within `user`'s scope if given)."""
    query = sa.select(RectificationOrder).where(overdue_condition(today))
    if user is not None:
        query = query.where(authorize(user, "read", RectificationOrder).where(user))
    return list(db.session.scalars(query.options(selectinload(RectificationOrder.venue))
                                   .order_by(RectificationOrder.deadline, RectificationOrder.id)))


@dataclass
class ScheduleReport:
    on: date
    scheduled: list[tuple[RectificationOrder, Assignment]] = field(default_factory=list)
    failed: list[tuple[RectificationOrder, str]] = field(default_factory=list)


def due_for_reinspection(on: date):
    """SQL: open orders whose deadline has passed, and scheduled ones whose re-inspection was
    cancelled or expired before anyone went."""
    dead = sa.select(Assignment.id).where(Assignment.status.in_(DEAD_STATUSES))
    return sa.or_(sa.and_(RectificationOrder.state == "open", RectificationOrder.deadline < on),
                  sa.and_(RectificationOrder.state == "reinspection_scheduled",
                          RectificationOrder.reinspection_assignment_id.in_(dead)))


def schedule_reinspections(today: date | None = None, *, actor: User, channel: str = "cli") -> ScheduleReport:
    """For every order due (see `due_for_reinspection`), draw a re-inspection of its venue and
    link the sealed assignment; idempotent — an order scheduled once is not due again.

    The window opens on `today` (00:00 China Standard Time) and lasts the days of
    rectification.yaml. An order whose re-inspection cannot be staffed (409 from the draw) stays
    as it was, listed in the report with the reason; the others go ahead.
    """
    from ..draws.draws import create_reinspection_draw

    authorize(actor, "manage", Draw)
    on = today or china_today()
    config = settings()
    report = ScheduleReport(on=on)
    due = db.session.scalars(sa.select(RectificationOrder).where(due_for_reinspection(on))
                             .order_by(RectificationOrder.deadline, RectificationOrder.id)).all()
    start = _day_start(on)
    end = start + timedelta(days=config.reinspection_window_days)
    for order in due:
        from_state = order.state
        replaced = order.reinspection_assignment_id
        venue = db.session.get(Venue, order.venue_id)
        try:
            with db.session.begin_nested():
                draw = create_reinspection_draw(
                    venue, actor, window_start=start, window_end=end, team_size=config.reinspection_team_size,
                    may_propose_penalties=config.reinspection_may_propose_penalties, channel=channel,
                    details={"rectification_order_id": order.id})
        except Problem as exc:
            report.failed.append((order, exc.detail))
            continue
        assignment = db.session.scalar(sa.select(Assignment).where(Assignment.draw_id == draw.id))
        if not _claim(order, from_state, "reinspection_scheduled", reinspection_assignment_id=assignment.id,
                      reinspection_scheduled_at=utcnow()):
            raise Conflict(f"整改通知 {order.id} 刚被其他操作改动，请重新运行。")
        set_committed_value(order, "reinspection_assignment", assignment)
        record_event("rectification.reinspection_scheduled", actor=actor, channel=channel,
                     object_type="rectification_order", object_id=order.id,
                     details={"draw_id": draw.id, "assignment_id": assignment.id, "replaces_assignment_id": replaced})
        report.scheduled.append((order, assignment))
    return report


# --- the re-inspection's result ----------------------------------------------------------------------


def _evaluated_checks(inspection: Inspection) -> set[tuple[str, str]]:
    """(rule, check) pairs the inspection's observations let the rules decide, either way."""
    venue = inspection.assignment.venue
    facts = venue_facts(venue)
    observations = effective_observations(inspection)
    evaluated = set()
    for rule in rules_bundle_for_category(venue.category):
        own = {item["code"]: observations[item["code"]] for item in rule["items"] if item["code"] in observations}
        try:
            result = rulecheck.evaluate_rule(rule, venue=facts, observations=own)
        except rulecheck.ExpressionError:
            continue
        evaluated.update((rule["code"], check.code) for check in result.checks
                         if check.outcome != rulecheck.INCOMPLETE)
    return evaluated


@inspection_submitted.connect
def _decide_on_reinspection(inspection: Inspection, *, violations: list[Violation], actor: User | None) -> None:
    on_inspection_submitted(inspection, violations, actor=actor)


def on_inspection_submitted(inspection: Inspection, violations: list[Violation], *, actor: User | None,
                            channel: str = "api") -> RectificationOrder | None:
    """Decide the order whose re-inspection this inspection is (if any): passed when every
    covered check was evaluated and is no longer violated, failed (escalated) otherwise.

    `violations` are the inspection's live violations as `sync.store_violations` returned them.
    """
    order = db.session.scalar(sa.select(RectificationOrder).where(
        RectificationOrder.reinspection_assignment_id == inspection.assignment_id,
        RectificationOrder.state == "reinspection_scheduled"))
    if order is None:
        return None
    covered = {(link.violation.rule_code, link.violation.check_code) for link in order.links if link.kind == "covered"}
    again = [v for v in violations if (v.rule_code, v.check_code) in covered]
    evaluated = _evaluated_checks(inspection)
    unchecked = sorted(covered - evaluated - {(v.rule_code, v.check_code) for v in again})
    passed = not again and not unchecked
    if passed:
        note = "复查合格：整改通知所列问题均已整改。"
    else:
        parts = []
        if again:
            parts.append("仍存在：" + "；".join(v.description for v in again))
        if unchecked:
            parts.append("复查未检查、不能确认已整改：" + "、".join(f"{rule}/{check}" for rule, check in unchecked))
        note = "复查不合格。" + "。".join(parts) + "。"
    to_state = "passed" if passed else "failed"
    if not _claim(order, "reinspection_scheduled", to_state, reinspection_inspection_id=inspection.id,
                  result_at=utcnow(), result_note=note):
        return None
    _close_links(order)
    for violation in again:
        db.session.add(RectificationOrderViolation(order_id=order.id, violation_id=violation.id, kind="found_again",
                                                   open=None))
    db.session.flush()
    details = {"inspection": inspection.uuid, "assignment_id": inspection.assignment_id,
               "found_again": [v.id for v in again], "unchecked": [f"{r}/{c}" for r, c in unchecked]}
    record_event(f"rectification.{to_state}", actor=actor, channel=channel, object_type="rectification_order",
                 object_id=order.id, details=details)
    if order.case_id is not None:
        # The case is not moved: the bureau reads the result on the case and takes its next step.
        record_event(f"case.rectification_{to_state}", actor=actor, channel=channel, object_type="enforcement_case",
                     object_id=order.case_id, details={"order_id": order.id, **details})
    return order


def note_case_opened(case: EnforcementCase, *, actor: User, channel: str = "api") -> list[RectificationOrder]:
    """A case opened from violations a failed re-inspection found again is the order's
    escalation: record it on the order (once), audited."""
    violation_ids = [link.violation_id for link in case.links]
    orders = db.session.scalars(
        sa.select(RectificationOrder).where(
            RectificationOrder.state == "failed", RectificationOrder.escalated_case_id.is_(None),
            RectificationOrder.id.in_(sa.select(RectificationOrderViolation.order_id).where(
                RectificationOrderViolation.kind == "found_again",
                RectificationOrderViolation.violation_id.in_(violation_ids))))).all()
    for order in orders:
        order.escalated_case_id = case.id
        db.session.flush()
        record_event("rectification.escalated", actor=actor, channel=channel, object_type="rectification_order",
                     object_id=order.id, details={"case_id": case.id})
    return list(orders)


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
    if state:
        query = query.where(RectificationOrder.state == state)
    if overdue is not None:
        condition = overdue_condition(on)
        query = query.where(condition if overdue else sa.not_(condition))
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
    office sees ("四不两直"); everyone else learns that one is scheduled."""
    data = {
        "id": order.id, "state": order.state, "state_label": STATE_LABELS[order.state],
        "venue": {"id": order.venue.id, "name": order.venue.name, "address": order.venue.address},
        "county": {"id": order.county.id, "code": order.county.code, "name": order.county.name},
        "case_id": order.case_id, "requirements": order.requirements, "legal_basis": order.legal_basis,
        "deadline": order.deadline, "issuing_authority": order.issuing_authority, "issued_on": order.issued_on,
        "issued_at": as_utc(order.issued_at),
        "issued_by": {"id": order.issued_by.id, "username": order.issued_by.username,
                      "display_name": order.issued_by.display_name},
        "overdue": is_overdue(order, on),
        "violations": [_link_summary(link) for link in order.links if link.kind == "covered"],
        "found_again": [_link_summary(link) for link in order.links if link.kind == "found_again"],
        "reinspection_scheduled": order.reinspection_assignment_id is not None,
        "reinspection": None,
        "result_at": as_utc(order.result_at), "result_note": order.result_note,
        "escalated_case_id": order.escalated_case_id, "withdrawn_reason": order.withdrawn_reason,
        "notice": None,
    }
    from .rectification_documents import notice_of

    notice = notice_of(order)
    if notice is not None:
        data["notice"] = {"id": notice.id, "number": notice.number, "download_url": f"/api/v1/documents/{notice.id}/pdf"}
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
    from .cases import PARTY_KIND_LABELS
    from .cases import STATE_LABELS as CASE_STATE_LABELS

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
                 "credit_code": None, "legal_representative": None, "address": venue.address}
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
