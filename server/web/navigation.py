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

# The bar follows the work: dispatch, records, follow-up, enforcement, figures, publicity, oversight,
# administration. Features register in import order, which says nothing; this list decides.
NAV_ORDER = (
    "web.index",
    "web.dashboard",
    "web_draws.list_draws",
    "web_inspections.list_inspections",
    "web_viewer.list_findings",
    "web_viewer.list_orders",
    "web_rectification.list_orders",
    "web_cases.list_cases",
    "web_document_verification.page",
    "web_statistics.page",
    "web_accountability.findings",
    "web_materials.list_materials",
    "web_materials.list_bulletins",
    "web_audit.list_events",
    "web_venues.list_venues",
    "web_admin.list_users",
    "web_admin.list_tokens",
    "web_jobs.list_jobs",
)


def _position(item: NavItem) -> int:
    return NAV_ORDER.index(item.endpoint) if item.endpoint in NAV_ORDER else len(NAV_ORDER)


def add_nav_item(label: str, endpoint: str, roles: tuple[str, ...] | None = None) -> None:
    item = NavItem(label, endpoint, frozenset(roles) if roles else None)
    if item not in _NAV_ITEMS:
        _NAV_ITEMS.append(item)


def nav_for(user) -> list[dict]:
    if not getattr(user, "is_authenticated", False):
        return []
    return [
        {"label": item.label, "url": url_for(item.endpoint), "current": request.endpoint == item.endpoint}
        for item in sorted(_NAV_ITEMS, key=_position)
        if item.roles is None or user.role in item.roles
    ]


def inject_navigation() -> dict:
    return {"nav_items": nav_for(current_user)}
