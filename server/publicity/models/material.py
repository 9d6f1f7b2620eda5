"""Bulletin material (典型材料) and the numbered bulletins (简报, 第N期) composed from it.

A material item is one flagged example: an inspector's ExampleNote (every note of a submitted
inspection becomes a candidate when the office or propaganda opens the library), or a finding or
a set of an inspection's photos flagged by the office or propaganda. The text as written stays
internal; propaganda sees it masked (server/publicity/masking.py), derived on every read so that a
better masking rule applies to old items too. Photos are shown only as redacted public images
made from the original with the item's rectangles burned in.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...accounts.models.user import User
from ...columns import utcnow
from ...extensions import db
from ...field.models.inspection import ExampleNote, Finding, Inspection, Photo

MATERIAL_KINDS = ("positive", "negative")
MATERIAL_SOURCES = ("note", "finding", "photos")
MATERIAL_STATES = ("candidate", "approved", "rejected")
VENUE_DISPLAYS = ("show", "mask")
BULLETIN_STATES = ("draft", "submitted", "approved", "published")


class MaterialItem(db.Model):
    """One positive (先进事迹) or negative (反面教材) example, from a note, a finding or photos."""

    __tablename__ = "material_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # note | finding | photos
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    # A note becomes at most one item (collecting candidates twice adds nothing).
    example_note_id: Mapped[int | None] = mapped_column(ForeignKey("example_note.id"), unique=True)
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("finding.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # positive | negative
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)  # as written: internal, never shown to propaganda
    venue_display: Mapped[str] = mapped_column(String(8))  # show | mask
    state: Mapped[str] = mapped_column(String(16), default="candidate", index=True)
    flagged_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    inspection: Mapped[Inspection] = relationship()
    example_note: Mapped[ExampleNote | None] = relationship()
    finding: Mapped[Finding | None] = relationship()
    flagged_by: Mapped[User] = relationship(foreign_keys=[flagged_by_id])
    photos: Mapped[list[MaterialPhoto]] = relationship(back_populates="item", order_by="MaterialPhoto.position",
                                                       cascade="all, delete-orphan")


class MaterialPhoto(db.Model):
    """A photo chosen for an item, with its redaction rectangles (normalised 0–1: x, y, w, h).

    `boxes_version` counts changes; the redacted file is named by the digest of the boxes, so a
    change makes a new file and a published bulletin keeps the one it embedded.
    """

    __tablename__ = "material_photo"
    __table_args__ = (UniqueConstraint("item_id", "position"), UniqueConstraint("item_id", "photo_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("material_item.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 1-based, the index in URLs
    photo_id: Mapped[int] = mapped_column(ForeignKey("photo.id"), index=True)
    boxes: Mapped[list] = mapped_column(JSON, default=list)
    boxes_version: Mapped[int] = mapped_column(Integer, default=0)
    boxes_updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    boxes_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    item: Mapped[MaterialItem] = relationship(back_populates="photos")
    photo: Mapped[Photo] = relationship()


class Bulletin(db.Model):
    """One issue of the bulletin. Numbered (year, serial → 第N期) when published, so that the
    published issues of a year run 1, 2, 3 … without gaps; a published issue never changes:
    `context` is exactly what its stored PDF was rendered from."""

    __tablename__ = "bulletin"
    __table_args__ = (UniqueConstraint("year", "serial"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    editorial: Mapped[str] = mapped_column(Text, default="")
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    year: Mapped[int | None] = mapped_column(Integer)
    serial: Mapped[int | None] = mapped_column(Integer)
    issued_on: Mapped[date | None] = mapped_column(Date)
    context: Mapped[dict | None] = mapped_column(JSON)
    pdf_path: Mapped[str | None] = mapped_column(String(255))  # relative to EVIDENCE_DIR
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    pdf_size: Mapped[int | None] = mapped_column(BigInteger)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    entries: Mapped[list[BulletinItem]] = relationship(order_by="BulletinItem.position",
                                                       cascade="all, delete-orphan")


class BulletinItem(db.Model):
    """A material item chosen for a bulletin; its section follows the item's kind."""

    __tablename__ = "bulletin_item"
    __table_args__ = (UniqueConstraint("bulletin_id", "material_item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    bulletin_id: Mapped[int] = mapped_column(ForeignKey("bulletin.id", ondelete="CASCADE"), index=True)
    material_item_id: Mapped[int] = mapped_column(ForeignKey("material_item.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    # The issue's own wording for this item; None prints the library's (masked) title and text.
    # Masked like them when the issue is rendered.
    heading: Mapped[str | None] = mapped_column(String(200))
    text: Mapped[str | None] = mapped_column(Text)

    item: Mapped[MaterialItem] = relationship()
