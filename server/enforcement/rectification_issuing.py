"""Issuing rectification orders (责令限期整改) with their notice, and withdrawing those not yet decided.

An order names violations of one venue (or, given a case and no violations, the case's live
ones), what must be done and a deadline after today (China Standard Time). The
责令（限期）整改通知书 (server.enforcement.rectification_documents) is issued in the same
transaction. Withdrawing an order whose re-inspection is pending cancels that assignment too,
which only the office may do.

Services flush and never commit; the request or CLI command commits.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from ..access import authorize
from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import utcnow
from ..draws import assignments as assignment_service
from ..errors import Conflict, Invalid
from ..extensions import db
from ..field.models.inspection import Violation
from ..races import conflict_on_race
from ..registry.models.venue import Venue
from .case_opening import _violations
from .models.case import EnforcementCase
from .models.rectification import RectificationOrder, RectificationOrderViolation
from .rectification import (
    CLOSED_CASE_STATES,
    DEAD_STATUSES,
    DONE_STATUSES,
    OPEN_STATES,
    STATE_LABELS,
    _claim,
    _close_links,
    china_today,
    settings,
)
from .rectification_documents import issue_rectification_notice

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
    issue_rectification_notice(order, actor=actor, channel=channel)
    return order


# --- withdrawing ------------------------------------------------------------------------------------


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
