"""Official documents issued as PDFs, and the per-kind, per-year serial counters behind their numbers."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...accounts.models.user import User
from ...columns import utcnow
from ...extensions import db


class Document(db.Model):
    """One issued document: exactly the context it was rendered from, and the PDF's hashes.

    `content_sha256` is the SHA-256 of the canonical JSON of {kind, number, context}, kept with
    the row (a party's page prints no hash); `pdf_sha256` is the SHA-256 of the stored file's
    bytes, which a verifier compares with the file it holds. The file lives under EVIDENCE_DIR at `pdf_path`.

    `organ` is the issuing organ: each organ numbers each kind in its own series per year.
    `verification_code` is the short 核验码 printed with a QR code on the document; anyone holding
    the paper looks the document up with it on the public verification page.
    """

    __tablename__ = "document"
    __table_args__ = (
        UniqueConstraint("kind", "organ", "year", "serial"),
        Index("ix_document_subject", "subject_type", "subject_id"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # UUID, printed on the PDF
    kind: Mapped[str] = mapped_column(String(32))
    organ: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(64), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    serial: Mapped[int] = mapped_column(Integer)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[str] = mapped_column(String(64))
    context: Mapped[dict] = mapped_column(JSON)
    content_sha256: Mapped[str] = mapped_column(String(64))
    pdf_sha256: Mapped[str] = mapped_column(String(64), index=True)
    pdf_size: Mapped[int] = mapped_column(BigInteger)
    pdf_path: Mapped[str] = mapped_column(String(255))  # relative to EVIDENCE_DIR
    verification_code: Mapped[str] = mapped_column(String(16), unique=True)
    issued_on: Mapped[date] = mapped_column(Date)  # the date printed on the document
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The audit chain head when the document was issued, printed on it: the paper in a party's
    # hands then pins the log's history up to that event (server/audit/checkpoints.py).
    audit_head_seq: Mapped[int | None] = mapped_column(Integer)
    audit_head_hash: Mapped[str | None] = mapped_column(String(64))

    issued_by: Mapped[User] = relationship()


class DocumentCounter(db.Model):
    """The last serial used per document kind, issuing organ and year; locked while a number is
    allocated, and updated in the same transaction as the document row, so a rollback returns the number."""

    __tablename__ = "document_counter"
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    organ: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_serial: Mapped[int] = mapped_column(Integer, default=0)
