"""Draws (抽查): create a verifiable draw, close it (reveal the seed), verify it.

Creating a draw snapshots the candidates as they are now — the venues in scope and the active
inspectors, with the facts the selection needs — commits to a fresh random seed by storing
`sha256(seed)`, runs the pure selection (`draw_selection.select`), and stores the parameters,
the snapshots and their digests next to the assignments it creates. One `draw.created` audit
event anchors the commitment and the digests in the hash-chained log before anything is
dispatched. Closing reveals the seed; from then on anyone with access re-runs the selection
from the stored snapshots (`verify_draw`) and sees whether the stored result is what the
published algorithm gives (docs/draw-algorithm.md).

An infeasible scope raises `DrawInfeasible` (409) naming the constraint and the counts, before
anything is written. Services flush and never commit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..access import authorize, grant, register_policy
from ..accounts.models.user import User
from ..audit.chain import canonical_timestamp, event_hash, record_event
from ..audit.models.audit import AuditEvent
from ..columns import CHINA_STANDARD_TIME, as_utc, utcnow
from ..errors import Conflict, Invalid
from ..extensions import db
from ..pagination import PER_PAGE, Page, paginate, signed_sort
from ..registry.models.reference import County, Department, DrawPolicy, VenueCategory
from ..registry.models.venue import Venue
from .assignments import STATUS_LABELS as ASSIGNMENT_STATUS_LABELS
from .assignments import create_sealed_many
from .models.draw import Assignment, AssignmentMember, Draw
from .selection import (
    ALGORITHM,
    CERTIFIED_MEMBER,
    INSPECTORS,
    MAX_PER_DAY,
    REPEAT_VISIT,
    RESPONSIBLE_DEPARTMENT,
    SAME_COUNTY,
    TEAM_SIZE,
    VENUES_IN_SCOPE,
    InspectorCandidate,
    Selection,
    SelectionInputError,
    VenueCandidate,
    canonical_json,
    commitment_of,
    digest,
    inspectors_document,
    inspectors_from_json,
    result_digest,
    select,
    venues_document,
    venues_from_json,
)
from .server_keys import UnwrapError, unwrap_secret, wrap_secret

SEED_PURPOSE = "draw-seed"
SEED_BYTES = 32
POLICY_CODE = "default"
# Window days are calendar days in China Standard Time (UTC+8 all year, no daylight saving).
MAX_WINDOW_DAYS = 31
# zlib's default level: level 9 takes five times as long on a city-wide snapshot (~9 MB of JSON)
# for a blob only a tenth smaller. The digests cover the uncompressed bytes, so the level is free.
SNAPSHOT_COMPRESSION = 6
# Statuses in which an assignment means the venue was actually inspected.
INSPECTED_STATUSES = ("submitted", "closed")

register_policy(Draw, "抽查")
grant(Draw, "read", ("office", "admin", "auditor"))
grant(Draw, "manage", ("office", "admin"))

CONSTRAINT_LABELS = {
    VENUES_IN_SCOPE: "范围内的候选场所不足",
    TEAM_SIZE: "在岗督查人员少于每组人数",
    SAME_COUNTY: "回避：不派本县（市、区）的督查人员",
    RESPONSIBLE_DEPARTMENT: "回避：不派场所行业主管部门的督查人员",
    REPEAT_VISIT: "回避：同一督查人员一定天数内不重复到同一场所",
    MAX_PER_DAY: "每名督查人员每天的任务数上限",
    CERTIFIED_MEMBER: "可提出处罚建议的督查组须有一名持执法证的成员",
}
STEP_LABELS = {
    INSPECTORS: "在岗督查人员",
    SAME_COUNTY: "排除本县（市、区）人员后",
    RESPONSIBLE_DEPARTMENT: "排除行业主管部门人员后",
    REPEAT_VISIT: "排除近期到过该场所的人员后",
    MAX_PER_DAY: "排除当天任务已满的人员后",
    CERTIFIED_MEMBER: "其中持执法证的",
}


class DrawInfeasible(Conflict):
    """The scope cannot be staffed under the policy; nothing was written."""

    slug = "draw-infeasible"


# --- history of venues (a later issue adds recorded inspections and violations) ----------------


@dataclass(frozen=True)
class VenueHistory:
    past_violations: int = 0
    inspected: bool = False


def venue_history(venue_ids: sa.Select) -> dict[int, VenueHistory]:
    """What the weights need to know about the venues selected by `venue_ids` (a SELECT of ids).

    Inspected: one of the venue's assignments reached submitted or closed — a draw alone does
    not inspect anything. Past violations: 0 until inspection records exist.
    """
    inspected = db.session.scalars(
        sa.select(Assignment.venue_id).distinct()
        .where(Assignment.venue_id.in_(venue_ids), Assignment.status.in_(INSPECTED_STATUSES)))
    return {venue_id: VenueHistory(inspected=True) for venue_id in inspected}


# --- creating a draw -------------------------------------------------------------------------


def _resolve(model, values, field_name: str, what: str, errors: dict, options=()) -> list:
    """Rows for codes (or names), in code order; unknown ones are collected as field errors."""
    wanted = [str(v).strip() for v in (values or []) if str(v).strip()]
    if not wanted:
        errors[field_name] = [f"至少选择一个{what}。"]
        return []
    rows = db.session.scalars(sa.select(model).where(sa.or_(model.code.in_(wanted), model.name.in_(wanted)))
                              .options(*options)).all()
    known = {row.code for row in rows} | {row.name for row in rows}
    unknown = [v for v in wanted if v not in known]
    if unknown:
        errors[field_name] = [f"未知的{what}：{'、'.join(unknown)}。"]
    return sorted(rows, key=lambda row: row.code)


def window_days(window_start: datetime, window_end: datetime) -> list[date]:
    """The calendar days (UTC+8) the window [start, end) touches."""
    first = window_start.astimezone(CHINA_STANDARD_TIME).date()
    last = (window_end - timedelta(microseconds=1)).astimezone(CHINA_STANDARD_TIME).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _aware(moment: datetime) -> datetime:
    """A time without zone is read as China Standard Time (what the office means by 8:00).

    Returned in UTC: SQLite stores the wall-clock digits without the offset and hands them back
    as naive values that everything here reads as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=CHINA_STANDARD_TIME)
    return moment.astimezone(timezone.utc)


