"""Penalty cases (行政处罚案件): violations the enforcement bureau takes up, and their course.

A case holds everything its documents (告知书, 决定书) need — the party, facts, circumstance,
the proposed and the decided penalty with their legal basis, deadlines, service and execution —
so that a document is built from the case row alone. The two officers' certificate numbers are
copied onto the case when it is opened: a certificate renewed later must not rewrite history.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...accounts.models.user import User
from ...columns import PERSONAL_DATA, TimestampMixin, utcnow
from ...extensions import db
from ...field.models.inspection import Violation
from ...registry.models.reference import County
from ...registry.models.venue import Venue

CASE_STATES = ("filed", "investigating", "notified", "decided", "served", "executed", "closed", "no_penalty",
               "revoked")
PARTY_KINDS = ("individual", "unit")
CIRCUMSTANCES = ("first", "repeated", "refused", "serious")
SERVICE_METHODS = ("direct", "left", "post", "electronic", "entrusted", "announcement")
EXECUTION_OUTCOMES = ("paid", "complied", "enforced")
# A penalty combination's types (["detention", "fine"]). JSONB on PostgreSQL: its json type has no
# equality, and a query selecting whole case rows DISTINCT needs one.
PENALTY_TYPES_COLUMN = JSON().with_variant(JSONB(), "postgresql")


class EnforcementCase(TimestampMixin, db.Model):
    """One penalty case against one party (the operator of one venue, or a person found there)."""

    __tablename__ = "enforcement_case"
    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="filed", index=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id"), index=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("county.id"), index=True)

    # The party (当事人). Individuals: name and ID number; units: name, credit code, legal representative.
    party_kind: Mapped[str] = mapped_column(String(16))  # individual | unit
    party_name: Mapped[str | None] = mapped_column(String(64), info=PERSONAL_DATA)
    party_id_number: Mapped[str | None] = mapped_column(String(32), info=PERSONAL_DATA)
    party_unit_name: Mapped[str | None] = mapped_column(String(128))
    party_credit_code: Mapped[str | None] = mapped_column(String(18))  # 统一社会信用代码
    party_legal_representative: Mapped[str | None] = mapped_column(String(64), info=PERSONAL_DATA)
    # An individual's address is their home.
    party_address: Mapped[str | None] = mapped_column(String(256), info=PERSONAL_DATA)
    party_phone: Mapped[str | None] = mapped_column(String(32), info=PERSONAL_DATA)

    facts: Mapped[str] = mapped_column(Text)
    evidence_summary: Mapped[str | None] = mapped_column(Text)
    circumstance: Mapped[str] = mapped_column(String(16))  # first | repeated | refused | serious
    act_date: Mapped[date] = mapped_column(Date)  # the inspection's check-in date (China Standard Time)

    # 告知: the proposed penalty, the statement/defence period and the hearing right. A penalty is
    # a combination the benchmark allows: its types (["detention", "fine"]), the fine in yuan
    # (`*_amount`, set exactly when the types hold a fine) and the detention in days.
    proposed_penalty_types: Mapped[list | None] = mapped_column(PENALTY_TYPES_COLUMN)
    proposed_amount: Mapped[int | None] = mapped_column(Integer)  # fine, yuan
    proposed_detention_days: Mapped[int | None] = mapped_column(Integer)
    proposed_basis_code: Mapped[str | None] = mapped_column(String(64))
    notified_on: Mapped[date | None] = mapped_column(Date)
    statement_deadline: Mapped[date | None] = mapped_column(Date)
    hearing_offered: Mapped[bool] = mapped_column(Boolean, default=False)
    hearing_request_deadline: Mapped[date | None] = mapped_column(Date)
    hearing_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    hearing_held_on: Mapped[date | None] = mapped_column(Date)
    statement_waived: Mapped[bool] = mapped_column(Boolean, default=False)
    statement_note: Mapped[str | None] = mapped_column(Text)  # what the party stated in defence

    # 决定 and 送达.
    decided_penalty_types: Mapped[list | None] = mapped_column(PENALTY_TYPES_COLUMN)
    decided_amount: Mapped[int | None] = mapped_column(Integer)  # fine, yuan
    decided_detention_days: Mapped[int | None] = mapped_column(Integer)
    decided_basis_code: Mapped[str | None] = mapped_column(String(64))
    decided_on: Mapped[date | None] = mapped_column(Date)
    served_on: Mapped[date | None] = mapped_column(Date)
    service_method: Mapped[str | None] = mapped_column(String(16))

    # 执行 and 结案.
    execution_outcome: Mapped[str | None] = mapped_column(String(16))  # paid | complied | enforced
    paid_amount: Mapped[int | None] = mapped_column(Integer)
    paid_on: Mapped[date | None] = mapped_column(Date)
    executed_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    end_reason: Mapped[str | None] = mapped_column(Text)  # why 不予处罚 or 撤销

    # Two officers (行政处罚法 第四十二条), certificate numbers as they were at opening.
    officer1_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    officer1_certificate_no: Mapped[str] = mapped_column(String(32))
    officer2_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    officer2_certificate_no: Mapped[str] = mapped_column(String(32))

    opened_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Optimistic concurrency: every transition names the version it was made from.
    version: Mapped[int] = mapped_column(Integer, default=1)

    venue: Mapped[Venue] = relationship()
    county: Mapped[County] = relationship()
    officer1: Mapped[User] = relationship(foreign_keys=[officer1_id])
    officer2: Mapped[User] = relationship(foreign_keys=[officer2_id])
    opened_by: Mapped[User] = relationship(foreign_keys=[opened_by_id])
    links: Mapped[list[CaseViolation]] = relationship(back_populates="case", order_by="CaseViolation.violation_id")
    transitions: Mapped[list[CaseTransition]] = relationship(order_by="CaseTransition.id")


class CaseViolation(db.Model):
    """A violation taken up by a case.

    `live` is True while the case is not revoked and NULL afterwards: with the unique constraint
    on (violation_id, live) a violation is in at most one live case — NULLs never collide, so a
    revoked case's links do not block a new one — and the database itself refuses a second.
    """

    __tablename__ = "case_violation"
    __table_args__ = (UniqueConstraint("case_id", "violation_id"), UniqueConstraint("violation_id", "live"))
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("enforcement_case.id", ondelete="CASCADE"), index=True)
    violation_id: Mapped[int] = mapped_column(ForeignKey("violation.id"), index=True)
    live: Mapped[bool | None] = mapped_column(Boolean, default=True)

    case: Mapped[EnforcementCase] = relationship(back_populates="links")
    violation: Mapped[Violation] = relationship()


class ViolationDecline(db.Model):
    """The bureau's decision not to open a case for a violation (不予立案), with its reason."""

    __tablename__ = "violation_decline"
    id: Mapped[int] = mapped_column(primary_key=True)
    violation_id: Mapped[int] = mapped_column(ForeignKey("violation.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    declined_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    declined_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    declined_by: Mapped[User] = relationship()


class CaseTransition(db.Model):
    """Each state change of a case, in order (also written to the audit log)."""

    __tablename__ = "case_transition"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("enforcement_case.id", ondelete="CASCADE"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    note: Mapped[str | None] = mapped_column(Text)
    # The data the transition recorded (penalty, dates, method …), as it was given.
    details: Mapped[dict | None] = mapped_column(JSON)

    actor: Mapped[User | None] = relationship()
