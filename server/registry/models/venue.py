"""Venues: the places inspected, their rooms with seats, and every registered version of them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...columns import PERSONAL_DATA, TimestampMixin, utcnow
from ...extensions import db
from .reference import County, VenueCategory


class Venue(TimestampMixin, db.Model):
    __tablename__ = "venue"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("venue_category.id"), index=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("county.id"), index=True)
    town: Mapped[str | None] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(256))
    latitude: Mapped[float | None] = mapped_column(Numeric(9, 6))
    longitude: Mapped[float | None] = mapped_column(Numeric(9, 6))
    approved_capacity: Mapped[int | None] = mapped_column(Integer)  # 核定人数
    operator_name: Mapped[str | None] = mapped_column(String(64), info=PERSONAL_DATA)
    contact_phone: Mapped[str | None] = mapped_column(String(32), info=PERSONAL_DATA)
    # The 统一社会信用代码 of the unit running the venue (server.registry.credit_code), the party
    # of a case opened against it; None for a venue without one on record (a village, a site).
    credit_code: Mapped[str | None] = mapped_column(String(18))
    # A closed venue stays on record (its inspections and cases refer to it) but is no longer
    # drawn (server.draws.candidates.snapshot_venues).
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_reason: Mapped[str | None] = mapped_column(String(256))

    category: Mapped[VenueCategory] = relationship()
    county: Mapped[County] = relationship()
    rooms: Mapped[list[VenueRoom]] = relationship(back_populates="venue", cascade="all, delete-orphan",
                                                  order_by="VenueRoom.position")

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class VenueRoom(db.Model):
    """A private room (包厢) of a venue with its approved seats (座位数), in the register's order."""

    __tablename__ = "venue_room"
    __table_args__ = (UniqueConstraint("venue_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    seats: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, default=0)

    venue: Mapped[Venue] = relationship(back_populates="rooms")


class VenueVersion(db.Model):
    """One registered state of a venue: the values after a creation, an edit, a merge or the closing.

    Version 1 is the venue as created; each change adds the next number with every registered
    value (not a diff), so any past state reads from one row.
    """

    __tablename__ = "venue_version"
    __table_args__ = (UniqueConstraint("venue_id", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venue.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(String(16))  # created, updated, merged, closed, imported
    values: Mapped[dict] = mapped_column(JSON)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    channel: Mapped[str] = mapped_column(String(16))

    changed_by = relationship("User")
