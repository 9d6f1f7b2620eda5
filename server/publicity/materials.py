"""The material library (典型材料): candidates, flagging, review, masked views.

Where items come from (decision): an inspector flags an example by writing an ExampleNote on
site; every note of a submitted inspection becomes a `candidate` item when the office or
propaganda opens the library (`collect_note_candidates`, idempotent through the UNIQUE
example_note_id), so nothing in the sync path changes and nothing is lost. The office or
propaganda may also flag a finding or a set of an inspection's photos. Only the office approves
or rejects a candidate; bulletins use approved items only.

Propaganda sees an item's masked text and redacted images only (DESIGN.md §6). The photos'
boxes, the face boxes suggested when a photo is attached and the redacted images made from them
are server/publicity/redaction.py; this module decides which items exist and who sees what.
"""

from __future__ import annotations

import logging
import re

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import selectinload

from ..access import EVERYTHING, Scope, authorize, get_visible, grant, register_policy
from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import utcnow
from ..draws.models.draw import Assignment, AssignmentMember
from ..enforcement.models.case import CaseViolation, EnforcementCase
from ..errors import Conflict, Invalid, Problem
from ..extensions import db
from ..field.models.inspection import ExampleNote, Finding, Inspection, Photo, Violation
from ..jobs.queue import queue_configured, submit
from ..pagination import PER_PAGE, Page, paginate
from ..registry.models.venue import Venue
from .masking import mask_text
from .models.material import MaterialItem, MaterialPhoto
from .redaction import prepare_redacted, rectangles, suggest_face_boxes, suggested_boxes

log = logging.getLogger(__name__)
COLLECT_JOB = "materials.collect"

KIND_LABELS = {"positive": "正面典型", "negative": "反面典型"}
STATE_LABELS = {"candidate": "待审核", "approved": "已采用", "rejected": "不采用"}
SOURCE_LABELS = {"note": "督查人员典型记录", "finding": "发现的问题", "photos": "现场照片"}
MAX_PHOTOS = 12


def _not_rejected(user: User, item: MaterialItem) -> bool:
    return item.state != "rejected"


NOT_REJECTED = Scope("not rejected", _not_rejected, lambda user: MaterialItem.state != "rejected")

register_policy(MaterialItem, "典型材料")
# Propaganda reads the masked view of candidates and approved items (it drafts boxes on
# candidates too); the text as written, the original photos and GPS only the office and admins.
grant(MaterialItem, "read", ("office", "admin"))
grant(MaterialItem, "read", "propaganda", NOT_REJECTED)
grant(MaterialItem, "read_internal", ("office", "admin"))
grant(MaterialItem, "manage", "office")
grant(MaterialItem, "manage", "propaganda", NOT_REJECTED)
grant(MaterialItem, "review", "office", EVERYTHING)


def find_item(item_id, user: User, action: str = "read") -> MaterialItem:
    """The item, or NotFound — also when the caller may not see it (ids are not to be probed)."""
    item = get_visible(MaterialItem, item_id, user, "典型材料不存在或不在您的范围内。")
    if action != "read":
        authorize(user, action, item)
    return item


# --- candidates and flagging ---------------------------------------------------------------------


def _submitted(inspection: Inspection) -> bool:
    return inspection.status in ("awaiting_evidence", "complete")


TITLE_LENGTH = 40


def _title(text: str, kind: str) -> str:
    """The first sentence, at most 40 characters. A cut never ends inside a run of digits or
    letters: half a phone or ID number would slip past the masking patterns."""
    first = re.split(r"[。！？；\n]", (text or "").strip())[0].strip()
    if not first:
        return KIND_LABELS[kind]
    if len(first) > TITLE_LENGTH:
        first = re.sub(r"[0-9A-Za-z·•.\-\s*]+$", "", first[:TITLE_LENGTH]) + "…"
    return first


def _uncollected(what) -> sa.Select:
    """`what` of the notes of submitted inspections that have no candidate item yet."""
    return (sa.select(what).join(Inspection, Inspection.id == ExampleNote.inspection_id)
            .outerjoin(MaterialItem, MaterialItem.example_note_id == ExampleNote.id)
            # The primary record's notes only: a parallel record of the same visit would repeat them.
            .where(MaterialItem.id.is_(None), Inspection.status.in_(("awaiting_evidence", "complete")),
                   Inspection.is_primary.is_(True),
                   ExampleNote.withdrawn_at.is_(None))  # a note an amendment withdrew is no material
            .order_by(ExampleNote.id))


