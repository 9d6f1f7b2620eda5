"""Shared column helpers for models."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import DateTime
from sqlalchemy.orm import Mapped, mapped_column

# Marks a column that holds personal data: masked for propaganda, excluded from public exports.
PERSONAL_DATA = {"personal_data": True}


# Stored times are UTC; people in 金华 read and type China Standard Time (UTC+8, no DST).
CHINA_STANDARD_TIME = timezone(timedelta(hours=8))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes for timezone-aware columns; they are UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


def local_text(moment: datetime | None, missing: str = "—") -> str:
    """A stored time as China Standard Time for people, e.g. 2021-12-14 09:30."""
    if moment is None:
        return missing
    return as_utc(moment).astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%d %H:%M")


# Days people choose and read are Beijing days. Queries filter stored UTC times with UTC bounds
# computed here: SQLite keeps a datetime's own digits and drops its offset, so a bound given in
# UTC+8 would be compared as if it were UTC there (PostgreSQL would convert it). Buckets are made
# in Python with `china_date`, the same on both databases.


def china_today(now: datetime | None = None) -> date:
    """Today in 金华 (Beijing time)."""
    return as_utc(now or utcnow()).astimezone(CHINA_STANDARD_TIME).date()


def china_date(moment: datetime | None) -> date | None:
    """The Beijing day a stored (UTC) time falls on: 16:30 UTC is 00:30 the next day there."""
    if moment is None:
        return None
    return as_utc(moment).astimezone(CHINA_STANDARD_TIME).date()


def china_day_start(day: date) -> datetime:
    """00:00 Beijing time on `day`, in UTC (16:00 UTC the day before)."""
    return datetime.combine(day, time(0), CHINA_STANDARD_TIME).astimezone(timezone.utc)


def china_days_utc(date_from: date, date_to: date | None = None) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the Beijing days `date_from` to `date_to` inclusive (one day if no end)."""
    return china_day_start(date_from), china_day_start((date_to or date_from) + timedelta(days=1))


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, nullable=False
    )


def personal_columns(model) -> list[str]:
    """Names of the model's columns marked as personal data."""
    return [c.name for c in model.__table__.columns if c.info.get("personal_data")]
