"""Bulletins (简报): numbered issues of positive and negative examples — composing, review,
numbering and publication.

Workflow: draft → submitted (propaganda or the office) → approved (the office) → published;
the office may return a submitted or approved issue to draft. Only a draft changes; a published
issue never does (409 on any change).

Numbers (decision): allocated at publication, per year of the publication date (China time),
with `documents.allocate_serial("bulletin", "", year)` in the same transaction that stores the issue:
an issue approved but never published uses no number, a failed publication gives its number
back, and concurrent publishers queue on the counter row — the published issues of a year are
第1期, 第2期, … without gaps.

What an issue prints — its context and the PDF rendered from it — is
server/publicity/bulletin_print.py. At publication the context is frozen into the row and the PDF
stored; downloads send that file.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from ..access import EVERYTHING, Scope, authorize, get_visible, grant, register_policy
from ..accounts.models.user import User
from ..audit.chain import current_head, record_event
from ..columns import china_today, utcnow
from ..enforcement.documents import allocate_serial, take_write_lock
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..field.evidence_store import write_durably
from ..pagination import PER_PAGE, Page, paginate
from .bulletin_print import build_context, bulletin_reference, render_bulletin
from .models.material import Bulletin, BulletinItem, MaterialItem
from .redaction import prepare_redacted

BULLETINS_DIR = "bulletins"
COUNTER_KIND = "bulletin"
STATE_LABELS = {"draft": "草稿", "submitted": "已提交", "approved": "已审核", "published": "已发布"}
MAX_ITEMS = 40


# --- access ------------------------------------------------------------------------------------


def _propaganda_may_see(user: User, bulletin: Bulletin) -> bool:
    return bulletin.state == "published" or bulletin.created_by_id == user.id


PROPAGANDA_BULLETINS = Scope(
    "published or own", _propaganda_may_see,
    lambda user: sa.or_(Bulletin.state == "published", Bulletin.created_by_id == user.id))

register_policy(Bulletin, "简报")
# Propaganda composes issues and reads published ones; an unpublished issue someone else
# composed is not theirs to see. The office reviews, approves and may publish every issue.
grant(Bulletin, "read", ("office", "admin"))
grant(Bulletin, "read", "propaganda", PROPAGANDA_BULLETINS)
grant(Bulletin, "compose", "office")
grant(Bulletin, "compose", "propaganda", PROPAGANDA_BULLETINS)
grant(Bulletin, "approve", "office", EVERYTHING)
grant(Bulletin, "publish", "office")
grant(Bulletin, "publish", "propaganda", PROPAGANDA_BULLETINS)


def find_bulletin(bulletin_id, user: User) -> Bulletin:
    return get_visible(Bulletin, bulletin_id, user, "简报不存在或不在您的范围内。")


def list_bulletins(user: User) -> list[Bulletin]:
    scope = authorize(user, "read", Bulletin)
    return list(db.session.scalars(sa.select(Bulletin).where(scope.where(user)).order_by(Bulletin.id.desc())))


SORTS = {"created": "创建时间", "period": "统计期间", "number": "期号", "title": "标题"}


def page_bulletins(user: User, *, state: str | None = None, year: int | None = None, sort: str = "created",
                   descending: bool = True, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The bulletins `user` may read, filtered by state and year of publication, sorted, one page."""
    query = sa.select(Bulletin).where(authorize(user, "read", Bulletin).where(user))
    if state:
        query = query.where(Bulletin.state == state)
    if year is not None:
        query = query.where(Bulletin.year == year)
    columns = {"created": (Bulletin.id,), "period": (Bulletin.period_start, Bulletin.period_end),
               "number": (Bulletin.year, Bulletin.serial), "title": (Bulletin.title,)}
    order = [(column.desc() if descending else column.asc()).nulls_last()
             for column in columns.get(sort, (Bulletin.id,))]
    order.append(Bulletin.id.desc() if descending else Bulletin.id.asc())
    return paginate(query.order_by(*order), page, per_page)


# --- composing ---------------------------------------------------------------------------------


def _editable(bulletin: Bulletin) -> None:
    if bulletin.state == "published":
        raise Conflict("简报已发布，不能再修改。")
    if bulletin.state != "draft":
        raise Conflict(f"简报{STATE_LABELS[bulletin.state]}，须退回草稿后才能修改。")