def _valid_rate(rate) -> bool:
    try:
        value = Decimal(str(rate))
    except ArithmeticError:
        return False
    return value.is_finite() and Decimal(0) < value <= Decimal(100) and value == value.quantize(Decimal("0.01"))


def _check_request(window_start, window_end, sample_size, rate, team_size, policy, errors: dict) -> None:
    if (sample_size is None) == (rate is None):
        errors["sample_size"] = ["抽取数量（sample_size）和抽取比例（rate）须且只须给出一个。"]
    elif sample_size is not None and sample_size < 1:
        errors["sample_size"] = ["抽取数量至少为 1。"]
    elif rate is not None and not _valid_rate(rate):
        errors["rate"] = ["抽取比例为百分数，应大于 0、不超过 100，最多两位小数。"]
    minimum = policy.settings["team"]["min_size"]
    if team_size < minimum:
        errors["team_size"] = [f"督查组至少 {minimum} 人（抽查策略）。"]
    if window_end <= window_start:
        errors["window_end"] = ["结束时间应晚于开始时间。"]
    elif window_end <= utcnow():
        errors["window_end"] = ["结束时间已过，抽查窗口应在将来。"]
    elif len(window_days(window_start, window_end)) > MAX_WINDOW_DAYS:
        errors["window_end"] = [f"抽查窗口最长 {MAX_WINDOW_DAYS} 天。"]


def _policy() -> DrawPolicy:
    policy = db.session.scalar(sa.select(DrawPolicy).where(DrawPolicy.code == POLICY_CODE))
    if policy is None:
        raise Conflict("抽查策略尚未加载：请先运行 anfang reference load。")
    return policy


def category_weight(category: VenueCategory, weights: dict) -> int:
    """The policy's weight for a category: the highest of its weighted rules, else the default;
    a per-category override wins."""
    if category.code in weights["categories"]:
        return weights["categories"][category.code]
    ruled = [weights["rules"][rule.code] for rule in category.rules if rule.code in weights["rules"]]
    return max(ruled) if ruled else weights["default"]


def build_parameters(*, counties: list[County], categories: list[VenueCategory], days: list[date],
                     window_start: datetime, window_end: datetime, sample_size: int, rate_basis_points: int | None,
                     team_size: int, may_propose_penalties: bool, meeting_point: str | None,
                     policy: DrawPolicy) -> dict:
    """The draw's canonical parameters: the request and the policy in force, as plain JSON."""
    settings = policy.settings
    return {
        "algorithm": ALGORITHM,
        "scope": {"counties": [c.code for c in counties], "categories": [c.code for c in categories]},
        "sample": {"size": sample_size, "rate_basis_points": rate_basis_points},
        "team": {"size": team_size, "may_propose_penalties": may_propose_penalties,
                 "require_certified_member": settings["team"]["require_certified_member_when_penalties"]},
        "window": {"start": canonical_timestamp(window_start), "end": canonical_timestamp(window_end),
                   "timezone": "+08:00", "days": [day.isoformat() for day in days]},
        "weights": {"categories": {c.code: category_weight(c, settings["weights"]) for c in categories},
                    "past_violations_factor": settings["weights"]["past_violations_factor"],
                    "never_inspected_factor": settings["weights"]["never_inspected_factor"]},
        "exclusions": dict(settings["exclusions"]),
        "responsible_departments": {c.code: sorted(d.code for d in c.departments) for c in categories},
        "policy": {"code": policy.code, "version": policy.version, "name": settings.get("name")},
        "meeting_point": meeting_point,
    }


