"""The draw policy's settings for a draw's life after it is made: how early its teams may be
dispatched, and how cancellations are linked and flagged (server/reference/draw_policy.yaml).

Read from the loaded policy at the moment they apply (unlike weights and exclusions, they are not
part of a draw's parameters: they change nothing a re-run of the selection computes). A policy
loaded before these keys existed gets the documented defaults.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from ..registry.models.reference import DrawPolicy
from ..registry.schemas.draw_policy_records import DEFAULT_CANCELLATION, DEFAULT_DISPATCH

POLICY_CODE = "default"


def _section(name: str, defaults: dict) -> dict:
    settings = db.session.scalar(sa.select(DrawPolicy.settings).where(DrawPolicy.code == POLICY_CODE)) or {}
    section = settings.get(name) or {}
    return {key: section.get(key, default) for key, default in defaults.items()}


def dispatch_lead_hours() -> int:
    return _section("dispatch", DEFAULT_DISPATCH)["lead_hours"]


def cancellation_settings() -> dict:
    """link_days, flag_window_days, flag_threshold."""
    return _section("cancellation", DEFAULT_CANCELLATION)
