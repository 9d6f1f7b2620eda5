"""Signed checkpoints of the chain head, and the auditors' public keys they are signed with.

The private keys never reach the server: an auditor signs a head on their own machine
(checkpoint_signer) and hands the signed file in. What is stored here is a copy for convenience
and for the daily export; the proof is the signed files kept outside the system.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ...columns import utcnow
from ...extensions import db


class AuditorKey(db.Model):
    """An auditor's Ed25519 public key (base64 of the raw 32 bytes), registered as theirs."""

    __tablename__ = "audit_auditor_key"
    id: Mapped[int] = mapped_column(primary_key=True)
    public_key: Mapped[str] = mapped_column(String(44), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(64))
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class AuditCheckpoint(db.Model):
    """A chain head (seq, hash, time) signed with a registered auditor key; `document` is the
    signed file exactly as written (canonical JSON), what the export copies out."""

    __tablename__ = "audit_checkpoint"
    __table_args__ = (UniqueConstraint("seq", "public_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    signed_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # the head's time (UTC)
    public_key: Mapped[str] = mapped_column(String(44))
    signature: Mapped[str] = mapped_column(String(88))
    document: Mapped[str] = mapped_column(Text)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
