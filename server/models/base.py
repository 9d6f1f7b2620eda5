"""Shared column helpers for models."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime
from sqlalchemy.orm import Mapped, mapped_column

# Marks a column that holds personal data: masked for propaganda, excluded from public exports.
PERSONAL_DATA = {"personal_data": True}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, nullable=False
    )


def personal_columns(model) -> list[str]:
    """Names of the model's columns marked as personal data."""
    return [c.name for c in model.__table__.columns if c.info.get("personal_data")]
