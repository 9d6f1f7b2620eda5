"""Closing a draw: revealing the office's seed once the window is over.

From then on anyone with access re-runs the selection from the stored snapshots
(`server.draws.verification`, docs/draw-algorithm.md). A draw is closed only after its window
has ended: before that, revealing the seed makes every target computable while the teams are
still out, and abandoning a draw early is a cancellation with a reason
(`server.draws.cancellation`), visible in the draw list.

`close-due` (a daily job) closes every open draw whose window has ended, and cancels one still
waiting for its seed contribution: it never formed assignments, so there is nothing to close.

A person closing a draw by hand (page, API, CLI) is first shown the assignments not yet
finished — sealed, dispatched, revealed or under way — by number, status, window and team size
(never a target: revealing the seed is what makes the targets computable), and closes only after
confirming (`close_draw(confirmed=False)` refuses with that list, `unfinished_assignments`).
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
from .assignments import STATUS_LABELS as ASSIGNMENT_STATUS_LABELS
from .models.draw import Draw
from .selection import commitment_of
from .server_keys import UnwrapError, unwrap_secret

# The reason close-due gives a draw whose window ended before its contribution was entered.
NO_CONTRIBUTION_REASON = "窗口结束时仍未录入随机数"
EARLY_CLOSE = "窗口结束前只能取消（须说明理由）"
# Assignments a team has not finished: closing reveals the seed, and with it their targets.
UNFINISHED_STATUSES = ("sealed", "dispatched", "revealed", "in_progress")


class CloseNotConfirmed(Conflict):
    slug = "draw-close-unconfirmed"
    default_title = "关闭前请确认未完成的任务"


def unfinished_assignments(draw: Draw) -> list[dict]:
    """The draw's assignments not yet finished, by number: status, window (Beijing time) and team
    size. No venue, no day of a target beyond the assignment's own window: the office sees these
    anyway, and nothing here names a target."""
    rows = []
    for assignment in sorted(draw.assignments, key=lambda a: a.position):
        if assignment.status not in UNFINISHED_STATUSES:
            continue
        start, end = as_utc(assignment.window_start), as_utc(assignment.window_end)
        rows.append({"position": assignment.position, "status_label": ASSIGNMENT_STATUS_LABELS[assignment.status],
                     "window_start": start.isoformat(), "window_end": end.isoformat(),
                     "window": f"{local_text(start)} — {local_text(end)}",
                     "team_size": len(assignment.members)})
    return rows


def unfinished_text(rows: list[dict]) -> str:
    """The unfinished assignments in one Chinese sentence: counts per status, then each by number."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status_label"]] = counts.get(row["status_label"], 0) + 1
    per_status = "、".join(f"{label} {count} 项" for label, count in counts.items())
    items = "；".join(f"第 {row['position']} 组（{row['status_label']}，{row['window']}，{row['team_size']} 人）"
                     for row in rows)
    return f"还有 {len(rows)} 项任务未完成（{per_status}）：{items}"


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


def close_draw(draw: Draw, actor: User, *, channel: str = "api", now: datetime | None = None,
               confirmed: bool = True) -> Draw:
    """Reveal the seed of an open draw whose window has ended (office or admin).

    `confirmed=False` (a person who has not yet seen what is unfinished) refuses with the list of
    unfinished assignments while there are any (409, `unfinished_assignments` in the answer)."""
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
    if not confirmed:
        unfinished = unfinished_assignments(draw)
        if unfinished:
            raise CloseNotConfirmed(
                f"抽查第 {draw.id} 号{unfinished_text(unfinished)}。"
                "关闭后种子公开，任何人都能据此复算出这些任务的目标；请核对后确认关闭。",
                draw_status=draw.status, unfinished_assignments=unfinished)
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
