"""Users and authentication: password login, user creation, device tokens for the API.

Plain functions; they flush and never commit (the request or the CLI command commits). Every
security-relevant event is written to the audit log.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from ..audit.chain import record_event
from ..columns import as_utc, utcnow
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..pagination import Page, paginate
from ..registry.models.reference import County, Department
from ..roles import ROLE_LABELS, ROLES
from .lockout import (
    AccountLocked,
    clear_failed_logins,
    count_failed_login,
    locked_until,
)
from .models.user import DeviceToken, User
from .passwords import hash_password, needs_rehash, verify_password
from .sessions import end_sessions

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")
MIN_PASSWORD_LENGTH = 8
# Roles whose members may carry an enforcement certificate (执法证) into the field.
CERTIFICATE_ROLES = frozenset({"inspector", "enforcement"})
# Tokens carry a fixed tag: secret scanners can recognise a leaked one, and a prefix shown to admins
# never starts with "-" (which a command line would take for an option).
TOKEN_TAG = "anf_"
TOKEN_PREFIX_LENGTH = len(TOKEN_TAG) + 8
# last_used_at is informational; writing it on every API call would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


# --- password login -------------------------------------------------------------------------


def authenticate(username: str, password: str, *, channel: str = "web") -> User | None:
    """The active user with this username and password, or None.

    A missing user still costs one password verification (against a dummy hash) so that the
    answer time does not tell which usernames exist. A locked account raises AccountLocked
    whatever the password (the caller must still commit: the failure is counted and audited);
    the failure that reaches the limit locks it (lockout.count_failed_login).
    """
    username = (username or "").strip()
    user = db.session.scalar(select(User).where(User.username == username)) if username else None
    password_ok = verify_password(user.password_hash if user else None, password or "")
    lock_end = locked_until(user) if user is not None else None

    if user is None or lock_end is not None or not password_ok or not user.is_active:
        if user is None:
            reason = "unknown_user"
        elif lock_end is not None:
            reason = "locked"  # not counted: the lock already stops this account's guessing
        elif not password_ok:
            reason = "bad_password"
            lock_end = count_failed_login(user, channel=channel)
        else:
            reason = "inactive"
        db.session.flush()
        # The requester is not known to be the account holder, so the account is the object.
        record_event("auth.login_failed", channel=channel, object_type="user",
                     object_id=str(user.id) if user else None,
                     details={"username": username[:64], "reason": reason})
        if lock_end is not None:
            raise AccountLocked(lock_end)
        return None

    clear_failed_logins(user)
    user.last_login_at = utcnow()
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    db.session.flush()
    record_event("auth.login", actor=user, channel=channel, object_type="user", object_id=str(user.id))
    return user


def log_out(user: User, *, channel: str = "web") -> None:
    """End the user's sessions (a copy of the cookie taken before no longer works) and audit it."""
    end_sessions(user)
    record_event("auth.logout", actor=user, channel=channel, object_type="user", object_id=str(user.id))


# --- users ----------------------------------------------------------------------------------


def find_department(code_or_name: str) -> Department:
    """A department by its code or its (short) name; NotFound names what was asked for."""
    value = (code_or_name or "").strip()
    department = db.session.scalar(
        select(Department).where(or_(Department.code == value, Department.name == value,
                                     Department.short_name == value))
    )
    if department is None:
        raise NotFound(f"没有代码或名称为“{value}”的部门。")
    return department


def find_county(code_or_name: str) -> County:
    """A county by its code or name; NotFound names what was asked for."""
    value = (code_or_name or "").strip()
    county = db.session.scalar(select(County).where(or_(County.code == value, County.name == value)))
    if county is None:
        raise NotFound(f"没有代码或名称为“{value}”的县市区。")
    return county


def find_user(username: str) -> User:
    user = db.session.scalar(select(User).where(User.username == (username or "").strip()))
    if user is None:
        raise NotFound(f"用户“{username}”不存在。")
    return user


