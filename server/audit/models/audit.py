"""The append-only, hash-chained audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from ...columns import utcnow
from ...extensions import db


class AppendOnlyError(RuntimeError):
    """An attempt to change or delete a recorded audit event through the ORM."""


class AuditEvent(db.Model):
    """One link of the chain; written only by server.audit.chain.record_event."""

    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)  # position in the chain, 1-based
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    actor_label: Mapped[str] = mapped_column(String(64))  # username, or "system"/"cli"
    channel: Mapped[str] = mapped_column(String(16))  # api | web | cli | system
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


# The database triggers refuse this too; failing in the flush names the culprit in Python.
@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _refuse_change(_mapper, _connection, target: AuditEvent) -> None:
    raise AppendOnlyError(f"audit events are append-only: event seq={target.seq} cannot be changed or deleted")


class AuditChainHead(db.Model):
    """One row locked by every writer so that concurrent appends cannot fork the chain."""

    __tablename__ = "audit_chain_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
