"""Users, their roles and scope, and device tokens for the API."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...columns import PERSONAL_DATA, TimestampMixin, utcnow
from ...extensions import db
from ...registry.models.reference import County, Department
from ...roles import ROLE_LABELS


class User(TimestampMixin, db.Model):
    __tablename__ = "user_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), info=PERSONAL_DATA)
    password_hash: Mapped[str | None] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    county_id: Mapped[int | None] = mapped_column(ForeignKey("county.id"))
    enforcement_certificate_no: Mapped[str | None] = mapped_column(String(32), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32), info=PERSONAL_DATA)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Failed password attempts since `failed_logins_since` (the start of the lockout window).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    failed_logins_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Password login is refused until then, right password or not (per-account lockout).
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Part of the id stored in the session cookie: raising it ends every session signed before
    # (logout, password reset, deactivation, role change), since Flask's cookie session cannot be
    # deleted on the server.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    department: Mapped[Department | None] = relationship()
    county: Mapped[County | None] = relationship()

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        # Flask-Login's "alternative tokens": the session holds "<id>:<epoch>" and the user loader
        # refuses an epoch that is no longer the user's.
        return f"{self.id}:{self.session_epoch or 0}"

    @property
    def role_label(self) -> str:
        return ROLE_LABELS[self.role]


class DeviceToken(TimestampMixin, db.Model):
    """A revocable bearer token for a device; only its SHA-256 is stored."""

    __tablename__ = "device_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))  # shown to admins to tell tokens apart
    label: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[User] = relationship()