def check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise Invalid(f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符。", errors={"password": ["过短"]})


def _checked_scope(role: str, department, county, certificate_no: str | None, *,
                   user: User | None = None) -> tuple[Department | None, County | None, str | None]:
    """Department, county and certificate resolved and checked against the role; `user` is the
    one being edited (its own certificate is not a duplicate)."""
    if isinstance(department, str):
        department = find_department(department) if department.strip() else None
    if isinstance(county, str):
        county = find_county(county) if county.strip() else None
    if role == "department" and department is None:
        raise Invalid("行业部门用户必须指定所属部门（--department）。", errors={"department": ["必填"]})
    if role == "county" and county is None:
        raise Invalid("属地政府用户必须指定所属县市区（--county）。", errors={"county": ["必填"]})

    certificate_no = (certificate_no or "").strip() or None
    if certificate_no is not None:
        if role not in CERTIFICATE_ROLES:
            raise Invalid("只有督查人员或执法人员可以登记执法证号。", errors={"certificate_no": ["该角色不适用"]})
        holder = db.session.scalar(select(User).where(User.enforcement_certificate_no == certificate_no))
        if holder is not None and holder is not user:
            raise Conflict(f"执法证号“{certificate_no}”已登记在用户“{holder.username}”名下。",
                           errors={"certificate_no": ["该执法证号已登记。"]})
    return department, county, certificate_no


def create_user(
    username: str,
    role: str,
    password: str,
    *,
    display_name: str | None = None,
    department: str | Department | None = None,
    county: str | County | None = None,
    certificate_no: str | None = None,
    phone: str | None = None,
    actor: User | None = None,
    channel: str = "system",
) -> User:
    """Create a user after checking role, scope and certificate; departments and counties may be
    given by code or name. Viewers need their scope: a `department` user a department, a
    `county` user a county — otherwise they would see nothing or, worse, everything."""
    username = (username or "").strip()
    if not USERNAME_PATTERN.match(username):
        raise Invalid("用户名须为 2–64 位字母、数字或 _ . @ -。", errors={"username": ["格式不正确"]})
    if role not in ROLES:
        choices = "、".join(f"{code}（{label}）" for code, label in ROLE_LABELS.items())
        raise Invalid(f"未知角色“{role}”，可选：{choices}。", errors={"role": ["未知角色"]})
    check_password(password)
    if db.session.scalar(select(func.count()).select_from(User).where(User.username == username)):
        raise Conflict(f"用户名“{username}”已存在。", errors={"username": ["该用户名已存在。"]})
    department, county, certificate_no = _checked_scope(role, department, county, certificate_no)

    user = User(
        username=username,
        display_name=(display_name or "").strip() or username,
        role=role,
        password_hash=hash_password(password),
        department=department,
        county=county,
        enforcement_certificate_no=certificate_no,
        phone=phone,
        is_active=True,
        failed_logins=0,
    )
    db.session.add(user)
    db.session.flush()
    record_event("user.created", actor=actor, channel=channel, object_type="user", object_id=str(user.id),
                 details={"username": username, "role": role,
                          "department": department.code if department else None,
                          "county": county.code if county else None})
    return user


USER_SORTS = {
    "username": (User.username,), "role": (User.role, User.username),
    "last_login": (User.last_login_at, User.id), "created": (User.id,),
}
USER_SORT_LABELS = {"username": "用户名", "role": "角色", "last_login": "最近登录", "created": "创建顺序"}


def list_users(*, role: str | None = None, department_id: int | None = None, county_id: int | None = None,
               active: bool | None = None, sort: str = "username", descending: bool = False,
               page: int = 1, per_page: int = 50) -> Page:
    """Users filtered by role, scope and state, sorted by one of USER_SORTS."""
    query = select(User)
    if role:
        query = query.where(User.role == role)
    if department_id is not None:
        query = query.where(User.department_id == department_id)
    if county_id is not None:
        query = query.where(User.county_id == county_id)
    if active is not None:
        query = query.where(User.is_active.is_(active))
    columns = USER_SORTS.get(sort, USER_SORTS["username"])
    # Users who never logged in sort last either way.
    order = [column.desc().nulls_last() if descending else column.asc().nulls_last() for column in columns]
    return paginate(query.order_by(*order), page, per_page)


def update_user(user: User, *, actor: User, display_name: str | None = None, role: str | None = None,
                department: str | Department | None = None, county: str | County | None = None,
                certificate_no: str | None = None, phone: str | None = None,
                channel: str = "web") -> list[str]:
    """Change a user's name, role, scope, certificate and phone with the checks of create_user;
    returns the names of the fields that changed (audited as user.updated)."""
    role = role or user.role
    if role not in ROLES:
        raise Invalid(f"未知角色“{role}”。", errors={"role": ["未知角色"]})
    if user.id == actor.id and role != user.role:
        raise Conflict("不能更改自己的角色（以免失去管理权限）。", errors={"role": ["不能更改自己的角色。"]})
    department, county, certificate_no = _checked_scope(role, department, county, certificate_no, user=user)
    values = {"display_name": (display_name or "").strip() or user.display_name, "role": role,
              "department": department, "county": county, "enforcement_certificate_no": certificate_no,
              "phone": (phone or "").strip() or None}
    changed = [name for name, value in values.items() if getattr(user, name) != value]
    if not changed:
        return []
    # Names and phone numbers are personal data and the log is kept for ever: only that they changed.
    details = {"changed": changed, "role": role, "department": department.code if department else None,
               "county": county.code if county else None, "certificate_no": certificate_no}
    for name in changed:
        setattr(user, name, values[name])
    db.session.flush()
    if "role" in changed:
        # A session keeps the rights it was opened with in the user's mind; make them log in again.
        end_sessions(user)
    record_event("user.updated", actor=actor, channel=channel, object_type="user", object_id=str(user.id),
                 details={"username": user.username, **details})
    return changed


def set_user_active(user: User, active: bool, *, actor: User, channel: str = "web") -> bool:
    """Deactivate or reactivate an account; False if it already was. A deactivated user can no
    longer log in, their sessions end at the next request and their device tokens stop working."""
    if user.is_active == active:
        return False
    if not active and user.id == actor.id:
        raise Conflict("不能停用自己的账号。")
    user.is_active = active
    if active:
        clear_failed_logins(user)
    db.session.flush()
    if not active:
        end_sessions(user)
    record_event("user.reactivated" if active else "user.deactivated", actor=actor, channel=channel,
                 object_type="user", object_id=str(user.id), details={"username": user.username})
    return True


def reset_password(user: User, password: str, *, actor: User, channel: str = "web",
                   keep_device_tokens: bool = False) -> int:
    """Set a new password chosen by an administrator (audited; the password itself never is).

    The old password may be known to someone else, so the user's sessions end, any lock is lifted
    and, unless the administrator keeps them, the user's live device tokens are revoked (each
    audited as token.revoked). Returns how many tokens were revoked.
    """
    check_password(password)
    user.password_hash = hash_password(password)
    clear_failed_logins(user)
    db.session.flush()
    end_sessions(user)
    revoked = 0
    if not keep_device_tokens:
        live = db.session.scalars(select(DeviceToken).where(DeviceToken.user_id == user.id,
                                                            DeviceToken.revoked_at.is_(None),
                                                            DeviceToken.expires_at > utcnow())
                                  .order_by(DeviceToken.id))
        revoked = sum(revoke_device_token(token, actor=actor, channel=channel) for token in list(live))
    record_event("user.password_reset", actor=actor, channel=channel, object_type="user",
                 object_id=str(user.id), details={"username": user.username, "device_tokens_kept": keep_device_tokens,
                                                  "device_tokens_revoked": revoked})
    return revoked


# --- device tokens --------------------------------------------------------------------------


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def issue_device_token(user: User, label: str, *, actor: User | None = None, channel: str = "api",
                       ttl_days: int | None = None) -> tuple[str, DeviceToken]:
    """A new bearer token for one of the user's devices: (plaintext, row).

    The plaintext is returned once and never stored; the row keeps its SHA-256 (a random 256-bit
    token needs no slow hash) and a short prefix so people can tell tokens apart.
    """
    label = (label or "").strip()
    if not label or len(label) > 64:
        raise Invalid("设备名称须为 1–64 个字符。", errors={"label": ["长度不正确"]})
    if not user.is_active:
        raise Conflict(f"用户“{user.username}”已停用，不能签发令牌。")
    ttl = ttl_days if ttl_days is not None else current_app.config["DEVICE_TOKEN_TTL_DAYS"]
    raw = TOKEN_TAG + secrets.token_urlsafe(32)
    now = utcnow()
    token = DeviceToken(user=user, token_hash=_token_hash(raw), prefix=raw[:TOKEN_PREFIX_LENGTH],
                        label=label, issued_at=now, expires_at=now + timedelta(days=ttl))
    db.session.add(token)
    db.session.flush()
    record_event("token.issued", actor=actor or user, channel=channel, object_type="device_token",
                 object_id=str(token.id),
                 details={"user": user.username, "label": label, "prefix": token.prefix,
                          "expires_at": token.expires_at.isoformat()})
    return raw, token


def token_is_valid(token: DeviceToken, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return token.revoked_at is None and as_utc(token.expires_at) > now and token.user.is_active


def find_valid_token(raw: str | None) -> DeviceToken | None:
    """The live token for a presented bearer value (not revoked, not expired, user active), or None;
    notes when it was last used."""
    if not raw:
        return None
    token = db.session.scalar(select(DeviceToken).options(joinedload(DeviceToken.user))
                              .where(DeviceToken.token_hash == _token_hash(raw)))
    now = utcnow()
    if token is None or not token_is_valid(token, now):
        return None
    last_used = as_utc(token.last_used_at)
    if last_used is None or now - last_used >= LAST_USED_RESOLUTION:
        token.last_used_at = now
        db.session.flush()
    return token


def resolve_bearer_token(raw: str | None) -> User | None:
    token = find_valid_token(raw)
    return token.user if token else None


def find_token(id_or_prefix: str) -> DeviceToken:
    """A token by its numeric id or its prefix (as `token list` shows them)."""
    value = (id_or_prefix or "").strip()
    if value.isdigit():
        token = db.session.get(DeviceToken, int(value))
        if token is not None:
            return token
    matches = db.session.scalars(select(DeviceToken).where(DeviceToken.prefix == value)).all() if value else []
    if not matches:
        raise NotFound(f"没有编号或前缀为“{value}”的令牌。")
    if len(matches) > 1:
        raise Conflict(f"前缀“{value}”对应多个令牌，请改用编号。")
    return matches[0]


def revoke_device_token(token: DeviceToken, *, actor: User | None = None, channel: str = "api") -> bool:
    """Revoke a token; False if it was already revoked (revoking twice is harmless)."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    db.session.flush()
    record_event("token.revoked", actor=actor, channel=channel, object_type="device_token",
                 object_id=str(token.id),
                 details={"user": token.user.username, "label": token.label, "prefix": token.prefix})
    return True


TOKEN_STATE_LABELS = {"valid": "有效", "expired": "已过期", "revoked": "已吊销"}


def token_state(token: DeviceToken, now: datetime | None = None) -> str:
    """valid, expired or revoked (a key of TOKEN_STATE_LABELS)."""
    if token.revoked_at is not None:
        return "revoked"
    return "expired" if as_utc(token.expires_at) <= (now or utcnow()) else "valid"


def token_page(*, user: User | None = None, state: str | None = None, page: int = 1, per_page: int = 50) -> Page:
    """Device tokens, newest first, of one user or all, optionally in one state."""
    query = select(DeviceToken).options(selectinload(DeviceToken.user)).order_by(DeviceToken.id.desc())
    if user is not None:
        query = query.where(DeviceToken.user_id == user.id)
    now = utcnow()
    if state == "revoked":
        query = query.where(DeviceToken.revoked_at.is_not(None))
    elif state == "expired":
        query = query.where(DeviceToken.revoked_at.is_(None), DeviceToken.expires_at <= now)
    elif state == "valid":
        query = query.where(DeviceToken.revoked_at.is_(None), DeviceToken.expires_at > now)
    return paginate(query, page, per_page)


def list_tokens(user: User | None = None) -> list[DeviceToken]:
    query = select(DeviceToken).order_by(DeviceToken.id)
    if user is not None:
        query = query.where(DeviceToken.user_id == user.id)
    return list(db.session.scalars(query))
