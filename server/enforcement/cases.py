"""Penalty cases: their states and labels, who may read and act on them, the procedure's periods,
and reading them — find, list, overdue, and the case as its readers see it.

State machine (`ALLOWED_TRANSITIONS`; the moves are made in server.enforcement.case_transitions,
cases opened in server.enforcement.case_opening)::

    filed 立案 → investigating 调查取证 → notified 告知 → decided 决定 → served 送达
      → executed 执行 → closed 结案
    investigating | notified → no_penalty 不予处罚
    filed | investigating | notified | decided | served → revoked 撤销

不予处罚 is itself the decision the bureau takes instead of a penalty decision (行政处罚法
第五十七条): after investigation, or after the party's statement and defence following the
notice. Once a penalty decision is made it is not turned into "no penalty"; a wrong decision is
set aside by revoking it (撤销), which is why `decided` leads only to `served` or `revoked`.
A case is revoked only before execution: what was executed is undone by other procedures
(review, litigation), not by this record.

Who may do what: the enforcement bureau reads and acts on every case and violation; the office
and admins read; everyone else is refused (403) before any lookup. The policies are registered
here, which every module working on cases or violations imports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import marshmallow as ma
import sqlalchemy as sa
import yaml
from flask import current_app
from marshmallow import fields, validate
from sqlalchemy.orm import selectinload

from ..access import authorize, get_or_404, grant, register_policy
from ..accounts.models.user import User
from ..columns import as_utc, china_today
from ..extensions import db
from ..field.models.inspection import Finding, Penalty, Photo, Violation
from ..pagination import PER_PAGE, Page, paginate
from ..registry.models.reference import LEGAL_PENALTY_TYPES, PENALTY_TYPE_LABELS, category_departments
from ..registry.models.venue import Venue
from . import case_documents, discretion
from . import documents as document_service
from .models.case import CaseTransition, EnforcementCase

STATE_LABELS = {
    "filed": "立案",
    "investigating": "调查取证",
    "notified": "告知",
    "decided": "决定",
    "served": "送达",
    "executed": "执行",
    "closed": "结案",
    "no_penalty": "不予处罚",
    "revoked": "撤销",
}
# What the button that moves a case into each state says.
ACTION_LABELS = {
    "investigating": "开始调查取证",
    "notified": "告知拟处罚",
    "decided": "作出处罚决定",
    "served": "登记送达",
    "executed": "登记执行",
    "closed": "结案",
    "no_penalty": "不予处罚",
    "revoked": "撤销案件",
}
# What a case may decide: every type of the benchmarks, in the combinations the case's benchmark
# allows. Detention only where the article provides it (治安管理处罚法, decided by 公安机关) and
# only for individuals (server.enforcement.discretion).
CASE_PENALTY_TYPES = LEGAL_PENALTY_TYPES
PENALTY_LABELS = {t: PENALTY_TYPE_LABELS[t] for t in CASE_PENALTY_TYPES}
SERVICE_METHOD_LABELS = {"direct": "直接送达", "left": "留置送达", "post": "邮寄送达", "electronic": "电子送达",
                         "entrusted": "委托送达", "announcement": "公告送达"}
OUTCOME_LABELS = {"paid": "已缴纳罚款", "complied": "已履行", "enforced": "强制执行"}

ALLOWED_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "filed": ("investigating", "revoked"),
    "investigating": ("notified", "no_penalty", "revoked"),
    "notified": ("decided", "no_penalty", "revoked"),
    "decided": ("served", "revoked"),
    "served": ("executed", "revoked"),
    "executed": ("closed",),
    "closed": (),
    "no_penalty": (),
    "revoked": (),
}
FINAL_STATES = tuple(state for state, targets in ALLOWED_TRANSITIONS.items() if not targets)
# Heavier penalties come later in this order (行政处罚法 第四十五条: defence never makes it heavier).
PENALTY_SEVERITY = {"order_correction": 0, "warning": 1, "fine": 2, "suspend": 3, "detention": 4}

LABEL = "案件"
VIOLATION_LABEL = "违规问题"
READERS = ("enforcement", "office", "admin")

register_policy(EnforcementCase, LABEL)
grant(EnforcementCase, "read", READERS)
grant(EnforcementCase, "act", "enforcement")
register_policy(Violation, VIOLATION_LABEL)
grant(Violation, "read", READERS)
grant(Violation, "act", "enforcement")


# --- reference periods -----------------------------------------------------------------------


class CasePeriodsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    version = fields.String(required=True)
    statement_working_days = fields.Integer(required=True, validate=validate.Range(min=1, max=30))
    hearing_request_days = fields.Integer(required=True, validate=validate.Range(min=1, max=30))
    payment_days_after_service = fields.Integer(required=True, validate=validate.Range(min=1, max=90))
    holidays = fields.List(fields.Date(), load_default=list)
    extra_working_days = fields.List(fields.Date(), load_default=list)


@dataclass(frozen=True)
class CasePeriods:
    statement_working_days: int
    hearing_request_days: int
    payment_days_after_service: int
    holidays: frozenset[date]
    extra_working_days: frozenset[date]

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_working_days:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, count: int) -> date:
        """The day on which `count` working days after `start` end (the start day not counted)."""
        day = start
        while count > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count -= 1
        return day


@lru_cache(maxsize=4)
def _load_periods(path: str) -> CasePeriods:
    data = CasePeriodsSchema().load(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    return CasePeriods(data["statement_working_days"], data["hearing_request_days"],
                       data["payment_days_after_service"], frozenset(data["holidays"]),
                       frozenset(data["extra_working_days"]))


def periods() -> CasePeriods:
    """The procedure's periods from server/reference/case_periods.yaml (validated, cached)."""
    return _load_periods(str(Path(current_app.config["REFERENCE_DIR"]) / "case_periods.yaml"))