def _check_period(start: date, end: date) -> None:
    if end < start:
        raise Invalid("统计期间的结束日期不能早于开始日期。", errors={"period_end": ["不能早于开始日期。"]})


def create_bulletin(*, actor: User, title: str, period_start: date, period_end: date, editorial: str = "",
                    item_ids: list[int] | None = None, channel: str = "api") -> Bulletin:
    authorize(actor, "compose", Bulletin)
    _check_period(period_start, period_end)
    bulletin = Bulletin(title=title, editorial=editorial or "", period_start=period_start, period_end=period_end,
                        state="draft", version=1, created_by_id=actor.id)
    db.session.add(bulletin)
    db.session.flush()
    if item_ids:
        _set_items(bulletin, item_ids, actor)
    record_event("bulletin.created", actor=actor, channel=channel, object_type="bulletin", object_id=bulletin.id,
                 details={"title": title, "items": [entry.material_item_id for entry in bulletin.entries]})
    return bulletin


def _approved_items(item_ids: list[int]) -> dict[int, MaterialItem]:
    items = {item.id: item for item in db.session.scalars(
        sa.select(MaterialItem).where(MaterialItem.id.in_(item_ids or [0])))}
    for item_id in item_ids:
        item = items.get(item_id)
        if item is None or item.state != "approved":
            raise Invalid("只能选用已审核采用的典型材料。", errors={"item_ids": [f"材料 {item_id} 不存在或未审核采用。"]})
    return items


def _set_items(bulletin: Bulletin, item_ids: list[int], actor: User) -> None:
    """The chosen items in this order; an item kept keeps the wording the issue gave it."""
    if len(item_ids) > MAX_ITEMS or len(set(item_ids)) != len(item_ids):
        raise Invalid(f"所选材料须互不重复，至多 {MAX_ITEMS} 条。", errors={"item_ids": ["有重复或过多。"]})
    _approved_items(item_ids)
    kept = {entry.material_item_id: entry for entry in bulletin.entries if entry.material_item_id in item_ids}
    for entry in [entry for entry in bulletin.entries if entry.material_item_id not in kept]:
        bulletin.entries.remove(entry)
    db.session.flush()
    for position, item_id in enumerate(item_ids, start=1):
        if item_id in kept:
            kept[item_id].position = position
        else:
            bulletin.entries.append(BulletinItem(material_item_id=item_id, position=position))
    db.session.flush()
    db.session.refresh(bulletin, ["entries"])


def _entry(bulletin: Bulletin, item_id) -> BulletinItem:
    for entry in bulletin.entries:
        if entry.material_item_id == item_id:
            return entry
    raise NotFound("该材料不在本期简报中。")


def _changed(bulletin: Bulletin, event: str, *, actor: User, channel: str, details: dict) -> Bulletin:
    bulletin.version += 1
    db.session.flush()
    record_event(event, actor=actor, channel=channel, object_type="bulletin", object_id=bulletin.id, details=details)
    return bulletin


def _composing(bulletin: Bulletin, actor: User, version: int | None) -> None:
    authorize(actor, "compose", bulletin)
    _editable(bulletin)
    if version is not None and version != bulletin.version:
        raise Conflict("简报已被他人修改，请刷新后再改。")


def add_item(bulletin: Bulletin, item_id: int, *, actor: User, version: int | None = None,
             channel: str = "api") -> Bulletin:
    """Append an approved item of the library to a draft."""
    _composing(bulletin, actor, version)
    ids = [entry.material_item_id for entry in bulletin.entries]
    if item_id in ids:
        raise Invalid("该材料已在本期简报中。", errors={"item_id": ["已选用，不能重复加入。"]})
    _set_items(bulletin, ids + [item_id], actor)
    return _changed(bulletin, "bulletin.item_added", actor=actor, channel=channel, details={"item": item_id})


def remove_item(bulletin: Bulletin, item_id: int, *, actor: User, version: int | None = None,
                channel: str = "api") -> Bulletin:
    _composing(bulletin, actor, version)
    _entry(bulletin, item_id)
    _set_items(bulletin, [entry.material_item_id for entry in bulletin.entries if entry.material_item_id != item_id],
               actor)
    return _changed(bulletin, "bulletin.item_removed", actor=actor, channel=channel, details={"item": item_id})