def snapshot_venues(county_ids: list[int], category_ids: list[int]) -> list[VenueCandidate]:
    in_scope = sa.and_(Venue.county_id.in_(county_ids), Venue.category_id.in_(category_ids))
    history = venue_history(sa.select(Venue.id).where(in_scope))
    # Codes by id rather than two joins on the venue rows (county and category are NOT NULL
    # foreign keys, so the joins dropped nothing); sorted here rather than by the database.
    county_codes = dict(db.session.execute(sa.select(County.id, County.code).where(County.id.in_(county_ids))).all())
    category_codes = dict(db.session.execute(
        sa.select(VenueCategory.id, VenueCategory.code).where(VenueCategory.id.in_(category_ids))).all())
    rows = db.session.execute(sa.select(Venue.id, Venue.county_id, Venue.category_id).where(in_scope)).all()
    rows.sort(key=lambda row: row[0])
    no_history = VenueHistory()
    candidates = []
    for venue_id, county_id, category_id in rows:
        past = history.get(venue_id, no_history)
        candidates.append(VenueCandidate(venue_id, county_codes[county_id], category_codes[category_id],
                                         past.past_violations, past.inspected))
    return candidates


def snapshot_inspectors(days: list[date], repeat_visit_days: int, county_ids: list[int],
                        category_ids: list[int]) -> list[InspectorCandidate]:
    """Active inspectors with county, department, certificate, and their other assignments that
    matter: visits to venues in scope near the window (repeat rule), bookings on window days
    (per-day maximum). Every assignment counts except cancelled ones."""
    rows = db.session.execute(
        sa.select(User.id, County.code, Department.code, User.enforcement_certificate_no.is_not(None))
        .outerjoin(County, User.county_id == County.id).outerjoin(Department, User.department_id == Department.id)
        .where(User.role == "inspector", User.is_active.is_(True)).order_by(User.id)).all()
    member_rows = (sa.select(AssignmentMember.user_id, Assignment.venue_id, Assignment.visit_date)
                   .join(Assignment, AssignmentMember.assignment_id == Assignment.id)
                   .join(User, AssignmentMember.user_id == User.id)
                   .where(Assignment.status != "cancelled", User.role == "inspector", User.is_active.is_(True)))
    visits: dict[int, set[tuple[int, str]]] = {}
    if repeat_visit_days:
        reach = timedelta(days=repeat_visit_days - 1)
        near = member_rows.join(Venue, Assignment.venue_id == Venue.id).where(
            Assignment.visit_date.between(days[0] - reach, days[-1] + reach),
            Venue.county_id.in_(county_ids), Venue.category_id.in_(category_ids))
        for user_id, venue_id, visit_date in db.session.execute(near):
            visits.setdefault(user_id, set()).add((venue_id, visit_date.isoformat()))
    booked: dict[int, dict[str, int]] = {}
    for user_id, _venue_id, visit_date in db.session.execute(
            member_rows.where(Assignment.visit_date.between(days[0], days[-1]))):
        per_day = booked.setdefault(user_id, {})
        per_day[visit_date.isoformat()] = per_day.get(visit_date.isoformat(), 0) + 1
    return [InspectorCandidate(id=user_id, county=county, department=department, certified=bool(certified),
                               visits=tuple(sorted(visits.get(user_id, ()))),
                               booked=tuple(sorted(booked.get(user_id, {}).items())))
            for user_id, county, department, certified in rows]


def _day_window(day: date, window_start: datetime, window_end: datetime) -> tuple[datetime, datetime]:
    """An assignment's own window: its visit day (UTC+8), inside the draw's window."""
    start = datetime.combine(day, time(0), CHINA_STANDARD_TIME).astimezone(timezone.utc)
    return max(start, window_start), min(start + timedelta(days=1), window_end)


