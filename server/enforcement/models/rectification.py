"""Rectification orders (责令限期整改) and their re-inspection (复查).

An order tells the operator of one venue to put right the violations it covers by a deadline.
When the deadline has passed the office's daily job draws a re-inspection team for exactly that
venue (a draw like any other, `Draw.purpose = "reinspection"`) and links the sealed assignment
here; the re-inspection's submitted record decides the order: passed, or failed and escalated.
The order keeps everything the 责令（限期）整改通知书 needs, copied at issue, so that the notice
is built from the order alone.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...accounts.models.user import User
from ...columns import TimestampMixin, utcnow
from ...draws.models.draw import Assignment
from ...extensions import db
from ...field.models.evidence import EvidenceFile
from ...field.models.inspection import Inspection, Violation
from ...registry.models.reference import County
from ...registry.models.venue import Venue
from .case import EnforcementCase

ORDER_STATES = ("open", "reinspection_scheduled", "passed", "failed", "withdrawn")
# Links: the violations the order covers, and the re-inspection's violations that show a
# covered check still broken (the escalation's evidence).
LINK_KINDS = ("covered", "found_again")
# A report that the venue is put right: waiting for the office, confirmed, or sent back.
REPORT_STATES = ("submitted", "confirmed", "returned")
REPORTED_AS = ("county", "department")


class RectificationOrder(TimestampMixin, db.Model):
    """One order to one venue: open → reinspection_scheduled → passed | failed; open or
    reinspection_scheduled → withdrawn."""

    __tablename__ = "rectification_order"
    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(24), default="open", index=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id"), index=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("county.id"), index=True)
    # The penalty case the order belongs to (issued with a case, e.g. at 决定), or none for a
    # minor problem ordered put right without a case.
    case_id: Mapped[int | None] = mapped_column(ForeignKey("enforcement_case.id"), index=True)

    requirements: Mapped[str] = mapped_column(Text)  # what must be done (整改要求)
    legal_basis: Mapped[str | None] = mapped_column(Text)  # as the issuer wrote it, if given
    deadline: Mapped[date] = mapped_column(Date, index=True)  # last day to rectify (China Standard Time)
    issuing_authority: Mapped[str] = mapped_column(String(128))  # copied at issue from reference data
    issued_on: Mapped[date] = mapped_column(Date)  # China Standard Time
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))

    # The re-inspection: the sealed assignment of a draw scoped to this venue. The draw is
    # linked when it is made; its assignment once the draw's contribution is in. A re-inspection
    # cancelled or expired before anyone went is replaced by the next scheduling run.
    reinspection_draw_id: Mapped[int | None] = mapped_column(ForeignKey("draw.id"), index=True)
    reinspection_assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignment.id"), index=True)
    reinspection_scheduled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reinspection_inspection_id: Mapped[int | None] = mapped_column(ForeignKey("inspection.id"))

    # The office confirmed a report that the venue is put right (server.enforcement.rectification_reports):
    # the re-inspection is due from then, without waiting for the deadline.
    rectification_confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # The result: when it was decided, and what the re-inspection showed, in words.
    result_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result_note: Mapped[str | None] = mapped_column(Text)
    # A failed order escalates: the case later opened from the violations found again.
    escalated_case_id: Mapped[int | None] = mapped_column(ForeignKey("enforcement_case.id"), index=True)

    withdrawn_reason: Mapped[str | None] = mapped_column(Text)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    venue: Mapped[Venue] = relationship()
    county: Mapped[County] = relationship()
    case: Mapped[EnforcementCase | None] = relationship(foreign_keys=[case_id])
    escalated_case: Mapped[EnforcementCase | None] = relationship(foreign_keys=[escalated_case_id])
    issued_by: Mapped[User] = relationship(foreign_keys=[issued_by_id])
    reinspection_assignment: Mapped[Assignment | None] = relationship()
    reinspection_inspection: Mapped[Inspection | None] = relationship()
    links: Mapped[list[RectificationOrderViolation]] = relationship(
        back_populates="order", order_by="RectificationOrderViolation.violation_id", cascade="all, delete-orphan")


class RectificationOrderViolation(db.Model):
    """A violation an order covers (or, kind `found_again`, one its re-inspection found).

    `open` is True while a covering order is open and NULL otherwise: with the unique constraint
    on (violation_id, open) a violation is under at most one open order, enforced by the
    database (NULLs never collide), as for live case links.
    """

    __tablename__ = "rectification_order_violation"
    __table_args__ = (UniqueConstraint("order_id", "violation_id"), UniqueConstraint("violation_id", "open"))
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("rectification_order.id", ondelete="CASCADE"), index=True)
    violation_id: Mapped[int] = mapped_column(ForeignKey("violation.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="covered")
    open: Mapped[bool | None] = mapped_column(Boolean, default=True)

    order: Mapped[RectificationOrder] = relationship(back_populates="links")
    violation: Mapped[Violation] = relationship()


class RectificationReport(db.Model):
    """The county (属地) or the department (部门) reports that an order is put right, with a note
    and photos; the office confirms it or sends it back with a reason. submitted → confirmed |
    returned; a returned report is kept and a new one may follow.

    `pending` is True while the report waits for the office and NULL otherwise: with the unique
    (order_id, pending) pair an order has at most one report waiting, enforced by the database.
    """

    __tablename__ = "rectification_report"
    __table_args__ = (UniqueConstraint("order_id", "pending"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("rectification_order.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="submitted", index=True)
    pending: Mapped[bool | None] = mapped_column(Boolean, default=True)
    reported_as: Mapped[str] = mapped_column(String(16))  # county | department: the reporter's role then
    note: Mapped[str] = mapped_column(Text)
    reported_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    return_reason: Mapped[str | None] = mapped_column(Text)

    order: Mapped[RectificationOrder] = relationship()
    reported_by: Mapped[User] = relationship(foreign_keys=[reported_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    photos: Mapped[list[RectificationReportPhoto]] = relationship(
        back_populates="report", order_by="RectificationReportPhoto.position", cascade="all, delete-orphan")


class RectificationReportPhoto(db.Model):
    """One photo of a report: a file of the evidence store (by SHA-256), in the order given."""

    __tablename__ = "rectification_report_photo"
    __table_args__ = (UniqueConstraint("report_id", "evidence_file_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("rectification_report.id", ondelete="CASCADE"), index=True)
    evidence_file_id: Mapped[int] = mapped_column(ForeignKey("evidence_file.id"), index=True)
    position: Mapped[int] = mapped_column()
    filename: Mapped[str | None] = mapped_column(String(255))  # as the reporter's device named it; shown only

    report: Mapped[RectificationReport] = relationship(back_populates="photos")
    evidence_file: Mapped[EvidenceFile] = relationship()
