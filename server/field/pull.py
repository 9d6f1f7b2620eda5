"""Field sync pull: the changes of the user's team's assignments after a cursor, a page at a time.

Changes are numbered by `sync_change.id` (the server's sequence); a device keeps the last one it
stored as its cursor. A cursor beyond the server's head (its highest change, across all teams)
names changes the server does not have — a database restored from an older backup — and is
refused with the head, rather than answered with an empty page that would hide the loss.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..accounts.models.user import User
from ..draws.models.changes import SyncChange
from ..draws.models.draw import AssignmentMember
from ..errors import Conflict
from ..extensions import db

PULL_PAGE_SIZE = 500


def pull_changes(user: User, cursor: int, limit: int | None = None) -> dict:
    """Changes after `cursor` for the assignments of the user's team, in the server's order;
    at most `limit` (default PULL_PAGE_SIZE), with `more` when another page follows and the
    server's `head`. Conflict when `cursor` is beyond the head."""
    limit = limit or PULL_PAGE_SIZE
    head = db.session.scalar(sa.select(sa.func.coalesce(sa.func.max(SyncChange.id), 0)))
    if cursor > head:
        raise Conflict(f"游标 {cursor} 超过服务器当前的变化序号 {head}：服务器上没有这些变化"
                       "（可能已从较早的备份恢复），请联系系统管理员。", head=head)
    team = sa.select(AssignmentMember.assignment_id).where(AssignmentMember.user_id == user.id)
    rows = db.session.scalars(sa.select(SyncChange).where(SyncChange.id > cursor,
                                                          SyncChange.assignment_id.in_(team))
                              .order_by(SyncChange.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"changes": [{"seq": row.id, "entity": row.entity, "entity_id": row.entity_id, "data": row.data}
                        for row in rows],
            "cursor": rows[-1].id if rows else cursor, "more": more, "head": head}
