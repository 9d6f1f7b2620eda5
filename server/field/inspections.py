"""Reading inspection records: who may read which, the filtered list, and one record in full.

An inspection is read through its assignment's rules (server.draws.assignment_access): the team
reads its own records, department and county viewers those of submitted assignments in their
scope, the office and admins all. The enforcement bureau, which already reads every violation
and its photos, reads submitted records — never a draft of a visit still under way. The auditor
follows assignments but never reads a target, and a record names its venue: no grant.

The venue of a record whose assignment is not yet submitted is a target: pages do not show it
here, they link to the audited target page instead ("四不两直", DESIGN.md §4.2).

Reading only; nothing here writes.
"""

from __future__ import annotations

import dataclasses

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..access import EVERYTHING, Scope, authorize, get_or_404, grant, policy_for, register_policy
from ..accounts.models.user import User
from ..columns import as_utc
from ..draws import assignment_access
from ..draws import assignments as assignment_service
from ..draws.models.draw import Assignment
from ..errors import Invalid, NotFound, Problem
from ..extensions import db
from ..pagination import PER_PAGE, Page, paginate, signed_sort
from ..registry.models.reference import County, Department, LegalBasis, Rule
from ..registry.models.venue import Venue
from .completion import INSPECTION_STATUS_LABELS
from .inspection_record import inspection_record
from .models.evidence import EvidenceFile
from .models.inspection import INSPECTION_STATUSES, Amendment, Inspection, Photo, Violation
from .reveal_checks import reveal_anomalies

LABEL = "督查记录"


def _via_assignment(scope: Scope) -> Scope:
    """The records of the assignments `scope` lets the user read."""
    return Scope(
        f"records of assignments ({scope.name})",
        lambda user, inspection: scope.allows(user, inspection.assignment),
        lambda user: Inspection.assignment_id.in_(sa.select(Assignment.id).where(scope.where(user))),
    )


SUBMITTED = Scope("submitted records", lambda user, inspection: inspection.status != "draft",
                  lambda user: Inspection.status != "draft")

register_policy(Inspection, LABEL)
grant(Inspection, "read", ("office", "admin"), EVERYTHING)
grant(Inspection, "read", "enforcement", SUBMITTED)
grant(Inspection, "read", "inspector", _via_assignment(assignment_access.TEAM))
grant(Inspection, "read", "department", _via_assignment(assignment_access.DEPARTMENT_AFTER_SUBMISSION))
grant(Inspection, "read", "county", _via_assignment(assignment_access.COUNTY_AFTER_SUBMISSION))


def may_read(user: User, inspection: Inspection) -> bool:
    scope = policy_for(Inspection).scope_for("read", user.role)
    return scope is not None and scope.allows(user, inspection)


def find_inspection(ident, user: User) -> Inspection:
    """The record `user` may read. Roles without a grant get 403 before the lookup; a record
    outside the user's scope is 404, like one that does not exist."""
    authorize(user, "read", Inspection)
    inspection = get_or_404(Inspection, ident)
    if not may_read(user, inspection):
        raise NotFound(f"编号为 {ident} 的{LABEL}不存在。")
    return inspection


def inspection_of(assignment: Assignment) -> Inspection | None:
    """The assignment's primary record: the one that stands (parallel records: server.field.parallel_records)."""
    return db.session.scalar(sa.select(Inspection).where(Inspection.assignment_id == assignment.id,
                                                         Inspection.is_primary.is_(True)))


def target_is_public(assignment: Assignment) -> bool:
    """Once the record is submitted its venue is no longer a secret to its readers."""
    return assignment.status in assignment_access.VIEWER_STATUSES


# --- the list ------------------------------------------------------------------------------------

# Sort keys the list accepts (a leading "-" sorts descending); anything else is refused.
SORT_COLUMNS = {
    "checked_in": (Inspection.checked_in_at, "到场时间"),
    "received": (Inspection.submission_received_at, "提交时间"),
    "county": (County.sort_order, "属地"),
    "id": (Inspection.id, "编号"),
}
DEFAULT_SORT = "-checked_in"


