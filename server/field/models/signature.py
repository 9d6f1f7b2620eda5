"""Signatures on site: each inspector and the venue's person in charge sign the record on the
device after reading its summary, or the person refuses (拒绝签字) and the team writes down who
witnessed it.

Signatures are part of the record: made while the inspection is a draft, immutable after its
submission like everything else in it. The PNG is kept in the row: it is small (≤ 256 KiB) and
read only with its record.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ...columns import PERSONAL_DATA, utcnow
from ...extensions import db

SIGNATURE_ROLES = ("inspector", "venue_person")
SIGNATURE_ROLE_LABELS = {"inspector": "督查人员", "venue_person": "被检查场所负责人"}
MAX_SIGNATURE_PNG_BYTES = 256 * 1024
WITNESS_NOTE_MAX = 500


class Signature(db.Model):
    """One signature (or refusal to sign) under an inspection record, with the device's UUID.

    `signer_name` is the name as written on the device; for an inspector the team member who
    pushed it is kept as well (`signer_user_id`), so the written name is tied to an account.
    """

    __tablename__ = "signature"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))  # inspector | venue_person
    signer_name: Mapped[str] = mapped_column(String(64), info=PERSONAL_DATA)
    signer_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # device clock
    refused: Mapped[bool] = mapped_column(Boolean, default=False)
    witness_note: Mapped[str | None] = mapped_column(Text)
    # A handwritten signature identifies a person as much as the name does.
    png: Mapped[bytes | None] = mapped_column(LargeBinary, info=PERSONAL_DATA)
    png_sha256: Mapped[str | None] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)  # server clock
