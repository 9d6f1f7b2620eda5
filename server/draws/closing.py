"""Closing a draw: revealing the office's seed once the window is over.

From then on anyone with access re-runs the selection from the stored snapshots
(`server.draws.verification`, docs/draw-algorithm.md).
"""

from __future__ import annotations

import sqlalchemy as sa

from ..access import authorize
from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import as_utc, utcnow
from ..errors import Conflict
from ..extensions import db
from .creation import SEED_PURPOSE
from .models.draw import Draw
from .selection import commitment_of
from .server_keys import UnwrapError, unwrap_secret

def close_draw(draw: Draw, actor: User, *, channel: str = "api") -> Draw:
    """Reveal the seed. After the window anyone who manages draws may; before it, the office."""
    authorize(actor, "manage", draw)
    if draw.status == "closed":
        raise Conflict("该抽查已关闭，种子已公开。")
    if as_utc(draw.window_end) > utcnow() and actor.role != "office":
        raise Conflict("抽查窗口尚未结束：窗口结束前只有领导小组办公室可以关闭抽查。")
    try:
        seed = unwrap_secret(draw.sealed_seed, SEED_PURPOSE)
    except UnwrapError as exc:
        raise Conflict(f"无法取出抽查种子：{exc}。") from None
    if commitment_of(seed) != draw.commitment:
        raise Conflict("保存的种子与承诺值不符，拒绝公开；请核查数据库是否被改动。")
    early = as_utc(draw.window_end) > utcnow()
    draw.revealed_seed = seed.hex()
    draw.status = "closed"
    draw.closed_at = utcnow()
    draw.closed_by_id = actor.id
    db.session.flush()
    record_event("draw.closed", actor=actor, channel=channel, object_type="draw", object_id=draw.id,
                 details={"seed": draw.revealed_seed, "commitment": draw.commitment, "before_window_end": early})
    return draw


def close_due_draws(actor: User, *, channel: str = "cli") -> list[Draw]:
    """Close every draw whose window has ended (a daily job: seeds are revealed on time)."""
    authorize(actor, "manage", Draw)
    due = db.session.scalars(sa.select(Draw).where(Draw.status == "committed", Draw.window_end <= utcnow())
                             .order_by(Draw.id)).all()
    return [close_draw(draw, actor, channel=channel) for draw in due]