def collect_note_candidates(actor: User | None = None) -> int:
    """Make a candidate item for every note of a submitted inspection that has none yet."""
    notes = db.session.scalars(_uncollected(ExampleNote)).all()
    chosen = {note.id: [p for p in db.session.get(Inspection, note.inspection_id).photos
                        if p.evidence_file_id is not None][:MAX_PHOTOS] for note in notes}
    # Detected before anything is written: on SQLite the write lock is then held only briefly.
    suggestions = suggest_face_boxes([photo for photos in chosen.values() for photo in photos])
    for note in notes:
        inspection = db.session.get(Inspection, note.inspection_id)
        item = MaterialItem(source="note", inspection_id=note.inspection_id, example_note_id=note.id,
                            kind=note.kind if note.kind in KIND_LABELS else "positive",
                            title=_title(note.text, note.kind if note.kind in KIND_LABELS else "positive"),
                            text=note.text, venue_display="mask" if note.kind == "negative" else "show",
                            state="candidate", flagged_by_id=inspection.inspector_id)
        db.session.add(item)
        db.session.flush()
        _attach_photos(item, [p.id for p in chosen[note.id]], suggestions)
    if notes:
        db.session.flush()
        record_event("material.collected", actor=actor, channel="system", object_type="material_item",
                     details={"notes": [note.id for note in notes],
                              "suggested_faces": sum(len(boxes) for boxes in suggestions.values())})
    return len(notes)


def collect_note_candidates_if_possible(actor: User) -> None:
    """`collect_note_candidates` on opening the library (a GET).

    With a job queue the visit only asks for it (`materials.collect`, keyed by the notes waiting,
    so reloading asks once): face detection on a dozen photos takes seconds, and the worker does
    it. Without one it runs here. On SQLite a page's read snapshot cannot become a write while
    another connection writes (a sync, say); then this visit shows what is collected already and
    the next one collects the rest. On PostgreSQL two visits at once both find the same notes
    uncollected; the second one's insert waits for the first to commit and then breaks the UNIQUE
    example_note_id: those notes are collected, so it shows the page too."""
    if queue_configured():
        waiting = db.session.scalars(_uncollected(ExampleNote.id)).all()
        if waiting:
            submit(COLLECT_JOB, {}, key=f"{COLLECT_JOB}:{waiting[-1]}:{len(waiting)}")
        return
    try:
        with db.session.begin_nested():
            collect_note_candidates(actor)
    except (OperationalError, IntegrityError) as exc:
        log.warning("collecting material candidates deferred: %s", exc.orig)


def _attach_photos(item: MaterialItem, photo_ids: list[int], suggestions: dict[int, list] | None = None) -> None:
    """Attach the photos in order, each with the face boxes suggested for it (detected here unless
    `suggestions` has them already)."""
    if len(photo_ids) > MAX_PHOTOS:
        raise Invalid(f"每条典型材料至多选用 {MAX_PHOTOS} 张照片。", errors={"photo_ids": ["照片过多。"]})
    if len(set(photo_ids)) != len(photo_ids):
        raise Invalid("照片不能重复选用。", errors={"photo_ids": ["有重复的照片。"]})
    photos = {p.id: p for p in db.session.scalars(sa.select(Photo).where(Photo.id.in_(photo_ids or [0])))}
    for photo_id in photo_ids:
        photo = photos.get(photo_id)
        if photo is None or photo.inspection_id != item.inspection_id:
            raise Invalid("所选照片不属于该督查记录。", errors={"photo_ids": [f"照片 {photo_id} 不属于该督查记录。"]})
        if photo.evidence_file_id is None:
            raise Conflict(f"照片 {photo_id} 尚未上传完成，不能选用。")
    if suggestions is None:
        suggestions = suggest_face_boxes([photos[photo_id] for photo_id in photo_ids])
    for position, photo_id in enumerate(photo_ids, start=1):
        boxes = [{"x": x, "y": y, "w": w, "h": h, "suggested": True}
                 for x, y, w, h in suggestions.get(photo_id, [])]
        item.photos.append(MaterialPhoto(position=position, photo_id=photo_id, boxes=boxes, boxes_version=0))
    db.session.flush()