def move_item(bulletin: Bulletin, item_id: int, offset: int, *, actor: User, version: int | None = None,
              channel: str = "api") -> Bulletin:
    """Move an item `offset` places (−1 up, +1 down); at either end it stays where it is."""
    _composing(bulletin, actor, version)
    ids = [entry.material_item_id for entry in bulletin.entries]
    _entry(bulletin, item_id)
    old = ids.index(item_id)
    new = min(max(old + offset, 0), len(ids) - 1)
    ids.insert(new, ids.pop(old))
    _set_items(bulletin, ids, actor)
    return _changed(bulletin, "bulletin.item_moved", actor=actor, channel=channel,
                    details={"item": item_id, "order": ids})


def set_item_wording(bulletin: Bulletin, item_id: int, *, heading: str | None, text: str | None, actor: User,
                     version: int | None = None, channel: str = "api") -> Bulletin:
    """The issue's own heading and text for one item; blank goes back to the library's wording.
    Masked like the library's when printed, so a name typed here does not reach the PDF."""
    _composing(bulletin, actor, version)
    entry = _entry(bulletin, item_id)
    heading = (heading or "").strip() or None
    text = (text or "").strip() or None
    if heading is not None and len(heading) > 200:
        raise Invalid("标题过长。", errors={"heading": ["不超过 200 个字符。"]})
    entry.heading, entry.text = heading, text
    return _changed(bulletin, "bulletin.item_worded", actor=actor, channel=channel,
                    details={"item": item_id, "heading": heading, "text": text})


def update_bulletin(bulletin: Bulletin, *, actor: User, version: int | None = None, channel: str = "api",
                    **changes) -> Bulletin:
    """Change a draft: title, editorial, period, chosen items. `version` guards lost updates."""
    authorize(actor, "compose", bulletin)
    _editable(bulletin)
    if version is not None and version != bulletin.version:
        raise Conflict("简报已被他人修改，请刷新后再改。")
    start = changes.get("period_start") or bulletin.period_start
    end = changes.get("period_end") or bulletin.period_end
    _check_period(start, end)
    for name in ("title", "editorial", "period_start", "period_end"):
        if changes.get(name) is not None:
            setattr(bulletin, name, changes[name])
    if changes.get("item_ids") is not None:
        _set_items(bulletin, changes["item_ids"], actor)
    bulletin.version += 1
    db.session.flush()
    record_event("bulletin.updated", actor=actor, channel=channel, object_type="bulletin", object_id=bulletin.id,
                 details={key: (value.isoformat() if isinstance(value, date) else value)
                          for key, value in changes.items() if value is not None})
    return bulletin


TRANSITIONS = {
    "submit": ({"draft"}, "submitted", "compose"),
    "approve": ({"submitted"}, "approved", "approve"),
    "return": ({"submitted", "approved"}, "draft", "approve"),
}


def transition(bulletin: Bulletin, action: str, *, actor: User, channel: str = "api") -> Bulletin:
    """submit (propaganda or office), approve / return (office). Publishing is `publish_bulletin`."""
    if action not in TRANSITIONS:
        raise Invalid("未知的操作。")
    sources, target, permission = TRANSITIONS[action]
    authorize(actor, permission, bulletin)
    if bulletin.state == "published":
        raise Conflict("简报已发布，不能再修改。")
    if bulletin.state not in sources:
        raise Conflict(f"简报当前为“{STATE_LABELS[bulletin.state]}”，不能{ {'submit': '提交', 'approve': '审核通过', 'return': '退回'}[action] }。")
    if action in ("submit", "approve"):
        _ready(bulletin)
    before = bulletin.state
    bulletin.state = target
    bulletin.version += 1
    now = utcnow()
    if action == "submit":
        bulletin.submitted_at = now
    elif action == "approve":
        bulletin.approved_by_id, bulletin.approved_at = actor.id, now
    else:
        bulletin.approved_by_id = bulletin.approved_at = None
    db.session.flush()
    record_event(f"bulletin.{ {'submit': 'submitted', 'approve': 'approved', 'return': 'returned'}[action] }",
                 actor=actor, channel=channel, object_type="bulletin", object_id=bulletin.id,
                 details={"from": before, "to": target})
    return bulletin