def list_inspections(user: User, *, county_id: int | None = None, state: str | None = None,
                     draw_id: int | None = None, sort: str | None = None, page: int = 1,
                     per_page: int = PER_PAGE, flagged: bool = False) -> Page:
    """The records `user` may read, filtered, sorted by a whitelisted column, one page of them.

    Unknown filter values are a 422 naming the field, so that a page can show the error next to it.
    """
    condition = authorize(user, "read", Inspection).where(user)
    errors: dict[str, list[str]] = {}
    if state is not None and state not in INSPECTION_STATUSES:
        errors["state"] = [f"未知的记录状态：{state[:40]}。"]
    if page < 1:
        errors["page"] = ["页码须为正整数。"]
    key, descending = signed_sort(sort, SORT_COLUMNS, DEFAULT_SORT, errors)
    if errors:
        raise Invalid("筛选条件不正确。", errors=errors)
    query = (sa.select(Inspection, Assignment, Venue, County)
             .join(Assignment, Assignment.id == Inspection.assignment_id)
             .join(Venue, Venue.id == Assignment.venue_id)
             .join(County, County.id == Venue.county_id)
             .where(condition))
    if county_id is not None:
        query = query.where(Venue.county_id == county_id)
    if state is not None:
        query = query.where(Inspection.status == state)
    if draw_id is not None:
        query = query.where(Assignment.draw_id == draw_id)
    if flagged:  # 签到异常: the check-in or a photo's position (server.field.checkin_checks)
        query = query.where(Inspection.checkin_flagged.is_(True))
    column = SORT_COLUMNS[key][0]
    order = [column.desc().nulls_last() if descending else column.asc().nulls_last(),
             Inspection.id.desc() if descending else Inspection.id.asc()]
    result = paginate(query.order_by(*order), page, per_page)
    rows = result.items
    counts = _photo_counts([inspection.id for inspection, *_ in rows])
    live = _live_violation_counts([inspection.id for inspection, *_ in rows])
    items = []
    for inspection, assignment, venue, county in rows:
        public = target_is_public(assignment)
        expected, received = counts.get(inspection.id, (0, 0))
        items.append({
            "id": inspection.id, "status": inspection.status,
            "status_label": INSPECTION_STATUS_LABELS[inspection.status],
            "assignment_id": assignment.id, "draw_id": assignment.draw_id, "position": assignment.position,
            "venue": venue.name if public else None, "county": county.name if public else None,
            "checked_in_at": as_utc(inspection.checked_in_at),
            "received_at": as_utc(inspection.submission_received_at),
            "photos_expected": expected, "photos_received": received,
            "violations": live.get(inspection.id, 0),
            "checkin_flagged": inspection.checkin_flagged,
        })
    return dataclasses.replace(result, items=items)


def _photo_counts(inspection_ids: list[int]) -> dict[int, tuple[int, int]]:
    if not inspection_ids:
        return {}
    rows = db.session.execute(
        sa.select(Photo.inspection_id, sa.func.count(Photo.id), sa.func.count(Photo.received_at))
        .where(Photo.inspection_id.in_(inspection_ids)).group_by(Photo.inspection_id))
    return {inspection_id: (expected, received) for inspection_id, expected, received in rows}


def _live_violation_counts(inspection_ids: list[int]) -> dict[int, int]:
    if not inspection_ids:
        return {}
    rows = db.session.execute(
        sa.select(Violation.inspection_id, sa.func.count(Violation.id))
        .where(Violation.inspection_id.in_(inspection_ids), Violation.withdrawn_at.is_(None))
        .group_by(Violation.inspection_id))
    return dict(rows.all())


# --- one record ----------------------------------------------------------------------------------