def create_draw(actor: User, *, counties, categories, window_start: datetime, window_end: datetime,
                sample_size: int | None = None, rate: Decimal | str | None = None, team_size: int = 2,
                may_propose_penalties: bool = True, meeting_point: str | None = None,
                channel: str = "api") -> Draw:
    """Draw venues and teams for the scope; create sealed assignments; flush, never commit.

    Raises Invalid (422, field errors) for a bad request and DrawInfeasible (409) when the scope
    cannot be staffed; in both cases nothing has been written.
    """
    authorize(actor, "manage", Draw)
    window_start, window_end = _aware(window_start), _aware(window_end)
    errors: dict[str, list[str]] = {}
    county_rows = _resolve(County, counties, "counties", "县（市、区）", errors)
    # build_parameters reads every category's rules and departments: loaded here in two queries.
    category_rows = _resolve(VenueCategory, categories, "categories", "场所类别", errors,
                             (selectinload(VenueCategory.rules), selectinload(VenueCategory.departments)))
    policy = _policy()
    _check_request(window_start, window_end, sample_size, rate, team_size, policy, errors)
    if errors:
        raise Invalid("抽查条件有误，请查看 errors 中各字段的说明。", errors=errors)

    days = window_days(window_start, window_end)
    county_ids, category_ids = [c.id for c in county_rows], [c.id for c in category_rows]
    venues = snapshot_venues(county_ids, category_ids)
    exclusions = policy.settings["exclusions"]
    inspectors = snapshot_inspectors(days, exclusions["repeat_visit_days"], county_ids, category_ids)
    rate_basis_points = None
    if rate is not None:
        rate_basis_points = int(Decimal(str(rate)) * 100)
        # ceil(n × rate), at least one venue, in integers.
        sample_size = max(1, math.ceil(len(venues) * rate_basis_points / 10000)) if venues else 1
    parameters = build_parameters(
        counties=county_rows, categories=category_rows, days=days, window_start=window_start,
        window_end=window_end, sample_size=sample_size, rate_basis_points=rate_basis_points, team_size=team_size,
        may_propose_penalties=may_propose_penalties, meeting_point=meeting_point, policy=policy)
    return _commit_draw(actor, policy=policy, parameters=parameters, venues=venues, inspectors=inspectors,
                        window_start=window_start, window_end=window_end, meeting_point=meeting_point,
                        may_propose_penalties=may_propose_penalties, channel=channel)


def create_reinspection_draw(venue: Venue, actor: User, *, window_start: datetime, window_end: datetime,
                             team_size: int, may_propose_penalties: bool = True, meeting_point: str | None = None,
                             channel: str = "api", details: dict | None = None) -> Draw:
    """A re-inspection (复查) draw: one assignment to exactly `venue`, its team chosen by the same
    algorithm and 回避 rules as any draw, committed and anchored the same way (verifiable).

    The venue snapshot holds `venue` alone and the parameters say `purpose: reinspection` and
    `scope.venues: [id]` (both under the parameters digest); the inspector snapshot keeps only
    visits to this venue. Raises Invalid or DrawInfeasible (409) before anything is written.
    """
    authorize(actor, "manage", Draw)
    window_start, window_end = _aware(window_start), _aware(window_end)
    policy = _policy()
    errors: dict[str, list[str]] = {}
    _check_request(window_start, window_end, 1, None, team_size, policy, errors)
    if errors:
        raise Invalid("复查安排有误，请查看 errors 中各字段的说明。", errors=errors)
    category = db.session.scalar(sa.select(VenueCategory).where(VenueCategory.id == venue.category_id)
                                 .options(selectinload(VenueCategory.rules), selectinload(VenueCategory.departments)))
    county = db.session.get(County, venue.county_id)
    days = window_days(window_start, window_end)
    venues = [candidate for candidate in snapshot_venues([county.id], [category.id]) if candidate.id == venue.id]
    exclusions = policy.settings["exclusions"]
    inspectors = [dataclasses.replace(candidate, visits=tuple(v for v in candidate.visits if v[0] == venue.id))
                  for candidate in snapshot_inspectors(days, exclusions["repeat_visit_days"], [county.id],
                                                       [category.id])]
    parameters = build_parameters(
        counties=[county], categories=[category], days=days, window_start=window_start, window_end=window_end,
        sample_size=1, rate_basis_points=None, team_size=team_size, may_propose_penalties=may_propose_penalties,
        meeting_point=meeting_point, policy=policy)
    parameters["purpose"] = "reinspection"
    parameters["scope"]["venues"] = [venue.id]
    return _commit_draw(actor, policy=policy, parameters=parameters, venues=venues, inspectors=inspectors,
                        window_start=window_start, window_end=window_end, meeting_point=meeting_point,
                        may_propose_penalties=may_propose_penalties, channel=channel, purpose="reinspection",
                        details=details)


