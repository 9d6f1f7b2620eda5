"""Accountability cases (倒查责任): a period and scope traced to the four parties, reviewed by the
office and issued as a numbered report."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...accounts.models.user import User
from ...columns import TimestampMixin
from ...enforcement.models.document import Document
from ...extensions import db
from ...registry.models.reference import County

ACCOUNTABILITY_STATES = ("draft", "reviewed", "issued")


class AccountabilityCase(TimestampMixin, db.Model):
    """draft → reviewed (the office checked the findings) → issued (report PDF numbered and stored).

    Until issued the findings are traced afresh from the database on every read; at issue the
    findings and counts the report prints are stored in `findings` (and in the document's context),
    so the issued case keeps what it said even if violations are later withdrawn.
    """

    __tablename__ = "accountability_case"
    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    date_from: Mapped[date] = mapped_column(Date)
    date_to: Mapped[date] = mapped_column(Date)
    county_id: Mapped[int | None] = mapped_column(ForeignKey("county.id"), index=True)  # null: the whole city
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    review_note: Mapped[str | None] = mapped_column(Text)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    issued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    document_id: Mapped[str | None] = mapped_column(ForeignKey("document.id"), unique=True)
    findings: Mapped[dict | None] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)

    county: Mapped[County | None] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    issued_by: Mapped[User | None] = relationship(foreign_keys=[issued_by_id])
    document: Mapped[Document | None] = relationship()
