"""Server side of sealed envelopes: the per-assignment secrets, and building the envelope.

An assignment's key K and reveal code are stored wrapped under the server key
(`server_keys.wrap_secret`), so a copy of the database alone opens no envelope. The envelope
itself (`sealing.envelope`) costs one scrypt derivation (~80 ms), so it is built at dispatch —
the last moment the reveal code is held, and the first a team's device may have the envelope
(`assignment_reading.ENVELOPE_STATUSES`: before dispatch no one could try reveal codes offline)
— and never for assignments nobody dispatches: a draw of a thousand assignments stays fast.
"""

from __future__ import annotations

import logging
import os

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.attributes import set_committed_value

from sealing import KEY_BYTES, new_reveal_code, seal

from ..errors import Conflict
from ..extensions import db
from ..races import is_sqlite_busy
from ..registry.models.venue import Venue
from .models.draw import Assignment
from .server_keys import unwrap_secret, wrap_secret

log = logging.getLogger(__name__)

KEY_PURPOSE = "assignment-key"
CODE_PURPOSE = "reveal-code"


def new_secrets(assignment: Assignment | dict) -> None:
    """Give a new assignment its key and reveal code, each wrapped under the server key.

    `assignment` is the ORM object, or the dict of column values of a row about to be inserted
    in bulk."""
    wrapped_key = wrap_secret(os.urandom(KEY_BYTES), KEY_PURPOSE)
    wrapped_reveal_code = wrap_secret(new_reveal_code().encode("ascii"), CODE_PURPOSE)
    if isinstance(assignment, dict):
        assignment.update(wrapped_key=wrapped_key, wrapped_reveal_code=wrapped_reveal_code)
    else:
        assignment.wrapped_key = wrapped_key
        assignment.wrapped_reveal_code = wrapped_reveal_code


def assignment_key(assignment: Assignment) -> bytes:
    """The assignment's key K in clear (only for releasing it to the team or sealing)."""
    return unwrap_secret(assignment.wrapped_key, KEY_PURPOSE)


def stored_reveal_code(assignment: Assignment) -> str | None:
    """The reveal code, while it is still stored (it is erased when shown at dispatch)."""
    if assignment.wrapped_reveal_code is None:
        return None
    return unwrap_secret(assignment.wrapped_reveal_code, CODE_PURPOSE).decode("ascii")


def venue_target(venue: Venue) -> dict:
    """The target as sealed into the envelope and returned by the target endpoint."""
    return {
        "venue_id": venue.id,
        "name": venue.name,
        "category": venue.category.name,
        "category_code": venue.category.code,
        "county": venue.county.name,
        "county_code": venue.county.code,
        "town": venue.town,
        "address": venue.address,
        "latitude": None if venue.latitude is None else float(venue.latitude),
        "longitude": None if venue.longitude is None else float(venue.longitude),
        "approved_capacity": venue.approved_capacity,
        "operator_name": venue.operator_name,
        "contact_phone": venue.contact_phone,
    }


def build_envelope(assignment: Assignment, reveal_code: str) -> bytes:
    return seal(venue_target(assignment.venue), assignment_key(assignment), reveal_code, assignment.uuid)


def ensure_envelope(assignment: Assignment, *, reveal_code: str | None = None) -> bytes:
    """The assignment's envelope, built and stored if it does not exist yet.

    `reveal_code` is passed by dispatch, which erases the stored code in the same statement
    that claims the assignment. Storing is conditional (only where no envelope exists) so two
    team members pulling at once keep one envelope; either would open with the same key and
    code anyway. On SQLite a concurrent writer may make our snapshot too old to write
    ("database is locked"); then the freshly built envelope is returned without being stored,
    inside a savepoint so that the caller's transaction goes on, and the next pull stores one.
    """
    if assignment.envelope is not None:
        return assignment.envelope
    code = reveal_code or stored_reveal_code(assignment)
    if code is None:
        # Dispatch always builds the envelope before the code is erased, so this is a damaged row.
        raise Conflict("该任务的信封缺失且揭封码已销毁，无法生成信封；请联系管理员。")
    envelope = build_envelope(assignment, code)
    try:
        with db.session.begin_nested():
            stored = db.session.execute(
                sa.update(Assignment)
                .where(Assignment.id == assignment.id, Assignment.envelope.is_(None))
                .values(envelope=envelope)
                .execution_options(synchronize_session=False)
            ).rowcount
    except OperationalError as exc:
        if not is_sqlite_busy(exc):
            raise
        log.info("envelope of assignment %s built but not stored: SQLite snapshot is stale", assignment.id)
        return envelope
    if stored:
        set_committed_value(assignment, "envelope", envelope)
        return envelope
    # Someone else stored one first: use theirs, so that every device holds the same bytes.
    theirs = db.session.scalar(sa.select(Assignment.envelope).where(Assignment.id == assignment.id))
    if theirs is None:
        return envelope
    set_committed_value(assignment, "envelope", theirs)
    return theirs
