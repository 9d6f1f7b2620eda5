"""Venues: the places inspected."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...columns import PERSONAL_DATA, TimestampMixin
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

    category: Mapped[VenueCategory] = relationship()
    county: Mapped[County] = relationship()