def _commit_draw(actor: User, *, policy: DrawPolicy, parameters: dict, venues: list[VenueCandidate],
                 inspectors: list[InspectorCandidate], window_start: datetime, window_end: datetime,
                 meeting_point: str | None, may_propose_penalties: bool, channel: str, purpose: str = "sample",
                 details: dict | None = None) -> Draw:
    """Seed, select, store the draw with its snapshots and digests, create the sealed
    assignments, anchor in the audit log. DrawInfeasible before anything is written."""
    seed = os.urandom(SEED_BYTES)
    selection = select(seed, venues, inspectors, parameters)
    if not selection.ok:
        raise _infeasible_problem(selection, parameters)

    venues_json = canonical_json(venues_document(venues))
    inspectors_json = canonical_json(inspectors_document(inspectors))
    draw = Draw(
        created_by_id=actor.id, status="committed", purpose=purpose, parameters=parameters,
        window_start=window_start, window_end=window_end,
        commitment=commitment_of(seed), sealed_seed=wrap_secret(seed, SEED_PURPOSE),
        parameters_digest=digest(parameters), venues_digest=hashlib.sha256(venues_json).hexdigest(),
        inspectors_digest=hashlib.sha256(inspectors_json).hexdigest(),
        result_digest=result_digest(seed, selection),
        venues_snapshot=zlib.compress(venues_json, SNAPSHOT_COMPRESSION),
        inspectors_snapshot=zlib.compress(inspectors_json, SNAPSHOT_COMPRESSION))
    db.session.add(draw)
    db.session.flush()

    rows = []
    for pick in selection.assignments:
        visit_date = date.fromisoformat(pick.visit_date)
        start, end = _day_window(visit_date, window_start, window_end)
        rows.append({"draw_id": draw.id, "position": pick.position, "venue_id": pick.venue_id,
                     "visit_date": visit_date, "window_start": start, "window_end": end,
                     "meeting_point": meeting_point, "may_propose_penalties": may_propose_penalties})
    # In bulk (a city-wide draw is a thousand assignments): `draw.assignments` loads them on use.
    create_sealed_many(rows, [pick.members for pick in selection.assignments], actor)

    # Last, as record_event asks: it holds the audit chain's head until the transaction ends.
    record_event("draw.created", actor=actor, channel=channel, object_type="draw", object_id=draw.id,
                 details=_anchor(draw) | {
                     "uuid": draw.uuid, "algorithm": ALGORITHM, "policy_version": policy.version,
                     "venues": len(venues), "inspectors": len(inspectors),
                     "assignments": len(selection.assignments), "skipped": len(selection.skipped),
                     **({"purpose": purpose} if purpose != "sample" else {}), **(details or {})})
    db.session.flush()
    return draw


def _anchor(draw: Draw) -> dict:
    """What the draw.created event anchors (and verification compares)."""
    return {"commitment": draw.commitment, "parameters_digest": draw.parameters_digest,
            "venues_digest": draw.venues_digest, "inspectors_digest": draw.inspectors_digest,
            "result_digest": draw.result_digest}


def _infeasible_problem(selection: Selection, parameters: dict) -> DrawInfeasible:
    report = selection.infeasible
    constraint = report.constraint
    label = CONSTRAINT_LABELS[constraint]
    exclusions = parameters["exclusions"]
    if constraint == REPEAT_VISIT:
        label += f"（{exclusions['repeat_visit_days']} 天）"
    elif constraint == MAX_PER_DAY:
        label += f"（每天 {exclusions['max_assignments_per_inspector_per_day']} 项）"
    if constraint == VENUES_IN_SCOPE:
        detail = (f"抽查无法完成：范围内只有 {report.venues_in_scope} 个候选场所，"
                  f"少于要求抽取的 {report.requested} 个。")
        remaining = [{"constraint": VENUES_IN_SCOPE, "label": "范围内候选场所", "count": report.venues_in_scope}]
    elif constraint == MAX_PER_DAY and not selection.assignments and not selection.skipped:
        slots = dict(report.funnel)[MAX_PER_DAY]
        days = len(parameters["window"]["days"])
        detail = (f"抽查无法完成，受限于“{label}”：{report.inspectors} 名督查人员在 {days} 天窗口内共有 "
                  f"{slots} 个任务名额，抽取 {report.requested} 个场所、每组 {report.team_size} 人需要 "
                  f"{report.requested * report.team_size} 个。")
        remaining = [{"constraint": INSPECTORS, "label": STEP_LABELS[INSPECTORS], "count": report.inspectors},
                     {"constraint": MAX_PER_DAY, "label": "窗口内可用任务名额", "count": slots}]
    else:
        remaining = [{"constraint": step, "label": STEP_LABELS[step], "count": count}
                     for step, count in report.funnel]
        funnel_text = "，".join(f"{STEP_LABELS[step]}{'' if step in (INSPECTORS, CERTIFIED_MEMBER) else '余'} {count} 人"
                                for step, count in report.funnel)
        need = "至少 1 名持执法证" if constraint == CERTIFIED_MEMBER else f"每组 {report.team_size} 人"
        detail = (f"抽查无法完成，受限于“{label}”：要求抽取 {report.requested} 个场所，"
                  f"只能为 {report.staffed} 个组成督查组（候选场所 {report.venues_in_scope} 个，"
                  f"{sum(report.skipped.values())} 个因回避或人员不足跳过）。"
                  f"首个因此跳过的场所：{funnel_text}；{need}。")
    return DrawInfeasible(detail, title="抽查范围不可行", constraint=constraint, constraint_label=label,
                          requested=report.requested, staffed=report.staffed,
                          venues_in_scope=report.venues_in_scope, inspectors=report.inspectors,
                          skipped=report.skipped, remaining=remaining)