def _ready(bulletin: Bulletin) -> None:
    if not bulletin.entries:
        raise Conflict("简报尚未选用任何典型材料。")
    unapproved = [entry.material_item_id for entry in bulletin.entries if entry.item.state != "approved"]
    if unapproved:
        raise Conflict(f"材料 {'、'.join(map(str, unapproved))} 已不再是采用状态，请调整后再提交。")


# --- publication -------------------------------------------------------------------------------


def preview_bulletin(bulletin: Bulletin, user: User) -> bytes:
    """A draft rendering (样稿, no number) of any unpublished issue; a published one is its file."""
    if bulletin.state == "published":
        return bulletin_path(bulletin).read_bytes()
    return render_bulletin(build_context(bulletin), number="第　期", user=user, draft=True)


def publish_bulletin(bulletin: Bulletin, *, actor: User, issued_on: date | None = None,
                     channel: str = "api") -> Bulletin:
    """Number (第N期 of the year), freeze the context, render and store the PDF, audit."""
    authorize(actor, "publish", bulletin)
    take_write_lock()
    # Two publishers of the same issue: the second waits here and then sees it published.
    db.session.refresh(bulletin, with_for_update=True)
    if bulletin.state == "published":
        raise Conflict("简报已发布，不能再次发布。")
    if bulletin.state != "approved":
        raise Conflict("简报须经领导小组办公室审核通过后才能发布。")
    _ready(bulletin)
    printed = issued_on or china_today()
    prepare_redacted([photo for entry in bulletin.entries for photo in entry.item.photos])
    context = build_context(bulletin, printed)
    reference = bulletin_reference()
    serial = allocate_serial(COUNTER_KIND, "", printed.year)  # one series, whoever publishes
    number = reference.number(serial)
    context["number"] = number
    # The audit log's head at publication, printed on the issue and frozen with it: the published
    # paper pins the log's history up to that event (server/audit/checkpoints.py).
    head = current_head()
    context["audit_head"] = {"seq": head.seq, "hash": head.hash, "printed": head.printed}
    pdf = render_bulletin(context, number=number, user=actor, draft=False)
    relative = f"{BULLETINS_DIR}/{printed.year}/{bulletin.id}-{serial}-{uuid.uuid4().hex[:8]}.pdf"
    write_durably(pdf, Path(current_app.config["EVIDENCE_DIR"]) / relative, read_only=True)
    bulletin.year, bulletin.serial, bulletin.issued_on = printed.year, serial, printed
    bulletin.context = context
    bulletin.pdf_path, bulletin.pdf_sha256, bulletin.pdf_size = relative, hashlib.sha256(pdf).hexdigest(), len(pdf)
    bulletin.state = "published"
    bulletin.version += 1
    bulletin.published_by_id, bulletin.published_at = actor.id, utcnow()
    db.session.flush()
    record_event("bulletin.published", actor=actor, channel=channel, object_type="bulletin", object_id=bulletin.id,
                 details={"number": f"{printed.year}年{number}", "pdf_sha256": bulletin.pdf_sha256,
                          "items": [entry.material_item_id for entry in bulletin.entries]})
    return bulletin


def bulletin_number(bulletin: Bulletin) -> str | None:
    if bulletin.serial is None:
        return None
    return f"{bulletin.year}年{bulletin_reference().number(bulletin.serial)}"


def bulletin_path(bulletin: Bulletin) -> Path:
    return Path(current_app.config["EVIDENCE_DIR"]) / bulletin.pdf_path


def published_pdf(bulletin: Bulletin, user: User) -> Path:
    """The stored PDF of a published issue; an unpublished one does not exist as a download."""
    if bulletin.state != "published":
        raise NotFound("简报不存在或尚未发布。")
    return bulletin_path(bulletin)


def summary(bulletin: Bulletin) -> dict:
    return {
        "id": bulletin.id, "title": bulletin.title, "state": bulletin.state,
        "state_label": STATE_LABELS[bulletin.state],
        "version": bulletin.version, "number": bulletin_number(bulletin), "year": bulletin.year,
        "serial": bulletin.serial, "period_start": bulletin.period_start, "period_end": bulletin.period_end,
        "editorial": bulletin.editorial, "item_ids": [entry.material_item_id for entry in bulletin.entries],
        "issued_on": bulletin.issued_on, "pdf_sha256": bulletin.pdf_sha256,
    }
