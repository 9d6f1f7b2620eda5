"""Ending a user's web sessions.

Flask's session is a signed cookie the server cannot delete, so a copied cookie would outlive a
logout. The session instead holds "<id>:<epoch>" (User.get_id) and the user loader accepts it
only while the epoch is the user's current one; raising the epoch ends them all.
"""

from __future__ import annotations

from ..extensions import db
from .models.user import User


def end_sessions(user: User) -> None:
    """End every session of the user (incremented in SQL, so two concurrent ends both count)."""
    user.session_epoch = User.session_epoch + 1
    db.session.flush()
    # Load the new value now: the caller may sign the actor in again with it.
    db.session.refresh(user, attribute_names=["session_epoch"])


def session_user_id(user_id: str) -> tuple[int, int] | None:
    """(user id, epoch) from the id stored in a session, or None when it is not of this form
    (a session signed before epochs existed holds the bare id and is refused)."""
    id_part, sep, epoch_part = str(user_id).partition(":")
    if not sep or not id_part.isdigit() or not epoch_part.isdigit():
        return None
    return int(id_part), int(epoch_part)
