"""The bureau's word when the office adopts another record of an assignment (parallel records).

Adopting another record removes the primary record's violations (the adopted record's stand
instead). That is clean only while enforcement has not acted on them: a case opened from them
(even one revoked since: its links name them), a decision not to open one (不予立案), a
rectification order covering them, the 检查记录 issued from the record, or a rectification
order the record decided as its re-inspection. Then the switch is refused, naming what stands on the record.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..errors import Conflict
from ..extensions import db
from ..field.models.inspection import Inspection, Violation
from ..field.signals import primary_record_replacing
from .cases import STATE_LABELS as CASE_STATE_LABELS
from .documents import record_document_of
from .models.case import CaseViolation, EnforcementCase, ViolationDecline
from .models.rectification import RectificationOrder, RectificationOrderViolation
from .rectification import STATE_LABELS as ORDER_STATE_LABELS

_REFUSED = "不能改换采用的记录"


@primary_record_replacing.connect
def _refuse_when_acted_on(primary: Inspection, *, adopted: Inspection, violations: list[Violation]) -> None:
    check_not_acted_on(primary, violations)


def check_not_acted_on(primary: Inspection, violations: list[Violation]) -> None:
    """Conflict when enforcement already acted on the primary record or its violations."""
    ids = [violation.id for violation in violations]
    if ids:
        case = db.session.scalar(
            sa.select(EnforcementCase).join(CaseViolation, CaseViolation.case_id == EnforcementCase.id)
            .where(CaseViolation.violation_id.in_(ids)).order_by(EnforcementCase.id))
        if case is not None:
            raise Conflict(f"现采用记录的违规问题已立案（第 {case.id} 号案件，{CASE_STATE_LABELS[case.state]}），"
                           f"{_REFUSED}；如确需改换，请先与执法部门核实该案件。", case_id=case.id)
        if db.session.scalar(sa.select(ViolationDecline.id).where(ViolationDecline.violation_id.in_(ids)).limit(1)):
            raise Conflict(f"执法部门已对现采用记录的违规问题作出不予立案决定，{_REFUSED}。")
        order = db.session.scalar(sa.select(RectificationOrder).join(
            RectificationOrderViolation, RectificationOrderViolation.order_id == RectificationOrder.id)
            .where(RectificationOrderViolation.violation_id.in_(ids)).order_by(RectificationOrder.id))
        if order is not None:
            raise Conflict(f"现采用记录的违规问题已列入第 {order.id} 号整改通知（{ORDER_STATE_LABELS[order.state]}），"
                           f"{_REFUSED}。", order_id=order.id)
    document = record_document_of(primary)
    if document is not None:
        raise Conflict(f"现采用记录已出具检查记录 {document.number}，{_REFUSED}。", document_id=document.id)
    order = db.session.scalar(sa.select(RectificationOrder).where(
        RectificationOrder.reinspection_inspection_id == primary.id).order_by(RectificationOrder.id))
    if order is not None:
        raise Conflict(f"现采用记录已作为第 {order.id} 号整改通知的复查结果（{ORDER_STATE_LABELS[order.state]}），"
                       f"{_REFUSED}。", order_id=order.id)
