"""The contribution that completes a draw's seed, and the assignments it forms.

A draw is created committed to the office's seed and to its snapshots (`server.draws.creation`),
but nothing is selected yet: the selection seed also takes a contribution fixed after that
commitment was anchored, which no one in the office can know or choose — a 纪检 auditor's own
random share, or a public value the policy names in advance (draw_policy.yaml `seed`). Entering
it runs the selection once, forms the sealed assignments and anchors the result digest with the
contribution in a `draw.seeded` audit event (docs/draw-algorithm.md §1).

Should the completed seed not staff the scope (possible only when 回避 skips decide it), the draw
is cancelled on the spot with the reason, visibly: it is never quietly replaced.
"""

from __future__ import annotations

import json
import unicodedata
import zlib

import sqlalchemy as sa

from ..accounts.models.user import User
from ..audit.chain import record_event
from ..audit.models.audit import AuditEvent
from ..columns import utcnow
from ..errors import Conflict, Forbidden, Invalid
from ..extensions import db
from .closing import claim_draw_status, revealed_office_seed
from .creation import form_assignments
from .models.draw import Draw
from .selection import (
    inspectors_from_json,
    result_digest,
    select,
    selection_seed,
    venues_from_json,
)
from .signals import draw_formed

AUDITOR = "auditor"
PUBLIC = "public"
SOURCE_LABELS = {AUDITOR: "纪检监察人员录入的随机数", PUBLIC: "事先指定的公开数值"}
# Who may enter it. An auditor's share must come from an auditor; a public value anyone who reads
# it may enter, because anyone can check it against its publication.
CONTRIBUTORS = {AUDITOR: ("auditor",), PUBLIC: ("auditor", "office", "admin")}
# An auditor's share short enough to guess would be no contribution: the page and the CLI offer
# 32 random hexadecimal digits; a typed share needs at least this many characters.
MIN_SHARE_LENGTH = 16
MAX_LENGTH = 200


def contribution_source(draw: Draw) -> str | None:
    """`auditor` or `public` for a draw that takes a contribution; None for one made before."""
    seed = (draw.parameters or {}).get("seed")
    return seed.get("contribution") if isinstance(seed, dict) else None


def seeded_event(draw: Draw) -> AuditEvent | None:
    """The draw's `draw.seeded` audit event: the contribution and the result digest it fixed."""
    return db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "draw.seeded", AuditEvent.object_type == "draw",
        AuditEvent.object_id == str(draw.id)).order_by(AuditEvent.seq).limit(1))


def may_contribute(draw: Draw, user: User | None) -> bool:
    source = contribution_source(draw)
    return (draw.status == "awaiting" and source is not None and user is not None
            and user.role in CONTRIBUTORS[source])


def awaiting_contribution(user: User) -> list[Draw]:
    """Draws waiting for a contribution `user` may enter, oldest first (the auditor's to-do list)."""
    waiting = db.session.scalars(sa.select(Draw).where(Draw.status == "awaiting").order_by(Draw.id)).all()
    return [draw for draw in waiting if may_contribute(draw, user)]


def normalised(value, source: str) -> str:
    """The contribution as it enters the seed: NFC, surrounding white space dropped; Invalid with
    a Chinese reason otherwise (field `value`)."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid("请填写随机数。", errors={"value": ["请填写随机数。"]})
    text = unicodedata.normalize("NFC", value.strip())
    if len(text) > MAX_LENGTH:
        raise Invalid(f"随机数不超过 {MAX_LENGTH} 个字符。", errors={"value": [f"不超过 {MAX_LENGTH} 个字符。"]})
    if source == AUDITOR and len(text) < MIN_SHARE_LENGTH:
        message = f"纪检随机数至少 {MIN_SHARE_LENGTH} 个字符（可使用“随机生成”得到 32 位十六进制数）。"
        raise Invalid(message, errors={"value": [message]})
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        raise Invalid("随机数含有控制字符。", errors={"value": ["随机数含有控制字符。"]})
    return text


def _snapshots(draw: Draw):
    try:
        venues = json.loads(zlib.decompress(draw.venues_snapshot))
        inspectors = json.loads(zlib.decompress(draw.inspectors_snapshot))
    except (zlib.error, TypeError, ValueError):
        raise Conflict(f"抽查 {draw.id} 的候选快照无法读取（数据被改动），无法抽取；请核查数据库。") from None
    return venues_from_json(venues), inspectors_from_json(inspectors)


def contribute(draw: Draw, actor: User, value, *, channel: str = "api") -> Draw:
    """Enter the contribution, select, form the sealed assignments; flush, never commit.

    Forbidden for a role the policy does not name, Conflict when the draw is not waiting for
    one, Invalid for an unusable value. Returns the draw: `committed` with its assignments, or
    `cancelled` when the completed seed cannot staff the scope.
    """
    source = contribution_source(draw)
    if source is None:
        raise Conflict(f"抽查 {draw.id} 创建时尚无随机数环节，无需录入。")
    if actor.role not in CONTRIBUTORS[source]:
        raise Forbidden("本抽查的随机数须由纪检监察人员录入。" if source == AUDITOR
                        else "只有纪检监察人员、领导小组办公室或系统管理员可以录入公开数值。")
    if draw.status != "awaiting":
        raise Conflict(f"抽查 {draw.id} 已录入随机数，或已取消、关闭；随机数只能录入一次。")
    text = normalised(value, source)
    office_seed = bytes.fromhex(revealed_office_seed(draw))  # 409 when it cannot be unwrapped or checked
    venues, inspectors = _snapshots(draw)
    seed = selection_seed(office_seed, text)
    selection = select(seed, venues, inspectors, draw.parameters)

    now = utcnow()
    entered = {"contribution": text, "contribution_source": source, "contributed_at": now,
               "contributed_by_id": actor.id}
    # Conditional on `awaiting`: of two contributions racing, one forms the draw, the other is 409.
    if selection.ok:
        claim_draw_status(draw, "awaiting", "committed", entered | {"result_digest": result_digest(seed, selection)})
        form_assignments(draw, selection, actor)
        db.session.expire(draw, ["assignments"])  # inserted in bulk: loaded afresh on use
    else:
        # The completed seed cannot staff the scope: cancelled with the reason, the office's seed
        # revealed, so anyone can re-run it and see the same.
        report = selection.infeasible
        claim_draw_status(draw, "awaiting", "cancelled", entered | {
            "cancel_reason": (f"录入随机数后按公开算法抽取不可行：要求 {report.requested} 个场所，"
                              f"只能为 {report.staffed} 个组成督查组。"),
            "cancelled_at": now, "cancelled_by_id": actor.id, "revealed_seed": office_seed.hex()})
    record_event("draw.seeded", actor=actor, channel=channel, object_type="draw", object_id=draw.id,
                 details={"commitment": draw.commitment, "contribution": text, "source": source,
                          "result_digest": draw.result_digest, "feasible": selection.ok,
                          "assignments": len(selection.assignments), "skipped": len(selection.skipped)})
    db.session.flush()
    draw_formed.send(draw, actor=actor)
    return draw
