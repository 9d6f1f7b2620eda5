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
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
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
    # One primary record per assignment, kept by the database: `is_primary` is True or NULL and
    # NULLs never collide, so parallel records (NULL) may be many and a second True is refused.
    __table_args__ = (UniqueConstraint("assignment_id", "is_primary"),
                      CheckConstraint("is_primary IS NULL OR is_primary", name="primary_true_or_null"))
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignment.id"), index=True)
    # True: the record that stands for the assignment (completion, violations, cases, reports
    # read it alone); NULL: a parallel record another device of the team sent (DESIGN.md §5),
    # kept and compared, until the office adopts it (server.field.parallel_records).
    is_primary: Mapped[bool | None] = mapped_column(Boolean, default=True)
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
    # Check-in checks (server.field.checkin_checks), computed when the record arrives and never a
    # reason to refuse it: metres from the check-in position to the venue (None: either has no
    # position), the Chinese flags shown to the office (None: not checked yet), and whether the
    # record or one of its photos is flagged (the list's 签到异常 filter).
    checkin_distance_m: Mapped[int | None] = mapped_column(Integer)
    checkin_flags: Mapped[list | None] = mapped_column(JSON)
    checkin_flagged: Mapped[bool] = mapped_column(default=False, server_default=sa_false(), index=True)

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
    # Added or withdrawn after submission by this amendment (server.field.amendments).
    amendment_id: Mapped[int | None] = mapped_column(ForeignKey("amendment.id"))
    withdrawn_by_amendment_id: Mapped[int | None] = mapped_column(ForeignKey("amendment.id"))


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
    # Metres from where the camera says it was to the venue, and the flag when too far (checkin_checks).
    distance_m: Mapped[int | None] = mapped_column(Integer)
    position_flag: Mapped[str | None] = mapped_column(Text)

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
    # Added or withdrawn after submission by this amendment; a withdrawn one is kept, never live.
    amendment_id: Mapped[int | None] = mapped_column(ForeignKey("amendment.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the amendment's device clock
    withdrawn_by_amendment_id: Mapped[int | None] = mapped_column(ForeignKey("amendment.id"))


class ExampleNote(db.Model):
    """Bulletin material: a positive or negative example seen on site."""

    __tablename__ = "example_note"
    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # positive | negative
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))  # device clock
    # Added or withdrawn after submission by this amendment; a withdrawn one is kept, never live.
    amendment_id: Mapped[int | None] = mapped_column(ForeignKey("amendment.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # the amendment's device clock
    withdrawn_by_amendment_id: Mapped[int | None] = mapped_column(ForeignKey("amendment.id"))


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
