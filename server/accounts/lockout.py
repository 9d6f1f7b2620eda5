"""Per-account lockout: too many failed passwords lock the account for a while.

Beside the per-address rate limit (auth_setup.login_rate_limit), which stops one address from
guessing many accounts; this stops many addresses from guessing one. The count lives on the user
row, so it holds across processes. Plain functions that flush and never commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app

from ..audit.chain import record_event
from ..columns import as_utc, local_text, utcnow
from ..errors import Unauthorized
from ..extensions import db
from .models.user import User


class AccountLocked(Unauthorized):
    """Login refused because the account is locked; says until when, never whether the password
    was right."""

    def __init__(self, until: datetime):
        super().__init__(lock_message(until))
        self.until = until


def lock_message(until: datetime) -> str:
    return (f"该账号因多次登录失败已被暂时锁定，请于 {local_text(until)}（北京时间）后再试，"
            "或请系统管理员解除锁定。")


def locked_until(user: User, now: datetime | None = None) -> datetime | None:
    """When the account's lock ends, or None when it is not locked (an expired lock is none)."""
    until = as_utc(user.locked_until)
    return until if until is not None and until > (now or utcnow()) else None


def count_failed_login(user: User, *, channel: str) -> datetime | None:
    """Count one failed password; lock the account when the limit is reached within the window.

    Returns the end of the lock this failure set, or None. The row is locked while counting
    (PostgreSQL), so failures arriving at several processes at once are all counted.
    """
    db.session.refresh(user, with_for_update=True)
    config = current_app.config
    now = utcnow()
    window_start = as_utc(user.failed_logins_since)
    if window_start is None or now - window_start > timedelta(minutes=config["LOGIN_LOCKOUT_WINDOW_MINUTES"]):
        user.failed_logins = 0
        user.failed_logins_since = now
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins < config["LOGIN_LOCKOUT_ATTEMPTS"]:
        db.session.flush()
        return None
    until = now + timedelta(minutes=config["LOGIN_LOCKOUT_MINUTES"])
    user.locked_until = until
    # The next failure after the lock starts a new window; the count stays for the admin to see.
    user.failed_logins_since = None
    db.session.flush()
    record_event("auth.locked", channel=channel, object_type="user", object_id=str(user.id),
                 details={"username": user.username, "failed_logins": user.failed_logins,
                          "locked_until": until.isoformat()})
    return until


def clear_failed_logins(user: User) -> None:
    """Forget failures and any lock (a successful login, a new password, reactivation)."""
    user.failed_logins = 0
    user.failed_logins_since = None
    user.locked_until = None


def unlock_user(user: User, *, actor: User | None, channel: str = "web") -> bool:
    """Lift a lock before it ends (audited); False if the account was not locked."""
    if locked_until(user) is None:
        return False
    clear_failed_logins(user)
    db.session.flush()
    record_event("user.unlocked", actor=actor, channel=channel, object_type="user", object_id=str(user.id),
                 details={"username": user.username})
    return True