# --- closing ---------------------------------------------------------------------------------


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


# --- verification ----------------------------------------------------------------------------

NOT_REVEALED = "not_revealed"
MATCH = "match"
MISMATCH = "mismatch"

DIGEST_LABELS = {
    "commitment": "承诺值",
    "parameters_digest": "参数摘要",
    "venues_digest": "场所候选快照摘要",
    "inspectors_digest": "督查人员候选快照摘要",
    "result_digest": "结果摘要",
}


@dataclass
class VerificationReport:
    draw_id: int
    state: str  # match | mismatch | not_revealed
    message: str
    reasons: list[str] = field(default_factory=list)
    commitment: str | None = None
    revealed_seed: str | None = None
    digests: dict = field(default_factory=dict)
    assignments_checked: int = 0
    skipped: int = 0

    @property
    def ok(self) -> bool:
        return self.state == MATCH


def created_event(draw: Draw) -> AuditEvent | None:
    return db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "draw.created", AuditEvent.object_type == "draw",
        AuditEvent.object_id == str(draw.id)).order_by(AuditEvent.seq).limit(1))


def _snapshot(blob: bytes, name: str, stored_digest: str, reasons: list[str]) -> list | None:
    try:
        raw = zlib.decompress(blob)
    except (zlib.error, TypeError):
        reasons.append(f"{name}无法解压（数据被改动）。")
        return None
    if hashlib.sha256(raw).hexdigest() != stored_digest:
        reasons.append(f"{name}与存储的摘要不符（候选名单被改动）。")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        reasons.append(f"{name}不是有效的 JSON。")
        return None


def _stored_result(draw: Draw) -> list[tuple]:
    """(position, venue id, ISO visit date, member ids by position) of the draw's assignments."""
    teams: dict[int, list[int]] = {}
    for assignment_id, user_id in db.session.execute(
            sa.select(AssignmentMember.assignment_id, AssignmentMember.user_id)
            .join(Assignment, AssignmentMember.assignment_id == Assignment.id)
            .where(Assignment.draw_id == draw.id).order_by(AssignmentMember.assignment_id, AssignmentMember.position)):
        teams.setdefault(assignment_id, []).append(user_id)
    rows = db.session.execute(sa.select(Assignment.id, Assignment.position, Assignment.venue_id, Assignment.visit_date)
                              .where(Assignment.draw_id == draw.id).order_by(Assignment.position))
    return [(position, venue_id, visit_date.isoformat(), tuple(teams.get(assignment_id, ())))
            for assignment_id, position, venue_id, visit_date in rows]


def _compare(stored: list[tuple], selection: Selection, reasons: list[str]) -> None:
    expected = [(p.position, p.venue_id, p.visit_date, p.members) for p in selection.assignments]
    if len(stored) != len(expected):
        reasons.append(f"存储的任务有 {len(stored)} 项，重算结果为 {len(expected)} 项。")
    by_position = {row[0]: row for row in stored}
    for position, venue_id, visit_date, members in expected:
        row = by_position.get(position)
        if row is None:
            reasons.append(f"缺少第 {position} 项任务。")
            continue
        if row[1] != venue_id:
            reasons.append(f"第 {position} 项任务的场所与重算结果不符。")
        if row[2] != visit_date:
            reasons.append(f"第 {position} 项任务的督查日期为 {row[2]}，重算结果为 {visit_date}。")
        if row[3] != members:
            reasons.append(f"第 {position} 项任务的督查组成员与重算结果不符。")
    extra = sorted(set(by_position) - {p.position for p in selection.assignments})
    for position in extra:
        reasons.append(f"第 {position} 项任务不在重算结果中。")