def flag_material(*, actor: User, kind: str, inspection_id: int | None = None, finding_id: int | None = None,
                  photo_ids: list[int] | None = None, title: str | None = None, text: str | None = None,
                  venue_display: str | None = None, channel: str = "api") -> MaterialItem:
    """The office or propaganda flags a finding (its description is the text) or an inspection's
    photos as an example; the item starts as a candidate."""
    authorize(actor, "manage", MaterialItem)
    finding = None
    if finding_id is not None:
        finding = db.session.get(Finding, finding_id) if 0 < finding_id < 2**31 else None
        if finding is None:
            raise Invalid("问题不存在。", errors={"finding_id": ["问题不存在。"]})
        if finding.withdrawn_at is not None:
            raise Conflict("该问题已被督查组撤回（更正），不能作为典型材料。")
        inspection_id = finding.inspection_id
    inspection = db.session.get(Inspection, inspection_id) if inspection_id and 0 < inspection_id < 2**31 else None
    if inspection is None:
        raise Invalid("督查记录不存在。", errors={"inspection_id": ["督查记录不存在。"]})
    if not _submitted(inspection):
        raise Conflict("督查记录尚未提交，不能作为典型材料。")
    body = text if text is not None else (finding.description if finding is not None else "")
    if not body.strip():
        raise Invalid("须写明材料内容。", errors={"text": ["不能为空。"]})
    item = MaterialItem(source="finding" if finding is not None else "photos", inspection_id=inspection.id,
                        finding_id=finding.id if finding is not None else None, kind=kind,
                        title=(title or _title(body, kind))[:200], text=body,
                        venue_display=venue_display or ("mask" if kind == "negative" else "show"),
                        state="candidate", flagged_by_id=actor.id)
    db.session.add(item)
    db.session.flush()
    if photo_ids is None and finding is not None:
        photo_ids = [p.id for p in inspection.photos if p.finding_id == finding.id and p.evidence_file_id]
    _attach_photos(item, photo_ids or [])
    record_event("material.flagged", actor=actor, channel=channel, object_type="material_item", object_id=item.id,
                 details={"kind": kind, "source": item.source, "inspection_id": inspection.id,
                          "finding_id": item.finding_id, "photos": len(item.photos),
                          "suggested_faces": sum(len(suggested_boxes(entry.boxes)) for entry in item.photos)})
    return item


def update_material(item: MaterialItem, *, actor: User, title: str | None = None, venue_display: str | None = None,
                    channel: str = "api") -> MaterialItem:
    authorize(actor, "manage", item)
    changes = {}
    if title is not None and title != item.title:
        item.title, changes["title"] = title, title
    if venue_display is not None and venue_display != item.venue_display:
        item.venue_display, changes["venue_display"] = venue_display, venue_display
    if changes:
        db.session.flush()
        record_event("material.updated", actor=actor, channel=channel, object_type="material_item",
                     object_id=item.id, details=changes)
    return item


def review_material(item: MaterialItem, decision: str, *, actor: User, channel: str = "api") -> MaterialItem:
    """The office approves a candidate for use or rejects it (a decision can be changed later,
    except that an item in a published bulletin stays approved: the issue printed it)."""
    authorize(actor, "review", item)
    if decision not in ("approved", "rejected", "candidate"):
        raise Invalid("审核结论须为 approved 或 rejected。")
    if decision != "approved" and item.state == "approved" and _in_published_bulletin(item):
        raise Conflict("该材料已刊发在已发布的简报中，不能撤销采用。")
    before = item.state
    item.state, item.reviewed_by_id, item.reviewed_at = decision, actor.id, utcnow()
    db.session.flush()
    if decision == "approved":
        prepare_redacted(list(item.photos))
    record_event("material.reviewed", actor=actor, channel=channel, object_type="material_item", object_id=item.id,
                 details={"from": before, "to": decision})
    return item


def _in_published_bulletin(item: MaterialItem) -> bool:
    from .models.material import Bulletin, BulletinItem

    return db.session.scalar(sa.select(sa.func.count()).select_from(BulletinItem)
                             .join(Bulletin, Bulletin.id == BulletinItem.bulletin_id)
                             .where(BulletinItem.material_item_id == item.id, Bulletin.state == "published")) > 0


# --- views -------------------------------------------------------------------------------------


def person_names(inspection: Inspection) -> tuple[list[str], list[str]]:
    """Names of individuals and other personal values from the record's person fields."""
    venue = inspection.assignment.venue
    names = [venue.operator_name or ""]
    literals = [venue.contact_phone or ""]
    names += db.session.scalars(sa.select(User.display_name).join(AssignmentMember, AssignmentMember.user_id == User.id)
                                .where(AssignmentMember.assignment_id == inspection.assignment_id)).all()
    inspector = db.session.get(User, inspection.inspector_id)
    names.append(inspector.display_name if inspector else "")
    cases = db.session.scalars(sa.select(EnforcementCase)
                               .join(CaseViolation, CaseViolation.case_id == EnforcementCase.id)
                               .join(Violation, Violation.id == CaseViolation.violation_id)
                               .where(Violation.inspection_id == inspection.id).distinct()).all()
    for case in cases:
        names += [case.party_name or "", case.party_legal_representative or ""]
        literals += [case.party_phone or "", case.party_id_number or "", case.party_address or ""]
    return [n for n in names if n], [v for v in literals if v]


