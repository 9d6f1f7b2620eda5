"""Accountability (倒查责任, 五(四)): trace a period's failures along the four-party responsibility
(四方责任, 五(一)) and suggest measures from the thresholds in server/reference/accountability_thresholds.yaml.

Failures: live violations (counted by server/oversight/statistics.py, the same facts and the same
Beijing days as the statistics page), venues with repeated violations, venues found operating
while they must be closed, and enforcement cases overdue at the end of the period. Each is traced
to the four parties: 属地 — its county's government, first responsible party (四.18), with the
leader server/reference/responsibility.yaml names; 部门 — the departments 四 names for its category
(categories.yaml, none where 四 names none), each with its responsible leader from the roster (二);
单位 — the venue; 个人 — the venue's responsible person.

问责 is for party and government bodies and officials: 属地 and 部门 (and their leaders) can get
问责, 约谈 or 通报; a venue and a private person get 处罚 (五(三)), 约谈, 通报 or 曝光 (五(五)),
never 问责 (PARTY_MEASURES, enforced on the thresholds file and again when suggesting).

Cases: draft → reviewed (the office) → issued (the report PDF numbered through
documents.issue_document); each transition audited; a transition out of order is a Conflict.
Four eyes: whoever drafted a case may neither review nor issue it (403, `NotYourOwn`). The
reviewer may issue: review is the second pair of eyes on the drafter's findings, and issuing is
the reviewer acting on the findings they approved — a third person would add no check on the
drafter but leave a two-person office unable to issue at all.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa
import yaml
from flask import current_app
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from ..access import authorize, get_or_404, grant, register_policy
from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import china_today, utcnow
from ..enforcement.cases import overdue_condition
from ..enforcement.document_catalogue import document_kind
from ..enforcement.documents import issue_document, preview_document
from ..enforcement.models.case import EnforcementCase
from ..errors import Conflict, Forbidden, Invalid, Problem
from ..extensions import db
from ..pagination import Page, paginate
from ..registry.models.reference import County, Department, Duty, RosterMember
from ..registry.models.venue import Venue
from . import statistics
from .models.accountability import AccountabilityCase

THRESHOLDS_FILE = "accountability_thresholds.yaml"
RESPONSIBILITY_FILE = "responsibility.yaml"
PARTIES = ("county", "department", "unit", "person")
FAILURES = ("violations", "repeated", "overdue", "operating_while_closed")
# Least to most severe: suggestions are listed most severe first.
MEASURES = ("criticism", "interview", "exposure", "penalty", "accountability")
MEASURE_LABELS = {"criticism": "通报", "interview": "约谈", "exposure": "曝光", "penalty": "依法处罚",
                  "accountability": "问责"}
# What each party can get: 问责 only for the bodies and officials of 属地 and 部门.
PARTY_MEASURES = {"county": ("accountability", "interview", "criticism"),
                  "department": ("accountability", "interview", "criticism"),
                  "unit": ("penalty", "interview", "criticism", "exposure"),
                  "person": ("penalty", "interview", "criticism", "exposure")}
FAILURE_LABELS = {"violations": "违规问题", "repeated": "重复违规", "overdue": "逾期未整改（未履行）",
                  "operating_while_closed": "应关停仍营业"}
PARTY_LABELS = {"county": "属地", "department": "部门", "unit": "单位", "person": "个人"}
LOCALITY_DUTY = 18
NO_LEADER = "（名单中无责任领导）"
STATE_LABELS = {"draft": "草稿", "reviewed": "已审核", "issued": "已印发"}
REPORT_KIND = "accountability_report"

register_policy(AccountabilityCase, "倒查问责报告")
grant(AccountabilityCase, "read", ("office", "admin", "auditor"))
grant(AccountabilityCase, "manage", ("office", "admin"))


# --- thresholds ------------------------------------------------------------------------------


class ThresholdsInvalid(Problem):
    status = 500
    slug = "accountability-thresholds-invalid"
    default_title = "问责阈值参考数据有误"


class ThresholdSchema(Schema):
    class Meta:
        unknown = RAISE

    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    party = fields.String(required=True, validate=validate.OneOf(PARTIES))
    failure = fields.String(required=True, validate=validate.OneOf(FAILURES))
    min_count = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100000))
    measure = fields.String(required=True, validate=validate.OneOf(MEASURES))
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(load_default=None, allow_none=True)

    @validates_schema
    def _period(self, data, **_kwargs):
        if data.get("valid_to") and data["valid_to"] < data["valid_from"]:
            raise ValidationError("结束日期早于开始日期。", "valid_to")

    @validates_schema
    def _measure_fits_party(self, data, **_kwargs):
        party, measure = data.get("party"), data.get("measure")
        if party in PARTY_MEASURES and measure in MEASURES and measure not in PARTY_MEASURES[party]:
            allowed = "、".join(MEASURE_LABELS[m] for m in PARTY_MEASURES[party])
            raise ValidationError(f"{PARTY_LABELS[party]}只能采取{allowed}，不能{MEASURE_LABELS[measure]}。", "measure")


class ThresholdsFileSchema(Schema):
    class Meta:
        unknown = RAISE

    version = fields.String(required=True)
    operating_while_closed_checks = fields.List(fields.String(validate=validate.Length(min=1, max=64)),
                                                required=True)
    thresholds = fields.List(fields.Nested(ThresholdSchema), required=True, validate=validate.Length(min=1))

    @validates_schema
    def _unique_codes(self, data, **_kwargs):
        codes = [t["code"] for t in data.get("thresholds", [])]
        if len(set(codes)) != len(codes):
            raise ValidationError("阈值代码重复。", "thresholds")


@dataclass(frozen=True)
class Threshold:
    code: str
    party: str
    failure: str
    min_count: int
    measure: str
    valid_from: date
    valid_to: date | None

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


@dataclass(frozen=True)
class ThresholdSet:
    version: str
    closed_checks: frozenset[str]
    thresholds: tuple[Threshold, ...]

    def in_force(self, on: date) -> list[Threshold]:
        return [t for t in self.thresholds if t.in_force(on)]


_cache: dict[tuple, ThresholdSet] = {}


def _validated_file(name: str, label: str, schema, error, cache: dict, build, directory):
    """A reference file of `directory` (default: the app's REFERENCE_DIR) loaded with `schema` and
    turned into its value by `build`, cached per modification time; `error` (a clear 500) when it
    is missing, unreadable or invalid."""
    path = Path(directory or current_app.config["REFERENCE_DIR"]) / name
    try:
        key = (str(path), path.stat().st_mtime_ns)
    except OSError:
        raise error(f"{label} {path.name} 不存在。") from None
    if key in cache:
        return cache[key]
    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
        data = schema().load(raw if isinstance(raw, dict) else {})
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise error(f"{label} {path.name} 无法读取：{exc}") from None
    except ValidationError as exc:
        raise error(f"{label} {path.name} 校验未通过：{exc.messages}", errors=exc.messages) from None
    cache[key] = loaded = build(data)
    return loaded


def load_thresholds(directory: str | Path | None = None) -> ThresholdSet:
    """The validated thresholds file (cached per modification time); a bad file is a clear 500."""
    return _validated_file(THRESHOLDS_FILE, "问责阈值文件", ThresholdsFileSchema, ThresholdsInvalid, _cache,
                           lambda data: ThresholdSet(data["version"], frozenset(data["operating_while_closed_checks"]),
                                                     tuple(Threshold(**t) for t in data["thresholds"])), directory)


def suggest(party: str, counts: dict[str, int], thresholds: list[Threshold]) -> list[dict]:
    """The measures whose threshold the party's counts reach, most severe first; only measures the
    party can get (PARTY_MEASURES), whatever a threshold says."""
    matched = [t for t in thresholds if t.party == party and t.measure in PARTY_MEASURES[party]
               and counts.get(t.failure, 0) >= t.min_count]
    matched.sort(key=lambda t: (-MEASURES.index(t.measure), t.code))
    return [{"code": t.code, "measure": t.measure, "measure_label": MEASURE_LABELS[t.measure],
             "reason": f"{FAILURE_LABELS[t.failure]} {counts.get(t.failure, 0)}（阈值 {t.min_count}）"}
            for t in matched]


# --- the source and the 属地 leaders ----------------------------------------------------------


class ResponsibilityInvalid(Problem):
    status = 500
    slug = "responsibility-reference-invalid"
    default_title = "责任参考数据有误"


def _line(max_length: int = 200) -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=max_length))


class ClauseSchema(Schema):
    class Meta:
        unknown = RAISE

    section = _line(40)
    text = _line()


class SourceSchema(Schema):
    class Meta:
        unknown = RAISE

    number = _line(40)
    issuer = _line(60)
    date = fields.Date(required=True)
    kind = _line(10)
    leading_group = _line(60)
    command = _line(60)
    accountability_clause = fields.Nested(ClauseSchema, required=True)
    four_parties_clause = fields.Nested(ClauseSchema, required=True)
    penalty_clause = fields.Nested(ClauseSchema, required=True)
    exposure_clause = fields.Nested(ClauseSchema, required=True)
    locality_clause = fields.Nested(ClauseSchema, required=True)
    copies_to = fields.List(_line(60), required=True)


class LocalityLeaderSchema(Schema):
    class Meta:
        unknown = RAISE

    county = _line(64)
    name = _line(32)
    title = _line(128)


class ResponsibilityFileSchema(Schema):
    class Meta:
        unknown = RAISE

    version = fields.String(required=True)
    source = fields.Nested(SourceSchema, required=True)
    locality_leaders = fields.List(fields.Nested(LocalityLeaderSchema), required=True)

    @validates_schema
    def _one_leader_per_county(self, data, **_kwargs):
        counties = [leader["county"] for leader in data.get("locality_leaders", [])]
        if len(set(counties)) != len(counties):
            raise ValidationError("同一县（市、区）只能有一名属地责任领导。", "locality_leaders")


_responsibility_cache: dict[tuple, dict] = {}


def load_responsibility(directory: str | Path | None = None) -> dict:
    """The validated responsibility file (cached per modification time): `source` as JSON-ready
    values and `leaders` by county code; a bad file is a clear 500."""
    def build(data: dict) -> dict:
        source = {**data["source"], "date": data["source"]["date"].isoformat()}
        return {"version": data["version"], "source": source,
                "leaders": {leader["county"]: leader for leader in data["locality_leaders"]}}

    return _validated_file(RESPONSIBILITY_FILE, "责任参考文件", ResponsibilityFileSchema, ResponsibilityInvalid,
                           _responsibility_cache, build, directory)


# --- tracing ---------------------------------------------------------------------------------


def _leaders() -> dict[int, RosterMember]:
    rows = db.session.scalars(sa.select(RosterMember).where(RosterMember.is_responsible_leader))
    return {row.department_id: row for row in rows}


def _duty_items() -> dict[int, int]:
    """Per department, the item of 四 that gives its duty (seq)."""
    rows = db.session.execute(sa.select(Duty.department_id, Duty.seq).where(Duty.department_id.is_not(None)))
    return {department_id: seq for department_id, seq in rows}


def _overdue_cases(date_from: date, date_to: date, county_id: int | None, user: User | None) -> list[EnforcementCase]:
    query = sa.select(EnforcementCase).where(overdue_condition(date_to), EnforcementCase.act_date >= date_from,
                                             EnforcementCase.act_date <= date_to)
    if county_id is not None:
        query = query.where(EnforcementCase.county_id == county_id)
    if user is not None and user.role == "county":
        query = query.where(EnforcementCase.county_id == (user.county_id or -1))
    cases = list(db.session.scalars(query.order_by(EnforcementCase.id)))
    if user is not None and user.role == "department":
        cases = [c for c in cases if any(d.id == user.department_id for d in c.venue.category.departments)]
    return cases


def _leader_text(name: str, title: str) -> str:
    return f"{name}（{title}）"


def trace(*, date_from: date, date_to: date, county_id: int | None = None, user: User | None) -> dict:
    """The period's failures traced to the four parties — counties (属地, with their leaders),
    departments (部门, with roster leaders), units (单位) and their responsible persons (个人) — the
    statistics of the same period, and the measures the thresholds suggest. JSON-ready."""
    facts = statistics.violation_facts(date_from=date_from, date_to=date_to, county_id=county_id, user=user)
    threshold_set = load_thresholds()
    thresholds = threshold_set.in_force(date_to)
    closed_checks = threshold_set.closed_checks
    responsibility = load_responsibility()
    overdue = _overdue_cases(date_from, date_to, county_id, user)

    by_venue: dict[int, dict[str, int]] = defaultdict(Counter)
    inspections_by_venue: dict[int, set[int]] = defaultdict(set)
    for fact in facts:
        by_venue[fact.venue_id]["violations"] += 1
        inspections_by_venue[fact.venue_id].add(fact.inspection_id)
        if fact.check_code in closed_checks:
            by_venue[fact.venue_id]["operating_while_closed"] += 1
    for case in overdue:
        by_venue[case.venue_id]["overdue"] += 1
    for venue_id, inspections in inspections_by_venue.items():
        by_venue[venue_id]["repeated"] = len(inspections)

    venues = {v.id: v for v in db.session.scalars(sa.select(Venue).where(Venue.id.in_(list(by_venue))))} \
        if by_venue else {}
    leaders = _leaders()
    duty_items = _duty_items()
    departments = {d.id: d for d in db.session.scalars(sa.select(Department))}
    counties = {c.id: c for c in db.session.scalars(sa.select(County))}

    def department_entry(department_id: int) -> dict:
        department = departments[department_id]
        leader = leaders.get(department_id)
        seq = duty_items.get(department_id)
        return {"code": department.code, "name": department.name,
                "leader": _leader_text(leader.name, leader.title) if leader else NO_LEADER,
                "basis": f"四.{seq}" if seq else "四.17"}

    def county_entry(ident: int) -> dict:
        county = counties[ident]
        leader = responsibility["leaders"].get(county.code)
        return {"code": county.code, "name": county.name,
                "leader": _leader_text(leader["name"], leader["title"]) if leader else NO_LEADER,
                "basis": f"四.{LOCALITY_DUTY}"}

    # Departments and counties: their venues' counts added up; "repeated" = venues repeated.
    department_counts: dict[int, Counter] = defaultdict(Counter)
    county_counts: dict[int, Counter] = defaultdict(Counter)
    venue_departments: dict[int, tuple[int, ...]] = {}
    for fact in facts:
        venue_departments.setdefault(fact.venue_id, fact.department_ids)
        for department_id in fact.department_ids:
            department_counts[department_id]["violations"] += 1
            if fact.check_code in closed_checks:
                department_counts[department_id]["operating_while_closed"] += 1
        county_counts[fact.county_id]["violations"] += 1
        if fact.check_code in closed_checks:
            county_counts[fact.county_id]["operating_while_closed"] += 1
    for case in overdue:
        venue_departments.setdefault(case.venue_id, tuple(d.id for d in case.venue.category.departments))
        for department_id in venue_departments[case.venue_id]:
            department_counts[department_id]["overdue"] += 1
        county_counts[case.county_id]["overdue"] += 1

    units, persons = [], []
    for venue_id, counts in by_venue.items():
        venue = venues[venue_id]
        if counts["repeated"] >= 2:
            for department_id in venue_departments.get(venue_id, ()):
                department_counts[department_id]["repeated"] += 1
            county_counts[venue.county_id]["repeated"] += 1
        failures = {"violations": counts["violations"], "inspections": counts["repeated"],
                    "overdue": counts["overdue"], "operating_while_closed": counts["operating_while_closed"]}
        measures = suggest("unit", counts, thresholds)
        units.append({
            "venue": venue.name, "operator": venue.operator_name or "—", "category": venue.category.name,
            "county": venue.county.name, "locality": county_entry(venue.county_id),
            "departments": [department_entry(d) for d in venue_departments.get(venue_id, ()) if d in departments],
            **failures, "measures": measures,
            "_sort": (-len(measures), -counts["violations"], venue.name)})
        # 个人: the venue's responsible person, where the registry names one.
        person_measures = suggest("person", counts, thresholds) if venue.operator_name else []
        if person_measures:
            persons.append({"name": venue.operator_name, "venue": venue.name, "county": venue.county.name,
                            **failures, "measures": person_measures,
                            "_sort": (-len(person_measures), -counts["violations"], venue.name)})
    for rows in (units, persons):
        rows.sort(key=lambda row: row.pop("_sort"))

    department_rows = []
    for department_id in sorted(department_counts, key=lambda d: (departments[d].sort_order, departments[d].code)):
        counts = department_counts[department_id]
        department_rows.append({**department_entry(department_id), "violations": counts["violations"],
                                "repeated_units": counts["repeated"], "overdue": counts["overdue"],
                                "operating_while_closed": counts["operating_while_closed"],
                                "measures": suggest("department", counts, thresholds)})
    county_rows = []
    for ident in sorted(county_counts, key=lambda c: (counties[c].sort_order, counties[c].code)):
        counts = county_counts[ident]
        county_rows.append({**county_entry(ident),
                            "violations": counts["violations"], "repeated_units": counts["repeated"],
                            "overdue": counts["overdue"], "operating_while_closed": counts["operating_while_closed"],
                            "measures": suggest("county", counts, thresholds)})

    def rows(by: str) -> list[dict]:
        return [{"key": r.key, "label": r.label, "count": r.count}
                for r in statistics.count_facts(facts, by, date_from=date_from, date_to=date_to)]

    total = statistics.totals(facts)
    return {
        "period_from": date_from.isoformat(), "period_to": date_to.isoformat(),
        "county": counties[county_id].name if county_id is not None else None,
        "thresholds_version": threshold_set.version,
        "source": responsibility["source"],
        "totals": {"violations": total.violations, "inspections": total.inspections, "venues": total.venues,
                   "overdue": len(overdue),
                   "operating_while_closed": sum(1 for f in facts if f.check_code in closed_checks),
                   "repeated_units": sum(1 for u in units if u["inspections"] >= 2)},
        "by_county": rows("county"), "by_department": rows("department"), "by_rule": rows("rule"),
        "by_day": rows("day"),
        "counties": county_rows, "departments": department_rows,
        # Units and persons with a suggested measure are listed by name; the rest only count in the tables.
        "units": [u for u in units if u["measures"]],
        "unit_count": len(units),
        "persons": persons,
    }


# --- the report ------------------------------------------------------------------------------


def report_context(findings: dict, issued_on: date | None = None) -> dict:
    """The document context of an accountability report from traced findings."""
    info = document_kind(REPORT_KIND)
    # Findings stored before the source was part of them are reported with today's reference data.
    source = findings.get("source") or load_responsibility()["source"]
    return {"authority": info.authority, "date": (issued_on or china_today()).isoformat(),
            "copies": {"cc": list(source["copies_to"]), "printed_by": info.authority},
            **findings, "source": source, "persons": findings.get("persons", [])}


def draft_report_pdf(*, date_from: date, date_to: date, county_id: int | None, user: User | None) -> bytes:
    """The report for a period rendered as a draft (样稿): no number, nothing stored."""
    findings = trace(date_from=date_from, date_to=date_to, county_id=county_id, user=user)
    return preview_document(REPORT_KIND, report_context(findings), user=user)


# --- cases -----------------------------------------------------------------------------------


def _check_manager(actor: User) -> None:
    authorize(actor, "manage", AccountabilityCase)


def create_case(actor: User, *, date_from: date, date_to: date, county_code: str | None = None,
                channel: str = "api") -> AccountabilityCase:
    _check_manager(actor)
    statistics.check_period(date_from, date_to)
    county_id = None
    if county_code:
        county_id = db.session.scalar(sa.select(County.id).where(County.code == county_code))
        if county_id is None:
            raise Invalid(f"没有代码为“{county_code}”的县（市、区）。", errors={"county": ["不存在。"]})
    case = AccountabilityCase(state="draft", date_from=date_from, date_to=date_to, county_id=county_id,
                              created_by_id=actor.id, version=1)
    db.session.add(case)
    db.session.flush()
    record_event("accountability.created", actor=actor, channel=channel, object_type="accountability_case",
                 object_id=str(case.id), details={"from": date_from.isoformat(), "to": date_to.isoformat(),
                                                  "county": county_code})
    return case


def find_case(ident, user: User, action: str = "read") -> AccountabilityCase:
    authorize(user, action, AccountabilityCase)
    case = get_or_404(AccountabilityCase, ident)
    authorize(user, action, case)
    return case


class NotYourOwn(Forbidden):
    slug = "accountability-four-eyes"
    default_title = "须由起草人以外的人办理"


# Step → what the drafter is told; the page shows the same words beside the hidden button.
FOUR_EYES_REFUSALS = {
    "review": "本报告由您起草，按“四眼原则”须由另一名办公室人员（或系统管理员）审核，起草人不能审核自己的报告。",
    "issue": "本报告由您起草，按“四眼原则”须由审核人或另一名办公室人员（或系统管理员）印发，起草人不能印发自己的报告。",
}


def four_eyes_refusal(case: AccountabilityCase, actor: User, step: str) -> str | None:
    """Why `actor` may not take `step` ("review" or "issue") on `case`, or None: the drafter
    may do neither (the reviewer may issue, see the module docstring)."""
    return FOUR_EYES_REFUSALS[step] if actor.id == case.created_by_id else None


def _check_four_eyes(case: AccountabilityCase, actor: User, step: str) -> None:
    refusal = four_eyes_refusal(case, actor, step)
    if refusal:
        raise NotYourOwn(refusal)


def _expect(case: AccountabilityCase, state: str, verb: str) -> None:
    if case.state != state:
        raise Conflict(f"该报告当前为“{STATE_LABELS[case.state]}”状态，"
                       f"只有“{STATE_LABELS[state]}”状态的报告才能{verb}。")


def review_case(case: AccountabilityCase, actor: User, *, note: str | None = None,
                channel: str = "api") -> AccountabilityCase:
    """The office has checked the traced findings (draft → reviewed)."""
    _check_manager(actor)
    _expect(case, "draft", "审核")
    _check_four_eyes(case, actor, "review")
    case.state, case.reviewed_by_id, case.reviewed_at, case.review_note = "reviewed", actor.id, utcnow(), note
    case.version += 1
    db.session.flush()
    record_event("accountability.reviewed", actor=actor, channel=channel, object_type="accountability_case",
                 object_id=str(case.id), details={"note": note})
    return case


def issue_case(case: AccountabilityCase, actor: User, *, issued_on: date | None = None,
               channel: str = "api") -> AccountabilityCase:
    """Trace the period now, store the findings and issue the numbered report PDF (reviewed → issued)."""
    _check_manager(actor)
    _expect(case, "reviewed", "印发")
    _check_four_eyes(case, actor, "issue")
    findings = trace(date_from=case.date_from, date_to=case.date_to, county_id=case.county_id, user=actor)
    document = issue_document(REPORT_KIND, report_context(findings, issued_on), actor=actor,
                              subject_type="accountability_case", subject_id=str(case.id), issued_on=issued_on,
                              channel=channel)
    case.state, case.issued_by_id, case.issued_at = "issued", actor.id, utcnow()
    case.document_id, case.findings = document.id, findings
    case.version += 1
    db.session.flush()
    record_event("accountability.issued", actor=actor, channel=channel, object_type="accountability_case",
                 object_id=str(case.id), details={"document_id": document.id, "number": document.number,
                                                  "violations": findings["totals"]["violations"]})
    return case


def case_summary(case: AccountabilityCase, user: User) -> dict:
    findings = case.findings
    if findings is None:
        findings = trace(date_from=case.date_from, date_to=case.date_to, county_id=case.county_id, user=user)
    return {"id": case.id, "state": case.state, "state_label": STATE_LABELS[case.state], "version": case.version,
            "from": case.date_from.isoformat(), "to": case.date_to.isoformat(),
            "county": case.county.code if case.county else None,
            "document": ({"id": case.document.id, "number": case.document.number} if case.document else None),
            "findings": findings}



def list_cases(user: User, *, state: str | None = None, page: int = 1, per_page: int = 20) -> Page:
    """Accountability cases, newest first, optionally in one state."""
    authorize(user, "read", AccountabilityCase)
    query = sa.select(AccountabilityCase).order_by(AccountabilityCase.id.desc())
    if state:
        query = query.where(AccountabilityCase.state == state)
    return paginate(query, page, per_page)
