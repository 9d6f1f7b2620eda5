"""The change log field devices pull (`GET /api/v1/sync/pull?cursor=N`).

Kept apart from `sync` so that the assignment status machine can log its moves without an
import cycle. Rows are ordered by the server's sequence (the autoincrement id), never by a clock.
"""

from __future__ import annotations

from ..extensions import db
from .models.changes import SyncChange


def record_change(assignment_id: int, entity: str, entity_id, data: dict) -> SyncChange:
    """Log one change the team of `assignment_id` will pull; flushes, never commits.

    `data` goes to every device of the team: never a target (venue, address, operator).
    Every caller records its audit event first: the audit chain's head lock, held to the end of
    the transaction, then also makes these ids follow commit order, so a pull never skips a
    change that commits late with a lower id.
    """
    change = SyncChange(assignment_id=assignment_id, entity=entity, entity_id=str(entity_id), data=data)
    db.session.add(change)
    db.session.flush()
    return change
