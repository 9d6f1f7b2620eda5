"""Field sync pull: the changes of the user's team's assignments after a cursor, a page at a time.

Changes are numbered by `sync_change.id` (the server's sequence); a device keeps the last one it
stored as its cursor.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..accounts.models.user import User
from ..draws.models.changes import SyncChange
from ..draws.models.draw import AssignmentMember
from ..extensions import db

PULL_PAGE_SIZE = 500


def pull_changes(user: User, cursor: int, limit: int | None = None) -> dict:
    """Changes after `cursor` for the assignments of the user's team, in the server's order;
    at most `limit` (default PULL_PAGE_SIZE), with `more` when another page follows."""
    limit = limit or PULL_PAGE_SIZE
    team = sa.select(AssignmentMember.assignment_id).where(AssignmentMember.user_id == user.id)
    rows = db.session.scalars(sa.select(SyncChange).where(SyncChange.id > cursor,
                                                          SyncChange.assignment_id.in_(team))
                              .order_by(SyncChange.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"changes": [{"seq": row.id, "entity": row.entity, "entity_id": row.entity_id, "data": row.data}
                        for row in rows],
            "cursor": rows[-1].id if rows else cursor, "more": more}