def verify_draw(draw: Draw) -> VerificationReport:
    """Re-run the selection from the revealed seed and the stored snapshots; report any difference."""
    report = VerificationReport(draw_id=draw.id, state=NOT_REVEALED, message="", commitment=draw.commitment,
                                revealed_seed=draw.revealed_seed, digests=_anchor(draw))
    if not draw.revealed_seed:
        report.message = "抽查尚未关闭，种子尚未公开，暂不能核验；关闭抽查（窗口结束后）即可核验。"
        return report
    reasons = report.reasons
    try:
        seed = bytes.fromhex(draw.revealed_seed)
    except ValueError:
        seed = None
        reasons.append("公开的种子不是有效的十六进制串。")
    if seed is not None and commitment_of(seed) != draw.commitment:
        reasons.append("公开的种子与承诺值不符：sha256(种子) ≠ 承诺值。")

    if digest(draw.parameters) != draw.parameters_digest:
        reasons.append("抽查参数与存储的参数摘要不符（参数被改动）。")
    window = (draw.parameters or {}).get("window", {}) if isinstance(draw.parameters, dict) else {}
    if (window.get("start"), window.get("end")) != (canonical_timestamp(draw.window_start),
                                                    canonical_timestamp(draw.window_end)):
        reasons.append("抽查窗口与参数中的窗口不符。")
    venues = _snapshot(draw.venues_snapshot, "场所候选快照", draw.venues_digest, reasons)
    inspectors = _snapshot(draw.inspectors_snapshot, "督查人员候选快照", draw.inspectors_digest, reasons)

    event = created_event(draw)
    if event is None:
        reasons.append("审计日志中没有该抽查的创建记录（draw.created），无法确认摘要在派发前已锚定。")
    else:
        if event_hash(event) != event.hash:
            reasons.append(f"审计日志中该抽查的创建记录（seq {event.seq}）已被改动。")
        for name, value in _anchor(draw).items():
            if event.details.get(name) != value:
                reasons.append(f"存储的{DIGEST_LABELS[name]}与审计日志中锚定的不符。")

    if seed is not None and venues is not None and inspectors is not None:
        try:
            selection = select(seed, venues_from_json(venues), inspectors_from_json(inspectors), draw.parameters)
        except (SelectionInputError, KeyError, TypeError, ValueError, AttributeError) as exc:
            reasons.append(f"无法按存储的快照和参数重算：{exc!r}。")
        else:
            if not selection.ok:
                reasons.append("按存储的快照和参数重算，结果不可行，与存储的抽查矛盾。")
            if result_digest(seed, selection) != draw.result_digest:
                reasons.append("重算结果的摘要与存储的结果摘要不符。")
            _compare(_stored_result(draw), selection, reasons)
            report.assignments_checked = len(selection.assignments)
            report.skipped = len(selection.skipped)

    if reasons:
        report.state = MISMATCH
        report.message = f"核验未通过：发现 {len(reasons)} 处不一致。"
    else:
        report.state = MATCH
        report.message = (f"核验通过：种子与承诺值相符，参数与候选快照与审计日志中锚定的摘要一致，"
                          f"按公开算法重算的 {report.assignments_checked} 项任务与存储的结果完全一致。")
    return report


# --- reading ---------------------------------------------------------------------------------


def draws_for(user: User) -> list[Draw]:
    authorize(user, "read", Draw)
    return list(db.session.scalars(sa.select(Draw).options(selectinload(Draw.assignments))
                                   .order_by(Draw.id.desc())))


def draw_counts(draw: Draw) -> dict:
    """Candidate and skip counts as anchored at creation (the draw row keeps only digests)."""
    event = created_event(draw)
    details = event.details if event is not None else {}
    return {name: details.get(name) for name in ("venues", "inspectors", "skipped")} | {
        "assignments": len(draw.assignments)}


STATUS_LABELS = {"committed": "已承诺（种子保密）", "closed": "已关闭（种子已公开）"}


def _person(user: User | None) -> dict | None:
    if user is None:
        return None
    return {"id": user.id, "username": user.username, "display_name": user.display_name}