def venue_label(item: MaterialItem) -> str:
    venue = item.inspection.assignment.venue
    return venue.name if item.venue_display == "show" else f"某{venue.category.name}"


def mask_for_item(item: MaterialItem, text: str, people: tuple[list[str], list[str]] | None = None) -> str:
    """`text` about `item` as it may leave the office: the people of its record, their numbers and,
    unless shown, the venue's name masked (also for wording typed for a bulletin). `people`: the
    record's person_names when the caller masks several texts of one item."""
    venue = item.inspection.assignment.venue
    names, literals = people or person_names(item.inspection)
    label = None if item.venue_display == "show" else venue_label(item)
    return mask_text(text or "", person_names=names, literals=literals, venue_name=venue.name, venue_label=label)


def masked_text(item: MaterialItem) -> str:
    return mask_for_item(item, item.text)


def masked_title(item: MaterialItem) -> str:
    return mask_for_item(item, item.title)


def item_view(item: MaterialItem, user: User) -> dict:
    """What `user` may see of an item: the masked view always, the text as written only for
    the office and admins."""
    venue = item.inspection.assignment.venue
    people = person_names(item.inspection)  # one lookup for the title, the text and every caption
    view = {
        "id": item.id, "kind": item.kind, "kind_label": KIND_LABELS[item.kind], "state": item.state,
        "state_label": STATE_LABELS[item.state], "source": item.source, "source_label": SOURCE_LABELS[item.source],
        "title": mask_for_item(item, item.title, people), "masked_text": mask_for_item(item, item.text, people),
        "venue": venue_label(item),
        "venue_display": item.venue_display, "county": venue.county.name, "category": venue.category.name,
        "created_at": item.created_at,
        "photos": [{"position": entry.position, "boxes": rectangles(entry.boxes),
                    "suggested": suggested_boxes(entry.boxes), "boxes_version": entry.boxes_version,
                    "caption": mask_for_item(item, entry.photo.caption or "", people)} for entry in item.photos],
    }
    try:
        authorize(user, "read_internal", item)
    except Problem:
        return view
    view.update(internal_title=item.title, text=item.text, inspection_id=item.inspection_id,
                finding_id=item.finding_id, example_note_id=item.example_note_id)
    return view


def _caption(item: MaterialItem, entry: MaterialPhoto) -> str:
    return mask_for_item(item, entry.photo.caption or "")


def _items_query(user: User, kind: str | None, state: str | None, county_id: int | None = None) -> sa.Select:
    scope = authorize(user, "read", MaterialItem)
    query = sa.select(MaterialItem).where(scope.where(user))
    if kind:
        query = query.where(MaterialItem.kind == kind)
    if state:
        query = query.where(MaterialItem.state == state)
    if county_id is not None:
        query = query.where(MaterialItem.inspection_id.in_(
            sa.select(Inspection.id).join(Assignment, Assignment.id == Inspection.assignment_id)
            .join(Venue, Venue.id == Assignment.venue_id).where(Venue.county_id == county_id)))
    return query


def list_items(user: User, *, kind: str | None = None, state: str | None = None) -> list[MaterialItem]:
    return list(db.session.scalars(_items_query(user, kind, state).order_by(MaterialItem.id.desc())))


ITEM_SORTS = {"created": "登记时间", "kind": "类型", "state": "状态", "title": "标题"}


def page_items(user: User, *, kind: str | None = None, state: str | None = None, county_id: int | None = None,
               sort: str = "created", descending: bool = True, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The library as the list page shows it: filtered, sorted, one page. Sorting by title uses
    the title as written (what propaganda reads is masked, but in the same order of items)."""
    columns = {"created": MaterialItem.id, "kind": MaterialItem.kind, "state": MaterialItem.state,
               "title": MaterialItem.title}
    column = columns.get(sort, MaterialItem.id)
    order = (column.desc(), MaterialItem.id.desc()) if descending else (column.asc(), MaterialItem.id.asc())
    # What item_view reads of each item, loaded with the page rather than one query per attribute.
    venue = selectinload(MaterialItem.inspection).selectinload(Inspection.assignment).selectinload(Assignment.venue)
    loads = (venue.selectinload(Venue.county), venue.selectinload(Venue.category),
             selectinload(MaterialItem.photos).selectinload(MaterialPhoto.photo))
    return paginate(_items_query(user, kind, state, county_id).options(*loads).order_by(*order), page, per_page)
