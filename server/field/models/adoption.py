"""The office's decisions on which of an assignment's records stands (parallel records).

Two devices of one team may record the same assignment; the server keeps both (DESIGN.md §5).
The first to arrive is the primary record; the office may adopt another one instead, with a
reason. Each decision is a row here (append-only, also in the audit log); the record it
replaces stays, marked as not adopted, and is never deleted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...accounts.models.user import User
from ...columns import utcnow
from ...extensions import db


class RecordAdoption(db.Model):
    """The office adopted `adopted_id` as the assignment's primary record in place of `replaced_id`."""

    __tablename__ = "record_adoption"
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id"), index=True)
    adopted_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    replaced_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    decided_by: Mapped[User] = relationship()
