"""Inspections recorded on a field device, their photos and violations, and the sync log.

Every record a device creates carries a UUID made on the device; each is UNIQUE here, so the
same record arriving twice (a retried push, or the same change under another operation id) is
one row. Device times are kept as the device said them and never used for ordering: the server
orders by its own sequence (`sync_operation.id`, `sync_change.id`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...columns import PERSONAL_DATA, utcnow
from ...draws.models.draw import Assignment
from ...extensions import db
from .evidence import EvidenceFile

INSPECTION_STATUSES = ("draft", "awaiting_evidence", "complete")
FINDING_SOURCES = ("evaluator", "manual")
PENALTY_TYPES = ("warning", "fine", "suspend")
NOTE_KINDS = ("positive", "negative")


class Inspection(db.Model):
    """One team's record of one assignment: check-in, observations, findings, photos.

    `draft` while the device may still change it; after submission `awaiting_evidence` until
    every photo of its manifest (its photo rows) has arrived with a matching SHA-256, then
    `complete`. Submitted records are immutable; corrections are amendments.
    """

    __tablename__ = "inspection"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id"), unique=True)
    device_id: Mapped[str] = mapped_column(String(36))
    inspector_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    checked_in_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # device clock
    # Where the team checked in: an inspector's position.
    latitude: Mapped[float | None] = mapped_column(Float, info=PERSONAL_DATA)
    longitude: Mapped[float | None] = mapped_column(Float, info=PERSONAL_DATA)
    status: Mapped[str] = mapped_column(String(24), default="draft", index=True)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # device clock
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)  # server clock
    submission_received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # server clock
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # server clock

    assignment: Mapped[Assignment] = relationship()
    photos: Mapped[list[Photo]] = relationship(back_populates="inspection", order_by="Photo.id")


class Observation(db.Model):
    """The value recorded for one checklist item; a later value replaces it while the record is a draft."""

    __tablename__ = "observation"
    __table_args__ = (UniqueConstraint("inspection_id", "item_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id", ondelete="CASCADE"), index=True)
    item_code: Mapped[str] = mapped_column(String(64))
    value: Mapped[object] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # device clock


class Finding(db.Model):
    """A problem found on site: made by the evaluator from the observations, or written by hand."""

    __tablename__ = "finding"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id", ondelete="CASCADE"), index=True)
    rule_code: Mapped[str] = mapped_column(String(16))
    check_code: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))  # evaluator | manual
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # device clock
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # device clock


class Photo(db.Model):
    """One entry of an inspection's photo manifest; `received_at` once bytes with its SHA-256 are stored."""

    __tablename__ = "photo"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id", ondelete="CASCADE"), index=True)
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("finding.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(255))  # shown to people, never a path
    original_name: Mapped[str | None] = mapped_column(String(255))
    media_type: Mapped[str | None] = mapped_column(String(32))
    caption: Mapped[str | None] = mapped_column(Text)
    exif_time: Mapped[str | None] = mapped_column(String(32))  # as the camera wrote it
    exif_latitude: Mapped[float | None] = mapped_column(Float, info=PERSONAL_DATA)
    exif_longitude: Mapped[float | None] = mapped_column(Float, info=PERSONAL_DATA)
    exif_orientation: Mapped[int | None] = mapped_column(Integer)
    taken_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # device clock
    evidence_file_id: Mapped[int | None] = mapped_column(ForeignKey("evidence_file.id"), index=True)
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # server clock

    inspection: Mapped[Inspection] = relationship(back_populates="photos")
    evidence_file: Mapped[EvidenceFile | None] = relationship()


class Penalty(db.Model):
    """A penalty the team proposes for a finding (the enforcement bureau decides)."""

    __tablename__ = "penalty"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("finding.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16))  # warning | fine | suspend
    amount: Mapped[int | None] = mapped_column(Integer)  # yuan, for a fine
    basis_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # device clock


class ExampleNote(db.Model):
    """Bulletin material: a positive or negative example seen on site."""

    __tablename__ = "example_note"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # positive | negative
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # device clock


class Amendment(db.Model):
    """A correction to a submitted inspection, with its reason; append-only."""

    __tablename__ = "amendment"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # device clock
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Violation(db.Model):
    """A rule check violated by a submitted inspection, as the server's own evaluation found it,
    with who answers for it: the venue's county and the departments responsible for its category.

    An amendment re-evaluates the record: a check it clears is withdrawn (kept, with the
    amendment that withdrew it), a check it breaks is added with the amendment that found it.
    Only violations without `withdrawn_at` are live.
    """

    __tablename__ = "violation"
    __table_args__ = (UniqueConstraint("inspection_id", "rule_code", "check_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id", ondelete="CASCADE"), index=True)
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("finding.id"), index=True)
    rule_code: Mapped[str] = mapped_column(String(16), index=True)
    check_code: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id"), index=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("county.id"), index=True)
    department_ids: Mapped[list] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    amendment_id: Mapped[int | None] = mapped_column(ForeignKey("amendment.id"))  # found by this amendment
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_by_amendment_id: Mapped[int | None] = mapped_column(ForeignKey("amendment.id"))


class SyncOperation(db.Model):
    """An operation a device pushed and the server applied; `id` is the server's sequence.

    Only applied operations are kept: the same op_id with the same payload hash gets `result`
    back, with another hash a 409. A refused operation is not kept, so the device may send it
    again once the cause is gone (e.g. its inspection arrived).
    """

    __tablename__ = "sync_operation"
    id: Mapped[int] = mapped_column(primary_key=True)  # server_seq
    op_id: Mapped[str] = mapped_column(String(36), unique=True)
    device_id: Mapped[str] = mapped_column(String(36), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(200))
    payload_sha256: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict | None] = mapped_column(JSON)
    device_time: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    skew_seconds: Mapped[float] = mapped_column(Float)
    skew_flagged: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