def _violations(inspection: Inspection) -> list[dict]:
    """Every violation of the record, withdrawn ones included and marked, with the rule it breaks
    (the section of the document it rests on) and the departments that answer for it."""
    rows = db.session.scalars(sa.select(Violation).where(Violation.inspection_id == inspection.id)
                              .order_by(Violation.rule_code, Violation.check_code)).all()
    rules = {rule.code: rule for rule in db.session.scalars(
        sa.select(Rule).where(Rule.code.in_({v.rule_code for v in rows})))}
    department_ids = {ident for v in rows for ident in (v.department_ids or [])}
    departments = dict(db.session.execute(
        sa.select(Department.id, Department.name).where(Department.id.in_(department_ids))).all())
    amendment_ids = {a.id: n for n, a in enumerate(_amendments(inspection), start=1)}
    out = []
    for v in rows:
        rule = rules.get(v.rule_code)
        out.append({
            "id": v.id, "rule_code": v.rule_code, "check_code": v.check_code, "description": v.description,
            "rule_title": rule.title if rule else None, "rule_section": rule.section if rule else None,
            "departments": [departments.get(ident, str(ident)) for ident in (v.department_ids or [])],
            "withdrawn": v.withdrawn_at is not None,
            "withdrawn_by_amendment": amendment_ids.get(v.withdrawn_by_amendment_id),
            "found_by_amendment": amendment_ids.get(v.amendment_id),
        })
    return out


def _amendments(inspection: Inspection) -> list[Amendment]:
    return list(db.session.scalars(sa.select(Amendment).where(Amendment.inspection_id == inspection.id)
                                   .order_by(Amendment.id)))


def _basis_citations(codes: set[str]) -> dict[str, str]:
    rows = db.session.scalars(sa.select(LegalBasis).where(LegalBasis.code.in_(codes))) if codes else []
    return {basis.code: f"《{basis.law}》{basis.article}" for basis in rows}


def _photos(inspection: Inspection, user: User) -> list[dict]:
    """The record's photo manifest: each photo's SHA-256, whether its bytes have arrived, and
    whether this user may see it (the evidence handler's own rule decides; the page only
    avoids offering thumbnails that would answer 404)."""
    photos = db.session.scalars(sa.select(Photo).where(Photo.inspection_id == inspection.id)
                                .options(selectinload(Photo.evidence_file)).order_by(Photo.id)).all()
    out = []
    for photo in photos:
        evidence: EvidenceFile | None = photo.evidence_file if photo.received_at is not None else None
        if evidence is None and photo.received_at is not None:
            evidence = db.session.scalar(sa.select(EvidenceFile).where(EvidenceFile.sha256 == photo.sha256))
        viewable = False
        if evidence is not None:
            try:
                authorize(user, "read", evidence)
                viewable = True
            except Problem:
                viewable = False
        out.append({"sha256": photo.sha256, "filename": photo.filename, "caption": photo.caption,
                    "size": photo.size, "taken_at": as_utc(photo.taken_at), "received": photo.received_at is not None,
                    "received_at": as_utc(photo.received_at), "viewable": viewable})
    return out


def _anomalies(inspection: Inspection) -> list[str]:
    """The flags for the office to verify: the assignment's flagged offline reveals
    (server.field.reveal_checks), then the check-in checks' (server.field.checkin_checks) — the
    check-in's, then each flagged photo's, named by its caption or file name."""
    flags = [flag for report in reveal_anomalies(inspection.assignment) for flag in report["flags"]]
    flags += list(inspection.checkin_flags or [])
    for caption, filename, flag in db.session.execute(
            sa.select(Photo.caption, Photo.filename, Photo.position_flag)
            .where(Photo.inspection_id == inspection.id, Photo.position_flag.is_not(None)).order_by(Photo.id)):
        flags.append(f"{flag}：{caption or filename}")
    return flags


