"""Shared column helpers for models."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

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


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, nullable=False
    )


def personal_columns(model) -> list[str]:
    """Names of the model's columns marked as personal data."""
    return [c.name for c in model.__table__.columns if c.info.get("personal_data")]
