"""Whether this device may open an envelope offline now: only once the assignment is dispatched
and inside its window by the device's clock, widened by the tolerance the server sends (so the
value lives in one place, the server's config). The server flags what slips through anyway."""

from __future__ import annotations

import datetime as dt
import sqlite3

from .store import DROPPED_ENVELOPE_STATUSES, REVEAL_TOLERANCE_KEY, Store


def server_time(text: str | None) -> dt.datetime | None:
    """A time the server sent (ISO 8601; UTC when it carries no offset)."""
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def reveal_tolerance(store: Store) -> dt.timedelta:
    """The clock tolerance the server gave at the last change pull; none until it has given one."""
    value = store.get_config(REVEAL_TOLERANCE_KEY)
    return dt.timedelta(seconds=int(value)) if value and value.isdigit() else dt.timedelta(0)


def offline_reveal_refusal(store: Store, assignment: sqlite3.Row, now: dt.datetime) -> tuple | None:
    """Why an offline reveal is not allowed now, by this device's clock: None when it is, else
    (reason, window start, window end). Reasons: "sealed" (not dispatched yet), "dropped"
    (cancelled or expired), "before" / "after" the window widened by the server's tolerance."""
    status = assignment["status"]
    if status == "sealed":
        return "sealed", None, None
    if status in DROPPED_ENVELOPE_STATUSES:
        return "dropped", None, None
    start, end = server_time(assignment["window_start"]), server_time(assignment["window_end"])
    tolerance = reveal_tolerance(store)
    if start is not None and now < start - tolerance:
        return "before", start, end
    if end is not None and now >= end + tolerance:
        return "after", start, end
    return None
