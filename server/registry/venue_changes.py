"""Create, edit, merge and close venues of the register (场所台账); flush, never commit.

Every change writes the venue's values as a new `venue_version` row and one audit event with
the values before and after. Personal data (the operator's name, the phone) is kept out of the
audit log, which cannot be edited: the event says only that it changed, the version row holds it.
Duplicates — the same 统一社会信用代码, or the same name at the same address, among venues not
closed — are refused, or merged into the registered venue when the request asks for it.
"""

from __future__ import annotations

from sqlalchemy import func, or_, select

from ..access import authorize
from ..audit.chain import record_event
from ..columns import PERSONAL_DATA, utcnow
from ..errors import Conflict, Invalid
from ..extensions import db
from .models.venue import Venue, VenueVersion
from .venue_register import RegisterReference
from .venue_values import FIELD_LABELS, apply_values, check_values, values_of

PERSONAL_FIELDS = frozenset(column.name for column in Venue.__table__.columns if column.info == PERSONAL_DATA)
CLOSE_REASON_MIN = 4
INVALID_MESSAGE = "场所信息有误，请查看 errors 中各字段的说明。"


def audited_values(values: dict | None) -> dict | None:
    if values is None:
        return None
    return {field: ("（个人信息，见版本记录）" if field in PERSONAL_FIELDS and value else value)
            for field, value in values.items()}


def record_version(venue: Venue, change: str, actor, channel: str, values: dict | None = None) -> VenueVersion:
    """Add the venue's next version row holding its values now."""
    number = db.session.scalar(select(func.max(VenueVersion.version)).where(VenueVersion.venue_id == venue.id)) or 0
    version = VenueVersion(venue_id=venue.id, version=number + 1, change=change,
                           values=values if values is not None else values_of(venue) | _closing(venue),
                           changed_by_id=actor.id if actor is not None else None, changed_at=utcnow(),
                           channel=channel)
    db.session.add(version)
    return version


def _closing(venue: Venue) -> dict:
    return {"closed_at": venue.closed_at.isoformat() if venue.closed_at else None,
            "closed_reason": venue.closed_reason}


def find_duplicate_problems(values: dict, *, exclude_id: int | None = None) -> tuple[list[Venue], dict]:
    """Open venues a new registration with `values` would duplicate, and the field errors saying so."""
    conditions = [(Venue.name == values["name"]) & (Venue.address == values["address"])]
    if values.get("credit_code"):
        conditions.append(Venue.credit_code == values["credit_code"])
    query = select(Venue).where(or_(*conditions), Venue.closed_at.is_(None)).order_by(Venue.id)
    if exclude_id is not None:
        query = query.where(Venue.id != exclude_id)
    matches = list(db.session.scalars(query))
    errors: dict[str, list[str]] = {}
    for venue in matches:
        if values.get("credit_code") and venue.credit_code == values["credit_code"]:
            errors.setdefault("credit_code", []).append(
                f"该统一社会信用代码已登记在场所“{venue.name}”（编号 {venue.id}）名下。")
        if venue.name == values["name"] and venue.address == values["address"]:
            errors.setdefault("address", []).append(f"已有同名同地址的场所（编号 {venue.id}）。")
    return matches, errors


