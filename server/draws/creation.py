"""Creating a draw (抽查): snapshot the candidates, commit to a seed, select, store, anchor.

Creating a draw snapshots the candidates as they are now (`server.draws.candidates`), commits
to a fresh random seed by storing `sha256(seed)`, runs the pure selection (`selection.select`),
and stores the parameters, the snapshots and their digests next to the assignments it creates.
One `draw.created` audit event anchors the commitment and the digests in the hash-chained log
before anything is dispatched. Closing reveals the seed and verification re-runs the selection
from the stored snapshots (`server.draws.verification`, docs/draw-algorithm.md). A re-inspection
(复查) draw is created the same way for one venue.

An infeasible scope raises `DrawInfeasible` (409) naming the constraint and the counts, before
anything is written. Services flush and never commit.

The access policy for `Draw` is registered here: every module that reads or acts on draws
imports this one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import zlib
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..access import authorize, grant, register_policy
from ..accounts.models.user import User
from ..audit.chain import record_event
from ..audit.models.audit import AuditEvent
from ..columns import CHINA_STANDARD_TIME, as_utc, utcnow
from ..errors import Conflict, Invalid
from ..extensions import db
from ..registry.models.reference import County, DrawPolicy, VenueCategory
from ..registry.models.venue import Venue
from .assignments import create_sealed_many
from .candidates import build_parameters, snapshot_inspectors, snapshot_venues, window_days
from .models.draw import Draw
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
    VenueCandidate,
    canonical_json,
    commitment_of,
    digest,
    inspectors_document,
    select,
    venues_document,
)
from .server_keys import wrap_secret

SEED_PURPOSE = "draw-seed"
SEED_BYTES = 32
POLICY_CODE = "default"
# Window days are calendar days in China Standard Time (UTC+8 all year, no daylight saving).
MAX_WINDOW_DAYS = 31
# zlib's default level: level 9 takes five times as long on a city-wide snapshot (~9 MB of JSON)
# for a blob only a tenth smaller. The digests cover the uncompressed bytes, so the level is free.
SNAPSHOT_COMPRESSION = 6

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


def _check_request(window_start, window_end, sample_size, rate, team_size, policy, errors: dict,
                   past_allowed: bool = False) -> None:
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
    elif window_end <= utcnow() and not past_allowed:
        errors["window_end"] = ["结束时间已过，抽查窗口应在将来。"]
    elif len(window_days(window_start, window_end)) > MAX_WINDOW_DAYS:
        errors["window_end"] = [f"抽查窗口最长 {MAX_WINDOW_DAYS} 天。"]


def _policy() -> DrawPolicy:
    policy = db.session.scalar(sa.select(DrawPolicy).where(DrawPolicy.code == POLICY_CODE))
    if policy is None:
        raise Conflict("抽查策略尚未加载：请先运行 anfang reference load。")
    return policy


def _violations_since(policy: DrawPolicy) -> datetime:
    return utcnow() - timedelta(days=policy.settings["weights"]["past_violations_days"])


def _day_window(day: date, window_start: datetime, window_end: datetime) -> tuple[datetime, datetime]:
    """An assignment's own window: its visit day (UTC+8), inside the draw's window."""
    start = datetime.combine(day, time(0), CHINA_STANDARD_TIME).astimezone(timezone.utc)
    return max(start, window_start), min(start + timedelta(days=1), window_end)


def create_draw(actor: User, *, counties, categories, window_start: datetime, window_end: datetime,
                sample_size: int | None = None, rate: Decimal | str | None = None, team_size: int = 2,
                may_propose_penalties: bool = True, meeting_point: str | None = None,
                channel: str = "api", demo_seed: bytes | None = None) -> Draw:
    """Draw venues and teams for the scope; create sealed assignments; flush, never commit.

    Raises Invalid (422, field errors) for a bad request and DrawInfeasible (409) when the scope
    cannot be staffed; in both cases nothing has been written.

    `demo_seed` is for the demo's generated past only (`server.demo.week`), never the API or
    the CLI: the seed is given (the same days give the same draws) and the window may be over.
    Everything else is the real path, so such a draw verifies like any other.
    """
    authorize(actor, "manage", Draw)
    window_start, window_end = _aware(window_start), _aware(window_end)
    errors: dict[str, list[str]] = {}
    county_rows = _resolve(County, counties, "counties", "县（市、区）", errors)
    # build_parameters reads every category's rules and departments: loaded here in two queries.
    category_rows = _resolve(VenueCategory, categories, "categories", "场所类别", errors,
                             (selectinload(VenueCategory.rules), selectinload(VenueCategory.departments)))
    policy = _policy()
    _check_request(window_start, window_end, sample_size, rate, team_size, policy, errors,
                   past_allowed=demo_seed is not None)
    if errors:
        raise Invalid("抽查条件有误，请查看 errors 中各字段的说明。", errors=errors)

    days = window_days(window_start, window_end)
    county_ids, category_ids = [c.id for c in county_rows], [c.id for c in category_rows]
    venues = snapshot_venues(county_ids, category_ids, _violations_since(policy))
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
                        window_start=window_start, window_end=window_end, channel=channel, seed=demo_seed)


def create_reinspection_draw(venue: Venue, actor: User, *, window_start: datetime, window_end: datetime,
                             team_size: int, may_propose_penalties: bool = True, meeting_point: str | None = None,
                             channel: str = "api", details: dict | None = None,
                             demo_seed: bytes | None = None) -> Draw:
    """A re-inspection (复查) draw: one assignment to exactly `venue`, its team chosen by the same
    algorithm and 回避 rules as any draw, committed and anchored the same way (verifiable).

    The venue snapshot holds `venue` alone and the parameters say `purpose: reinspection` and
    `scope.venues: [id]` (both under the parameters digest); the inspector snapshot keeps only
    visits to this venue. Raises Invalid or DrawInfeasible (409) before anything is written.
    `demo_seed` as for `create_draw`: the demo's generated past only.
    """
    authorize(actor, "manage", Draw)
    window_start, window_end = _aware(window_start), _aware(window_end)
    policy = _policy()
    errors: dict[str, list[str]] = {}
    _check_request(window_start, window_end, 1, None, team_size, policy, errors, past_allowed=demo_seed is not None)
    if errors:
        raise Invalid("复查安排有误，请查看 errors 中各字段的说明。", errors=errors)
    category = db.session.scalar(sa.select(VenueCategory).where(VenueCategory.id == venue.category_id)
                                 .options(selectinload(VenueCategory.rules), selectinload(VenueCategory.departments)))
    county = db.session.get(County, venue.county_id)
    days = window_days(window_start, window_end)
    venues = [candidate for candidate in snapshot_venues([county.id], [category.id], _violations_since(policy))
              if candidate.id == venue.id]
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
                        window_start=window_start, window_end=window_end, channel=channel, purpose="reinspection",
                        details=details, seed=demo_seed)


def _commit_draw(actor: User, *, policy: DrawPolicy, parameters: dict, venues: list[VenueCandidate],
                 inspectors: list[InspectorCandidate], window_start: datetime, window_end: datetime,
                 channel: str, purpose: str = "sample",
                 details: dict | None = None, seed: bytes | None = None) -> Draw:
    """Commit to the office's seed, store the draw with its snapshots and digests, anchor them
    in the audit log. The assignments wait for the contribution (`server.draws.seeding`).

    DrawInfeasible before anything is written when the scope cannot be staffed."""
    office_seed = seed if seed is not None else os.urandom(SEED_BYTES)
    # A trial run on a seed no one keeps: a scope that cannot be staffed is refused now, before
    # anything is written. Whether the real seed staffs it too is only known once the
    # contribution is in (seeding.contribute cancels the draw, visibly, if it does not).
    trial = select(os.urandom(SEED_BYTES), venues, inspectors, parameters)
    if not trial.ok:
        raise _infeasible_problem(trial, parameters)

    venues_json = canonical_json(venues_document(venues))
    inspectors_json = canonical_json(inspectors_document(inspectors))
    draw = Draw(
        created_by_id=actor.id, status="awaiting", purpose=purpose, parameters=parameters,
        window_start=window_start, window_end=window_end,
        commitment=commitment_of(office_seed), sealed_seed=wrap_secret(office_seed, SEED_PURPOSE),
        parameters_digest=digest(parameters), venues_digest=hashlib.sha256(venues_json).hexdigest(),
        inspectors_digest=hashlib.sha256(inspectors_json).hexdigest(), result_digest=None,
        venues_snapshot=zlib.compress(venues_json, SNAPSHOT_COMPRESSION),
        inspectors_snapshot=zlib.compress(inspectors_json, SNAPSHOT_COMPRESSION))
    db.session.add(draw)
    db.session.flush()
    from .cancellation import link_to_cancelled  # it imports this module, so imported at use
    details = (details or {}) | link_to_cancelled(draw)

    # Last, as record_event asks: it holds the audit chain's head until the transaction ends.
    record_event("draw.created", actor=actor, channel=channel, object_type="draw", object_id=draw.id,
                 details=anchor(draw) | {
                     "uuid": draw.uuid, "algorithm": ALGORITHM, "policy_version": policy.version,
                     "venues": len(venues), "inspectors": len(inspectors),
                     "contribution": parameters["seed"]["contribution"],
                     **({"purpose": purpose} if purpose != "sample" else {}), **(details or {})})
    db.session.flush()
    return draw


def form_assignments(draw: Draw, selection: Selection, actor: User) -> None:
    """Create the sealed assignments of a selection: one per pick, its team in rank order."""
    rows = []
    meeting_point = draw.parameters.get("meeting_point")
    may_propose_penalties = draw.parameters["team"]["may_propose_penalties"]
    for pick in selection.assignments:
        visit_date = date.fromisoformat(pick.visit_date)
        start, end = _day_window(visit_date, as_utc(draw.window_start), as_utc(draw.window_end))
        rows.append({"draw_id": draw.id, "position": pick.position, "venue_id": pick.venue_id,
                     "visit_date": visit_date, "window_start": start, "window_end": end,
                     "meeting_point": meeting_point, "may_propose_penalties": may_propose_penalties})
    # In bulk (a city-wide draw is a thousand assignments): `draw.assignments` loads them on use.
    create_sealed_many(rows, [pick.members for pick in selection.assignments], actor)


def anchor(draw: Draw) -> dict:
    """What the draw.created event anchors (and verification compares): the commitment and the
    digests of what the selection will run on. The result digest is anchored by draw.seeded."""
    return {"commitment": draw.commitment, "parameters_digest": draw.parameters_digest,
            "venues_digest": draw.venues_digest, "inspectors_digest": draw.inspectors_digest}


def created_event(draw: Draw) -> AuditEvent | None:
    """The draw's `draw.created` audit event: the anchored digests and the candidate counts."""
    return db.session.scalar(sa.select(AuditEvent).where(
        AuditEvent.action == "draw.created", AuditEvent.object_type == "draw",
        AuditEvent.object_id == str(draw.id)).order_by(AuditEvent.seq).limit(1))


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