def draw_summary(draw: Draw, *, with_assignments: bool = True) -> dict:
    """What a reader of a draw sees: scope, commitment, digests, and the assignments by position,
    day and team — never a target. Fields are listed one by one so that a column added later
    cannot leak one by accident."""
    parameters = draw.parameters or {}
    scope = parameters.get("scope", {})
    names = {
        "counties": dict(db.session.execute(sa.select(County.code, County.name)
                                            .where(County.code.in_(scope.get("counties", [])))).all()),
        "categories": dict(db.session.execute(sa.select(VenueCategory.code, VenueCategory.name)
                                              .where(VenueCategory.code.in_(scope.get("categories", [])))).all()),
    }
    closed_by = db.session.get(User, draw.closed_by_id) if draw.closed_by_id else None
    data = {
        "id": draw.id,
        "uuid": draw.uuid,
        "status": draw.status,
        "status_label": STATUS_LABELS.get(draw.status, draw.status),
        "purpose": draw.purpose,
        "created_at": as_utc(draw.created_at),
        "created_by": _person(draw.created_by),
        "window_start": as_utc(draw.window_start),
        "window_end": as_utc(draw.window_end),
        "counties": [{"code": code, "name": names["counties"].get(code, code)} for code in scope.get("counties", [])],
        "categories": [{"code": code, "name": names["categories"].get(code, code)}
                       for code in scope.get("categories", [])],
        "sample_size": parameters.get("sample", {}).get("size"),
        "team_size": parameters.get("team", {}).get("size"),
        "may_propose_penalties": parameters.get("team", {}).get("may_propose_penalties"),
        "policy_version": parameters.get("policy", {}).get("version"),
        "algorithm": parameters.get("algorithm"),
        "commitment": draw.commitment,
        "revealed_seed": draw.revealed_seed,
        "parameters_digest": draw.parameters_digest,
        "venues_digest": draw.venues_digest,
        "inspectors_digest": draw.inspectors_digest,
        "result_digest": draw.result_digest,
        "closed_at": as_utc(draw.closed_at),
        "closed_by": _person(closed_by),
        "counts": draw_counts(draw),
    }
    if with_assignments:
        # One query per level rather than one per assignment and per member.
        assignments = db.session.scalars(
            sa.select(Assignment).where(Assignment.draw_id == draw.id)
            .options(selectinload(Assignment.members).selectinload(AssignmentMember.user))
            .order_by(Assignment.position)).all()
        data["parameters"] = parameters
        data["assignments"] = [{
            "id": a.id,
            "uuid": a.uuid,
            "position": a.position,
            "status": a.status,
            "status_label": ASSIGNMENT_STATUS_LABELS.get(a.status, a.status),
            "visit_date": a.visit_date,
            "window_start": as_utc(a.window_start),
            "window_end": as_utc(a.window_end),
            "meeting_point": a.meeting_point,
            "may_propose_penalties": a.may_propose_penalties,
            "members": [{"user_id": m.user_id, "username": m.user.username, "display_name": m.user.display_name,
                         "position": m.position, "is_leader": m.is_leader} for m in a.members],
        } for a in assignments]
    return data


# --- the list page ---------------------------------------------------------------------------

# Sort keys the draw list accepts (a leading "-" sorts descending); anything else is refused.
LIST_SORT_COLUMNS = {"id": (Draw.id, "编号"), "window_start": (Draw.window_start, "窗口开始"),
                     "window_end": (Draw.window_end, "窗口结束")}
LIST_DEFAULT_SORT = "-id"
PURPOSE_LABELS = {"sample": "随机抽查", "reinspection": "整改复查"}


def list_draws(user: User, *, status: str | None = None, purpose: str | None = None, sort: str | None = None,
               page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The draws `user` may read, filtered by status and purpose, sorted by a whitelisted column."""
    authorize(user, "read", Draw)
    errors = {}
    if status is not None and status not in STATUS_LABELS:
        errors["status"] = [f"未知的抽查状态：{status[:40]}。"]
    if purpose is not None and purpose not in PURPOSE_LABELS:
        errors["purpose"] = [f"未知的抽查类型：{purpose[:40]}。"]
    key, descending = signed_sort(sort, LIST_SORT_COLUMNS, LIST_DEFAULT_SORT, errors)
    if page < 1:
        errors["page"] = ["页码须为正整数。"]
    if errors:
        raise Invalid("筛选条件不正确。", errors=errors)
    query = sa.select(Draw)
    if status is not None:
        query = query.where(Draw.status == status)
    if purpose is not None:
        query = query.where(Draw.purpose == purpose)
    column = LIST_SORT_COLUMNS[key][0]
    order = (column.desc(), Draw.id.desc()) if descending else (column.asc(), Draw.id.asc())
    return paginate(query.options(selectinload(Draw.assignments)).order_by(*order), page, per_page)
