"""Re-inspections (复查) of rectification orders: drawing them once the deadline has passed, and
deciding the order on their result.

The office's daily job (`schedule_reinspections`, `anfang rectification schedule`) draws a
re-inspection for exactly the order's venue through the draw machinery — commitment, snapshots,
the same selection with 回避, a sealed assignment the office dispatches like any other. When
that assignment's inspection is submitted (`on_inspection_submitted`, on the field's
`inspection_submitted` signal), the order is decided:

- every check the order covers was evaluated and none is violated any more → **passed**;
- otherwise → **failed** (escalated): the re-inspection's violations of the covered checks are
  linked to the order as `found_again`; they are ordinary violations, so they wait in the
  enforcement queue (`GET /api/v1/violations`) for a new case — with the circumstance 拒不整改
  in mind — and when one is opened from them (`note_case_opened`, called by
  `case_opening.open_case`) the order records it as `escalated_case_id`. A check the
  re-inspection did not record counts as not put right: a re-inspection that did not look
  cannot confirm a rectification.

The order's own case (if any) is never moved by these results: the result is written to the
audit log on the case (`case.rectification_passed` / `case.rectification_failed`), where the
bureau takes its next step.

Services flush and never commit; the request or CLI command commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

import rulecheck

from ..access import authorize
from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import china_day_start, china_today, utcnow
from ..draws.models.draw import Assignment, Draw
from ..draws.signals import draw_formed
from ..errors import Conflict, Problem
from ..extensions import db
from ..field.models.inspection import Inspection, Violation
from ..field.signals import inspection_submitted
from ..field.violations import effective_observations
from ..registry.loader import rules_bundle_for_category, venue_facts
from ..registry.models.venue import Venue
from .models.case import EnforcementCase
from .models.rectification import RectificationOrder, RectificationOrderViolation
from .rectification import DEAD_STATUSES, _claim, _close_links, settings

# --- scheduling -------------------------------------------------------------------------------------


@dataclass
class ScheduleReport:
    on: date
    scheduled: list[tuple[RectificationOrder, Draw]] = field(default_factory=list)
    failed: list[tuple[RectificationOrder, str]] = field(default_factory=list)


def due_for_reinspection(on: date):
    """SQL: open orders whose deadline has passed or whose report of rectification the office
    confirmed (server.enforcement.rectification_reports), and scheduled ones whose re-inspection was
    cancelled or expired before anyone went, or whose draw was cancelled before it had one."""
    dead = sa.select(Assignment.id).where(Assignment.status.in_(DEAD_STATUSES))
    cancelled = sa.select(Draw.id).where(Draw.status == "cancelled")
    return sa.or_(sa.and_(RectificationOrder.state == "open",
                          sa.or_(RectificationOrder.deadline < on,
                                 RectificationOrder.rectification_confirmed_at.is_not(None))),
                  sa.and_(RectificationOrder.state == "reinspection_scheduled",
                          sa.or_(RectificationOrder.reinspection_assignment_id.in_(dead),
                                 sa.and_(RectificationOrder.reinspection_assignment_id.is_(None),
                                         RectificationOrder.reinspection_draw_id.in_(cancelled)))))


def schedule_reinspections(today: date | None = None, *, actor: User, channel: str = "cli") -> ScheduleReport:
    """For every order due (see `due_for_reinspection`), draw a re-inspection of its venue and
    link the sealed assignment; idempotent — an order scheduled once is not due again.

    The window opens on `today` (00:00 China Standard Time) and lasts the days of
    rectification.yaml. An order whose re-inspection cannot be staffed (409 from the draw) stays
    as it was, listed in the report with the reason; the others go ahead.
    """
    from ..draws.creation import create_reinspection_draw

    authorize(actor, "manage", Draw)
    on = today or china_today()
    config = settings()
    report = ScheduleReport(on=on)
    due = db.session.scalars(sa.select(RectificationOrder).where(due_for_reinspection(on))
                             .order_by(RectificationOrder.deadline, RectificationOrder.id)).all()
    start = china_day_start(on)
    end = start + timedelta(days=config.reinspection_window_days)
    for order in due:
        from_state = order.state
        venue = db.session.get(Venue, order.venue_id)
        try:
            with db.session.begin_nested():
                draw = create_reinspection_draw(
                    venue, actor, window_start=start, window_end=end, team_size=config.reinspection_team_size,
                    may_propose_penalties=config.reinspection_may_propose_penalties, channel=channel)
        except Problem as exc:
            report.failed.append((order, exc.detail))
            continue
        # The assignment follows once the draw's contribution is in (`_link_reinspection`).
        if not _claim(order, from_state, "reinspection_scheduled", reinspection_draw_id=draw.id,
                      reinspection_assignment_id=None, reinspection_scheduled_at=utcnow()):
            raise Conflict(f"整改通知 {order.id} 刚被其他操作改动，请重新运行。")
        set_committed_value(order, "reinspection_assignment", None)
        # Recorded on the draw and naming neither the order nor its earlier re-inspection: the
        # auditor reads the audit log, and the order names the venue. The order row keeps the link
        # (reinspection_draw_id); the result event on the order names the assignment once visited.
        record_event("rectification.reinspection_scheduled", actor=actor, channel=channel,
                     object_type="draw", object_id=draw.id)
        report.scheduled.append((order, draw))
    return report


@draw_formed.connect
def _link_reinspection(draw: Draw, *, actor: User) -> None:
    """A re-inspection draw's contribution is in: the order now points at its sealed assignment.
    A draw cancelled instead leaves the order due again (`due_for_reinspection`)."""
    if draw.purpose != "reinspection" or draw.status != "committed":
        return
    order = db.session.scalar(sa.select(RectificationOrder).where(
        RectificationOrder.reinspection_draw_id == draw.id, RectificationOrder.state == "reinspection_scheduled"))
    if order is None:
        return
    assignment = db.session.scalar(sa.select(Assignment).where(Assignment.draw_id == draw.id))
    order.reinspection_assignment = assignment
    db.session.flush()


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

    `violations` are the inspection's live violations as `violations.store_violations` returned them.
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