# --- reading ------------------------------------------------------------------------------------


def find_case(ident, user: User, action: str = "read") -> EnforcementCase:
    """The case `user` may `action`; roles without a grant get 403 before the lookup."""
    authorize(user, action, EnforcementCase)
    case = get_or_404(EnforcementCase, ident)
    authorize(user, action, case)
    return case


def overdue_condition(on: date | None = None):
    """SQL: the case waits too long — a notice whose periods have run out without a decision, or
    a served fine not executed `payment_days_after_service` days after service."""
    on = on or china_today()
    payment_due = on - timedelta(days=periods().payment_days_after_service)
    return sa.or_(
        sa.and_(EnforcementCase.state == "notified", EnforcementCase.statement_deadline < on,
                sa.or_(EnforcementCase.hearing_request_deadline.is_(None),
                       EnforcementCase.hearing_request_deadline < on)),
        sa.and_(EnforcementCase.state == "served", EnforcementCase.decided_amount.is_not(None),
                EnforcementCase.served_on < payment_due),
    )


def is_overdue(case: EnforcementCase, on: date | None = None) -> bool:
    on = on or china_today()
    if case.state == "notified" and case.statement_deadline is not None:
        return case.statement_deadline < on and (case.hearing_request_deadline is None
                                                 or case.hearing_request_deadline < on)
    if case.state == "served" and case.decided_amount is not None and case.served_on is not None:
        return case.served_on + timedelta(days=periods().payment_days_after_service) < on
    return False


def overdue_cases(on: date | None = None) -> list[EnforcementCase]:
    return list(db.session.scalars(sa.select(EnforcementCase).where(overdue_condition(on))
                                   .order_by(EnforcementCase.id)))


def _department_venues(department_id: int):
    return sa.select(Venue.id).where(Venue.category_id.in_(
        sa.select(category_departments.c.category_id).where(category_departments.c.department_id == department_id)))


def list_cases(user: User, *, state: str | None = None, county_id: int | None = None,
               department_id: int | None = None, overdue: bool | None = None, page: int = 1,
               per_page: int = PER_PAGE, on: date | None = None) -> Page:
    """The case queue, newest first, filtered and paginated."""
    condition = authorize(user, "read", EnforcementCase).where(user)
    query = sa.select(EnforcementCase).where(condition)
    if state:
        query = query.where(EnforcementCase.state == state)
    if county_id is not None:
        query = query.where(EnforcementCase.county_id == county_id)
    if department_id is not None:
        query = query.where(EnforcementCase.venue_id.in_(_department_venues(department_id)))
    if overdue is not None:
        cond = overdue_condition(on)
        query = query.where(cond if overdue else sa.not_(cond))
    return paginate(query.options(selectinload(EnforcementCase.venue), selectinload(EnforcementCase.county))
                    .order_by(EnforcementCase.id.desc()), page, per_page)


def allowed_next(case: EnforcementCase) -> tuple[str, ...]:
    return ALLOWED_TRANSITIONS[case.state]


def case_violations(case: EnforcementCase) -> list[Violation]:
    return [link.violation for link in case.links]


def case_photos(case: EnforcementCase) -> list[Photo]:
    """The received photos of the case's inspections (the evidence), oldest first."""
    inspection_ids = {link.violation.inspection_id for link in case.links}
    return list(db.session.scalars(
        sa.select(Photo).where(Photo.inspection_id.in_(inspection_ids), Photo.received_at.is_not(None))
        .order_by(Photo.id)))


def proposed_by_inspectors(case: EnforcementCase) -> list[dict]:
    """What the inspection team proposed for the case's findings (a suggestion, not binding)."""
    finding_ids = [link.violation.finding_id for link in case.links if link.violation.finding_id]
    if not finding_ids:
        return []
    # Live proposals only: one withdrawn by an amendment (or whose finding was withdrawn) is kept
    # on the record but is no longer what the team proposes.
    return [{"type": p.type, "amount": p.amount, "basis_code": p.basis_code,
             "description": discretion.describe_combination(
                 [p.type], fine_amount=p.amount if p.type == "fine" else None,
                 detention_days=p.amount if p.type == "detention" else None)}
            for p in db.session.scalars(sa.select(Penalty).join(Finding, Finding.id == Penalty.finding_id)
                                        .where(Penalty.finding_id.in_(finding_ids), Penalty.withdrawn_at.is_(None),
                                               Finding.withdrawn_at.is_(None))
                                        .order_by(Penalty.id))]