def detail(inspection: Inspection, user: User) -> dict:
    """Everything a reader of the record sees. Observations, findings, penalties, notes and
    amendments are read as the 检查记录 reads them (inspection_record); the
    venue only once the assignment is submitted."""
    assignment = inspection.assignment
    record = inspection_record(inspection)
    public = target_is_public(assignment)
    photos = _photos(inspection, user)
    citations = _basis_citations({p["basis"] for p in record["penalties"] if p["basis"]})
    inspector = db.session.get(User, inspection.inspector_id)
    return {
        "id": inspection.id, "uuid": inspection.uuid, "status": inspection.status,
        "status_label": INSPECTION_STATUS_LABELS[inspection.status],
        "inspector": inspector.display_name if inspector else None,
        "device_id": inspection.device_id,
        # False: a parallel record another device of the team sent, kept beside the one that stands.
        "is_primary": inspection.is_primary is True,
        "checked_in_at": as_utc(inspection.checked_in_at), "submitted_at": as_utc(inspection.submitted_at),
        "received_at": as_utc(inspection.submission_received_at), "completed_at": as_utc(inspection.completed_at),
        "assignment": {"id": assignment.id, "draw_id": assignment.draw_id, "position": assignment.position,
                       "status": assignment.status,
                       "status_label": assignment_service.STATUS_LABELS[assignment.status]},
        "venue": record["venue"] if public else None,
        "team": record["team"],
        "observations": record["observations"],
        "findings": record["findings"],
        "violations": _violations(inspection),
        "penalties": [dict(p, citation=citations.get(p["basis"])) for p in record["penalties"]],
        "notes": record["notes"],
        "amendments": record["amendments"],
        "anomalies": _anomalies(inspection), "checkin_distance_m": inspection.checkin_distance_m,
        "signatures": record["signatures"],
        "photos": photos,
        "missing_photos": [p for p in photos if not p["received"]],
    }


def county_choices() -> list[County]:
    return list(db.session.scalars(sa.select(County).order_by(County.sort_order, County.code)))



def target_readable(assignment: Assignment, user: User) -> bool:
    """Whether `assignments.read_target` would give `user` the target now (without reading it):
    the page offers the audited target link only then."""
    try:
        authorize(user, "read_target", assignment)
    except Problem:
        return False
    return user.role != "inspector" or assignment.status in assignment_access.TEAM_TARGET_STATUSES


def assignment_overview(assignment: Assignment, user: User) -> dict:
    """What the assignment page shows: never the target. Fields are listed one by one (as in
    `assignments.summary`, without the envelope a device pulls) so that a column added to the
    model later cannot leak a target by accident."""
    history = assignment_service.transitions_of(assignment)
    actors = dict(db.session.execute(sa.select(User.id, User.display_name).where(
        User.id.in_({t.actor_id for t in history if t.actor_id is not None}))).all())
    inspection = inspection_of(assignment)
    labels = assignment_service.STATUS_LABELS
    return {
        "id": assignment.id, "draw_id": assignment.draw_id, "position": assignment.position,
        "status": assignment.status, "status_label": labels[assignment.status],
        "status_note": assignment.status_note,
        "visit_date": assignment.visit_date,
        "window_start": as_utc(assignment.window_start), "window_end": as_utc(assignment.window_end),
        "meeting_point": assignment.meeting_point, "may_propose_penalties": assignment.may_propose_penalties,
        "dispatched_at": as_utc(assignment.dispatched_at), "revealed_at": as_utc(assignment.revealed_at),
        "submitted_at": as_utc(assignment.submitted_at),
        "members": [{"display_name": m.user.display_name, "is_leader": m.is_leader,
                     "certified": bool(m.user.enforcement_certificate_no)} for m in assignment.members],
        "history": [{"from": labels.get(t.from_status) if t.from_status else None, "to": labels[t.to_status],
                     "actor": actors.get(t.actor_id), "at": as_utc(t.at), "note": t.note} for t in history],
        "inspection": ({"id": inspection.id, "status_label": INSPECTION_STATUS_LABELS[inspection.status]}
                       if inspection is not None and may_read(user, inspection) else None),
        "target_readable": target_readable(assignment, user),
        # Flagged offline reveals (异常提示), for those who decide on the assignment.
        "reveal_anomalies": reveal_anomalies(assignment) if user.role in ("office", "admin") else [],
    }
