"""Inserts that may lose a race with another transaction."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError, OperationalError

from .errors import Conflict
from .extensions import db


@contextmanager
def conflict_on_race(message: str):
    """Run the block in a savepoint: a unique constraint another transaction won, or SQLite's
    stale snapshot, becomes a 409 with `message` and leaves nothing of the attempt behind."""
    try:
        with db.session.begin_nested():
            yield
            db.session.flush()
    except IntegrityError:
        raise Conflict(message) from None
    except OperationalError as exc:
        if not is_sqlite_busy(exc):
            raise
        raise Conflict(message) from None


def is_sqlite_busy(exc: OperationalError) -> bool:
    """SQLite's refusal to write from a snapshot that another connection's commit made stale."""
    return isinstance(exc.orig, sqlite3.OperationalError) and "locked" in str(exc.orig)
