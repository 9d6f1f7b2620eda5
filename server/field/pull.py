"""Field sync pull: the changes of the user's team's assignments after a cursor, a page at a time.

Changes are numbered by `sync_change.id` (the server's sequence); a device keeps the last one it
stored as its cursor. A cursor beyond the server's head (its highest change, across all teams)
names changes the server does not have — a database restored from an older backup — and is
refused with the head, rather than answered with an empty page that would hide the loss.

Envelopes and the offline reveal (DESIGN.md §4.2). A device gets an assignment's sealed envelope
from the team's assignment list (`GET /api/v1/assignments`, `server.draws.assignment_reading`)
only once the office has dispatched it, and only while it may still be visited (dispatched,
revealed, in progress, submitted, closed): the time anyone could try reveal codes offline
starts at dispatch, not at the draw. A sealed assignment of the team is listed without an
envelope (the clients show it as not dispatched yet and refuse to reveal it), so that the team
sees its coming window and meeting point; after dispatch the next pull of the list brings the
envelope. When an assignment is cancelled or expired, this pull carries the new status, and the
list no longer has an envelope for it: the clients drop the envelope they hold (and the key of
an online reveal) on either. Every answer also carries the offline reveal clock tolerance
(`reveal_clock_tolerance_s`, `server.field.reveal_checks`): the clients refuse an offline reveal
outside the assignment's window widened by it, by the device's clock, and the server flags a
reported reveal outside it.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..accounts.models.user import User
from ..draws.models.changes import SyncChange
from ..draws.models.draw import AssignmentMember
from ..errors import Conflict
from ..extensions import db
from ..observability import metrics
from .reveal_checks import reveal_clock_tolerance_seconds

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
    metrics.sync_pulled()
    return {"changes": [{"seq": row.id, "entity": row.entity, "entity_id": row.entity_id, "data": row.data}
                        for row in rows],
            "cursor": rows[-1].id if rows else cursor, "more": more, "head": head,
            "reveal_clock_tolerance_s": reveal_clock_tolerance_seconds()}