# --- views ------------------------------------------------------------------------------------


def history(case: EnforcementCase) -> list[CaseTransition]:
    return list(db.session.scalars(sa.select(CaseTransition).where(CaseTransition.case_id == case.id)
                                   .options(selectinload(CaseTransition.actor)).order_by(CaseTransition.id)))


def officers_available() -> list[User]:
    """Active enforcement officers holding a certificate: who may handle a case."""
    return list(db.session.scalars(sa.select(User).where(
        User.role == "enforcement", User.is_active.is_(True), User.enforcement_certificate_no.is_not(None))
        .order_by(User.username)))


def detail(case: EnforcementCase) -> dict:
    """Everything a reader of the case sees (and a document needs), as plain data."""
    violations = case_violations(case)
    return {
        "id": case.id, "state": case.state, "state_label": STATE_LABELS[case.state], "version": case.version,
        "venue": {"id": case.venue.id, "name": case.venue.name, "address": case.venue.address},
        "county": {"id": case.county.id, "name": case.county.name},
        "party": {"kind": case.party_kind, "name": case.party_name, "id_number": case.party_id_number,
                  "unit_name": case.party_unit_name, "credit_code": case.party_credit_code,
                  "legal_representative": case.party_legal_representative, "address": case.party_address,
                  "phone": case.party_phone},
        "facts": case.facts, "evidence_summary": case.evidence_summary, "circumstance": case.circumstance,
        "act_date": case.act_date,
        "proposed_penalty": penalty_out(case.proposed_penalty_types, case.proposed_amount,
                                        case.proposed_detention_days, case.proposed_basis_code),
        "notified_on": case.notified_on, "statement_deadline": case.statement_deadline,
        "hearing_offered": case.hearing_offered, "hearing_request_deadline": case.hearing_request_deadline,
        "hearing_requested": case.hearing_requested, "hearing_held_on": case.hearing_held_on,
        "statement_waived": case.statement_waived, "statement_note": case.statement_note,
        "decided_penalty": penalty_out(case.decided_penalty_types, case.decided_amount,
                                       case.decided_detention_days, case.decided_basis_code),
        "decided_on": case.decided_on, "served_on": case.served_on, "service_method": case.service_method,
        "execution_outcome": case.execution_outcome, "paid_amount": case.paid_amount, "paid_on": case.paid_on,
        "executed_on": case.executed_on, "closed_on": case.closed_on, "end_reason": case.end_reason,
        "officers": [{"id": case.officer1_id, "display_name": case.officer1.display_name,
                      "certificate_no": case.officer1_certificate_no},
                     {"id": case.officer2_id, "display_name": case.officer2.display_name,
                      "certificate_no": case.officer2_certificate_no}],
        "opened_by_id": case.opened_by_id, "opened_at": as_utc(case.opened_at),
        "overdue": is_overdue(case),
        "violations": [violation_summary(v) for v in violations],
        "photos": [{"sha256": p.sha256, "caption": p.caption, "taken_at": as_utc(p.taken_at),
                    "inspection_id": p.inspection_id} for p in case_photos(case)],
        "history": [{"from_state": t.from_state, "to_state": t.to_state, "actor_id": t.actor_id,
                     "actor": t.actor.username if t.actor else None, "at": as_utc(t.at), "note": t.note}
                    for t in history(case)],
        "allowed_transitions": list(allowed_next(case)),
        "documents": [document_summary(d) for d in case_documents.documents_of(case)],
        "previewable": detail_previewable(case),
    }


def detail_previewable(case: EnforcementCase) -> list[str]:
    """The document kinds the case's next transitions issue (a draft of each can be previewed)."""
    return [case_documents.ISSUED_ON_ENTRY[t] for t in allowed_next(case) if t in case_documents.ISSUED_ON_ENTRY]


def document_summary(document) -> dict:
    return {"id": document.id, "kind": document.kind, "title": document_service.document_title(document),
            "number": document.number, "issued_on": document.issued_on, "issued_at": as_utc(document.issued_at),
            "download_url": f"/api/v1/documents/{document.id}/pdf",
            "signature": document_service.document_signature(document)}


def penalty_out(penalty_types, fine_amount, detention_days, basis_code) -> dict | None:
    """A case's penalty combination as its readers see it, with its description (行政拘留5日并处罚款500元)."""
    if not penalty_types:
        return None
    return {"types": list(penalty_types), "fine_amount": fine_amount, "detention_days": detention_days,
            "basis_code": basis_code,
            "description": discretion.describe_combination(penalty_types, fine_amount=fine_amount,
                                                           detention_days=detention_days)}


def violation_summary(violation: Violation) -> dict:
    return {"id": violation.id, "inspection_id": violation.inspection_id, "rule_code": violation.rule_code,
            "check_code": violation.check_code, "description": violation.description,
            "venue_id": violation.venue_id, "county_id": violation.county_id,
            "department_ids": violation.department_ids, "created_at": as_utc(violation.created_at)}
