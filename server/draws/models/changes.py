"""The change log field devices pull: every change to an assignment a team's devices must hear of.

Written where the change happens (an assignment dispatched or revealed, an inspection accepted),
read by the pull (`GET /api/v1/sync/pull?cursor=N`) in the order of the server's own sequence.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ...columns import utcnow
from ...extensions import db


class SyncChange(db.Model):
    """A change devices pull (`GET /api/v1/sync/pull?cursor=N`); `id` is the cursor's sequence.

    Scoped to an assignment: a user pulls the changes of the assignments of their team.
    """

    __tablename__ = "sync_change"
    id: Mapped[int] = mapped_column(primary_key=True)  # seq
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id", ondelete="CASCADE"), index=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