def create_venue(actor, raw: dict, *, merge: bool = False, channel: str = "api",
                 reference: RegisterReference | None = None) -> tuple[Venue, bool]:
    """Register a venue: (venue, created). With `merge`, a duplicate updates the registered venue
    instead (created is then False). Invalid (422) for bad values, Conflict (409) for a duplicate."""
    authorize(actor, "manage", Venue)
    reference = reference or RegisterReference.load()
    values, errors = check_values(raw, reference)
    if errors:
        raise Invalid(INVALID_MESSAGE, errors=errors)
    matches, duplicate_errors = find_duplicate_problems(values)
    if matches:
        if not merge or len(matches) > 1:
            detail = ("该场所已登记，如需以本次信息更新已登记的场所，请选择合并。" if len(matches) == 1
                      else "统一社会信用代码与名称地址分别对应不同的已登记场所，无法合并，请核对。")
            raise Conflict(detail, errors=duplicate_errors, venue_ids=[venue.id for venue in matches])
        return change_venue(matches[0], values, "merged", actor, channel, reference), False
    venue = Venue()
    apply_values(venue, values, reference)
    db.session.add(venue)
    db.session.flush()
    record_version(venue, "created", actor, channel, values | _closing(venue))
    record_event("venue.created", actor=actor, channel=channel, object_type="venue", object_id=venue.id,
                 details={"before": None, "after": audited_values(values), "version": 1})
    return venue, True


def update_venue(venue: Venue, actor, changes: dict, *, channel: str = "api",
                 reference: RegisterReference | None = None) -> Venue:
    """Edit a registered venue: `changes` holds only the fields to change (the others keep their
    values). Conflict (409) for a closed venue or a duplicate of another venue."""
    authorize(actor, "manage", venue)
    if venue.is_closed:
        raise Conflict(f"场所“{venue.name}”已关闭，不能修改。")
    unknown = sorted(set(changes) - set(FIELD_LABELS))
    if unknown:
        raise Invalid(INVALID_MESSAGE, errors={field: ["不是可修改的字段。"] for field in unknown})
    reference = reference or RegisterReference.load()
    values, errors = check_values(values_of(venue) | changes, reference)
    if errors:
        raise Invalid(INVALID_MESSAGE, errors=errors)
    matches, duplicate_errors = find_duplicate_problems(values, exclude_id=venue.id)
    if matches:
        raise Conflict("修改后与已登记的其他场所重复，请核对。", errors=duplicate_errors,
                       venue_ids=[match.id for match in matches])
    return change_venue(venue, values, "updated", actor, channel, reference)


def change_venue(venue: Venue, values: dict, change: str, actor, channel: str, reference: RegisterReference) -> Venue:
    """Write checked `values` onto a registered venue as one versioned, audited change ("updated"
    or "merged"); nothing at all when no value differs."""
    before = values_of(venue)
    if before == values:
        return venue  # nothing changes: no version, no event
    apply_values(venue, values, reference)
    db.session.flush()
    version = record_version(venue, change, actor, channel, values | _closing(venue))
    db.session.flush()
    changed = {field: {"before": before[field], "after": values[field]} for field in values
               if before[field] != values[field]}
    record_event(f"venue.{change}", actor=actor, channel=channel, object_type="venue", object_id=venue.id,
                 details={"before": audited_values({f: c["before"] for f, c in changed.items()}),
                          "after": audited_values({f: c["after"] for f, c in changed.items()}),
                          "version": version.version})
    return venue


def close_venue(venue: Venue, actor, reason: str, *, channel: str = "api") -> Venue:
    """Close a venue with a reason: kept on record, no longer drawn."""
    authorize(actor, "manage", venue)
    reason = (reason or "").strip()
    if len(reason) < CLOSE_REASON_MIN:
        raise Invalid("请说明关闭理由。", errors={"reason": [f"关闭理由不少于 {CLOSE_REASON_MIN} 个字。"]})
    if len(reason) > 256:
        raise Invalid("关闭理由过长。", errors={"reason": ["关闭理由不超过 256 个字。"]})
    if venue.is_closed:
        raise Conflict(f"场所“{venue.name}”已于此前关闭。")
    venue.closed_at = utcnow()
    venue.closed_reason = reason
    db.session.flush()
    version = record_version(venue, "closed", actor, channel)
    db.session.flush()
    record_event("venue.closed", actor=actor, channel=channel, object_type="venue", object_id=venue.id,
                 details={"before": {"closed_at": None}, "after": {"closed_at": venue.closed_at.isoformat(),
                                                                   "closed_reason": reason},
                          "version": version.version})
    return venue
