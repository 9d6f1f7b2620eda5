"""Authorisation: the one place that decides whether a user may act on an object.

A decision needs the role *and* the object (DESIGN.md §6, IDOR): a department viewer may read a
venue only if its category is one the department is responsible for; a county viewer only if the
venue lies in that county. Rules live in a registry — per model, per action, per role, a `Scope`
— so later features add their rules with `grant(...)` next to their own code instead of
editing a chain of ifs here. Anything not granted is refused (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint as ApiBlueprint
from sqlalchemy import ColumnElement, true

from .errors import Forbidden, NotFound, Problem, Unauthorized
from .extensions import db, login_manager
from .roles import ROLE_LABELS, ROLES

ACTION_LABELS = {"read": "查看", "manage": "管理"}
# Primary keys are 32-bit integers; a larger id cannot exist (and PostgreSQL would refuse the query).
MAX_ID = 2**31 - 1
BEARER_REQUIRED = "需要有效的访问令牌（Authorization: Bearer …）。"


@dataclass(frozen=True)
class Scope:
    """Which objects of one type a user reaches, both as a test on one object and as a SQL
    condition for lists — two spellings of the same rule, kept side by side."""

    name: str
    allows: Callable[[Any, Any], bool]  # (user, object)
    where: Callable[[Any], ColumnElement[bool]]  # user -> condition


EVERYTHING = Scope("everything", lambda user, obj: True, lambda user: true())


@dataclass
class Policy:
    """Who may do what to one model: grants[action][role] -> Scope."""

    model: type
    label: str  # Chinese noun used in messages, e.g. 场所
    grants: dict[str, dict[str, Scope]] = field(default_factory=dict)

    def scope_for(self, action: str, role: str) -> Scope | None:
        return self.grants.get(action, {}).get(role)


_POLICIES: dict[type, Policy] = {}


def register_policy(model: type, label: str) -> Policy:
    return _POLICIES.setdefault(model, Policy(model, label))


def grant(model: type, action: str, roles: str | Iterable[str], scope: Scope = EVERYTHING) -> None:
    """Allow `roles` to perform `action` on `model` objects within `scope`."""
    policy = _POLICIES.get(model)
    if policy is None:
        raise LookupError(f"register_policy({model.__name__}, …) must come before grant()")
    for role in ([roles] if isinstance(roles, str) else roles):
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        policy.grants.setdefault(action, {})[role] = scope


def policy_for(model: type) -> Policy:
    try:
        return _POLICIES[model]
    except KeyError:
        # A model without a policy is a programming error; refusing loudly beats allowing silently.
        raise LookupError(f"no access policy registered for {model.__name__}") from None


# --- checks ---------------------------------------------------------------------------------


def _require_user(user):
    if user is None or not getattr(user, "is_authenticated", False):
        raise Unauthorized("请先登录。")
    return user


def require_role(user, *roles: str):
    """Raise Unauthorized for anonymous users, Forbidden for users outside `roles`."""
    user = _require_user(user)
    if roles and user.role not in roles:
        raise Forbidden(f"{ROLE_LABELS.get(user.role, user.role)}账号无权访问此功能。")
    return user


def authorize(user, action: str, target) -> Scope:
    """Raise unless `user` may perform `action` on `target`.

    `target` is an object (role and scope are checked) or a model class (role only, e.g. before
    listing; then filter the list with `scope_filter`). Returns the scope that granted access.
    """
    user = _require_user(user)
    model = target if isinstance(target, type) else type(target)
    policy = policy_for(model)
    scope = policy.scope_for(action, user.role)
    verb = ACTION_LABELS.get(action, "操作")
    if scope is None:
        raise Forbidden(f"{ROLE_LABELS.get(user.role, user.role)}账号无权{verb}{policy.label}。")
    if not isinstance(target, type) and not scope.allows(user, target):
        raise Forbidden(f"该{policy.label}不在您的职责范围内，无权{verb}。")
    return scope


def scope_filter(user, action: str, model: type) -> ColumnElement[bool]:
    """The SQL condition selecting the `model` rows `user` may `action` (after the role check)."""
    return authorize(user, action, model).where(user)


def get_or_404(model: type, ident) -> Any:
    """The row with this primary key, or NotFound with a Chinese message."""
    label = _POLICIES[model].label if model in _POLICIES else "记录"
    try:
        key = int(ident)
    except (TypeError, ValueError):
        key = None
    obj = db.session.get(model, key) if key is not None and 0 < key <= MAX_ID else None
    if obj is None:
        raise NotFound(f"编号为 {ident} 的{label}不存在。")
    return obj


def get_authorized(model: type, ident, user, action: str = "read") -> Any:
    """get_or_404, then authorize: the usual first line of a view that takes an object id."""
    obj = get_or_404(model, ident)
    authorize(user, action, obj)
    return obj


def get_visible(model: type, ident, user, missing: str) -> Any:
    """The row if `user` may read it, else NotFound(`missing`) — the same answer for a row that
    does not exist and one outside the user's scope, so that ids cannot be probed."""
    try:
        obj = get_or_404(model, ident)
        authorize(user, "read", obj)
    except Problem:
        raise NotFound(missing) from None
    return obj


# --- view decorators ------------------------------------------------------------------------


def api_auth_required(*roles: str):
    """For API views: a valid bearer token (401 otherwise) and, if given, one of `roles` (403).

    Also documents the bearer requirement in the OpenAPI description.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                raise Unauthorized(BEARER_REQUIRED)
            require_role(current_user, *roles)
            return view(*args, **kwargs)

        responses = {"401": "UNAUTHORIZED", **({"403": "FORBIDDEN"} if roles else {})}
        return ApiBlueprint.doc(security=[{"bearerAuth": []}], responses=responses)(wrapper)

    return decorator


def web_role_required(*roles: str):
    """For pages: anonymous visitors go to the login page; logged-in users outside `roles` get 403."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            require_role(current_user, *roles)
            return view(*args, **kwargs)

        return wrapper

    return decorator
