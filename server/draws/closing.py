"""Closing a draw: revealing the office's seed once the window is over.

From then on anyone with access re-runs the selection from the stored snapshots
(`server.draws.verification`, docs/draw-algorithm.md). A draw is closed only after its window
has ended: before that, revealing the seed makes every target computable while the teams are
still out, and abandoning a draw early is a cancellation with a reason
(`server.draws.cancellation`), visible in the draw list.

`close-due` (a daily job) closes every open draw whose window has ended, and cancels one still
waiting for its seed contribution: it never formed assignments, so there is nothing to close.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from ..access import authorize
from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import as_utc, local_text, utcnow
from ..errors import Conflict
from ..extensions import db
from .creation import SEED_PURPOSE
from .models.draw import Draw
from .selection import commitment_of
from .server_keys import UnwrapError, unwrap_secret

# The reason close-due gives a draw whose window ended before its contribution was entered.
NO_CONTRIBUTION_REASON = "窗口结束时仍未录入随机数"
EARLY_CLOSE = "窗口结束前只能取消（须说明理由）"


def revealed_office_seed(draw: Draw) -> str:
    """The office's seed (hex), unwrapped and checked against the commitment; 409 if it cannot be."""
    try:
        seed = unwrap_secret(draw.sealed_seed, SEED_PURPOSE)
    except UnwrapError as exc:
        raise Conflict(f"无法取出抽查种子：{exc}。") from None
    if commitment_of(seed) != draw.commitment:
        raise Conflict("保存的种子与承诺值不符，拒绝公开；请核查数据库是否被改动。")
    return seed.hex()


def claim_draw_status(draw: Draw, from_status: str, to_status: str, values: dict) -> None:
    """Move the draw row only if it is still in `from_status` (a conditional UPDATE): of a close
    and a cancellation racing each other only one wins, the other gets 409."""
    values = dict(values, status=to_status, updated_at=utcnow())
    changed = db.session.execute(
        sa.update(Draw).where(Draw.id == draw.id, Draw.status == from_status).values(**values)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        current = db.session.scalar(sa.select(Draw.status).where(Draw.id == draw.id))
        set_committed_value(draw, "status", current)
        raise Conflict("该抽查刚被其他操作改动，请刷新后重试。", draw_status=current)
    for name, value in values.items():
        set_committed_value(draw, name, value)


def close_draw(draw: Draw, actor: User, *, channel: str = "api", now: datetime | None = None) -> Draw:
    """Reveal the seed of an open draw whose window has ended (office or admin)."""
    authorize(actor, "manage", draw)
    now = now or utcnow()
    if draw.status == "closed":
        raise Conflict("该抽查已关闭，种子已公开。", draw_status=draw.status)
    if draw.status == "cancelled":
        raise Conflict("该抽查已取消，种子已公开，不能再关闭。", draw_status=draw.status)
    window_end = as_utc(draw.window_end)
    if now < window_end:
        raise Conflict(f"抽查窗口尚未结束（{local_text(window_end)} 止）：{EARLY_CLOSE}。",
                       draw_status=draw.status, reason="before_window_end")
    if draw.status != "committed":
        raise Conflict("该抽查尚未录入随机数、没有任务，不能关闭；请取消并说明理由。", draw_status=draw.status)
    seed = revealed_office_seed(draw)
    claim_draw_status(draw, "committed", "closed", {"revealed_seed": seed, "closed_at": now,
                                                    "closed_by_id": actor.id})
    db.session.flush()
    record_event("draw.closed", actor=actor, channel=channel, object_type="draw", object_id=draw.id,
                 details={"seed": draw.revealed_seed, "commitment": draw.commitment})
    return draw


def close_due_draws(actor: User, *, channel: str = "cli", now: datetime | None = None) -> list[Draw]:
    """Close every open draw whose window has ended; cancel those still awaiting their seed
    contribution (a daily job: seeds are revealed on time). The draws, closed or cancelled."""
    # Cancelling builds on closing (it reveals the seed the same way), hence imported here.
    from .cancellation import cancel_draw

    authorize(actor, "manage", Draw)
    now = now or utcnow()
    due = db.session.scalars(sa.select(Draw).where(Draw.status.in_(("committed", "awaiting")),
                                                   Draw.window_end <= now).order_by(Draw.id)).all()
    return [close_draw(draw, actor, channel=channel, now=now) if draw.status == "committed"
            else cancel_draw(draw, actor, NO_CONTRIBUTION_REASON, channel, now=now) for draw in due]
