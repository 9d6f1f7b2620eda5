"""Photo uploads (tus resources) and the content-addressed evidence files they become."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...accounts.models.user import User
from ...columns import PERSONAL_DATA, utcnow
from ...extensions import db


class EvidenceFile(db.Model):
    """One photo's original bytes, stored once under EVIDENCE_DIR/sha256/ab/cdef… .

    The SHA-256 is the identity: the same bytes uploaded twice are one row. Paths are relative to
    EVIDENCE_DIR and are written by the server only; nothing a client sends becomes a path.
    """

    __tablename__ = "evidence_file"
    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(32))  # from the content, not from the client
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    exif_taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Where the photo was taken can locate a person (an informant, an inspector's route).
    gps_lat: Mapped[float | None] = mapped_column(Float, info=PERSONAL_DATA)
    gps_lon: Mapped[float | None] = mapped_column(Float, info=PERSONAL_DATA)
    stored_path: Mapped[str] = mapped_column(String(255))
    # {variant name: path relative to EVIDENCE_DIR}
    variants: Mapped[dict] = mapped_column(JSON, default=dict)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    uploaded_by: Mapped[User] = relationship()


class Upload(db.Model):
    """A tus upload resource: bytes arrive in PATCH requests into a temporary file.

    The temporary file is the only record of progress: its size is the upload's offset and its
    modification time the last activity, from which the expiry is counted. A chunk therefore
    costs no database write, and disk and database cannot disagree about how many bytes arrived.
    """

    __tablename__ = "upload"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # UUID, the URL's last segment
    owner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    upload_length: Mapped[int] = mapped_column(BigInteger)
    declared_sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(255))  # shown to people, never a path
    declared_type: Mapped[str | None] = mapped_column(String(100))
    temp_path: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    evidence_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_file.id"), index=True)

    owner: Mapped[User] = relationship()
    evidence: Mapped[EvidenceFile | None] = relationship()
