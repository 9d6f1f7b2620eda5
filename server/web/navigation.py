"""The navigation bar: which links each role sees. Features add their entries with add_nav_item."""

from __future__ import annotations

from dataclasses import dataclass

from flask import request, url_for
from flask_login import current_user


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    roles: frozenset[str] | None = None  # None: every logged-in user


_NAV_ITEMS: list[NavItem] = [NavItem("首页", "web.index")]


def add_nav_item(label: str, endpoint: str, roles: tuple[str, ...] | None = None) -> None:
    item = NavItem(label, endpoint, frozenset(roles) if roles else None)
    if item not in _NAV_ITEMS:
        _NAV_ITEMS.append(item)


def nav_for(user) -> list[dict]:
    if not getattr(user, "is_authenticated", False):
        return []
    return [
        {"label": item.label, "url": url_for(item.endpoint), "current": request.endpoint == item.endpoint}
        for item in _NAV_ITEMS
        if item.roles is None or user.role in item.roles
    ]


def inject_navigation() -> dict:
    return {"nav_items": nav_for(current_user)}
