"""Accountability (倒查责任, 五(四)): trace a period's failures along the four-party responsibility
(四方责任, 五(一)) and suggest measures from the thresholds (server/oversight/accountability_reference.py);
the report of the findings.

Failures: live violations (counted by server/oversight/statistics.py, the same facts and the same
Beijing days as the statistics page), venues with repeated violations, venues found operating
while they must be closed, and enforcement cases overdue at the end of the period. Each is traced
to the four parties: 属地 — its county's government, first responsible party (四.18), with the
leader server/reference/responsibility.yaml names; 部门 — the departments 四 names for its category
(categories.yaml, none where 四 names none), each with its responsible leader from the roster (二);
单位 — the venue; 个人 — the venue's responsible person.

The cases that review and issue the report are server/oversight/accountability_cases.py.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

import sqlalchemy as sa

from ..accounts.models.user import User
from ..columns import china_today
from ..enforcement.cases import overdue_condition
from ..enforcement.document_catalogue import document_kind
from ..enforcement.documents import preview_document
from ..enforcement.models.case import EnforcementCase
from ..extensions import db
from ..registry.models.reference import County, Department, Duty, RosterMember
from ..registry.models.venue import Venue
from . import statistics
from .accountability_reference import load_responsibility, load_thresholds, suggest

LOCALITY_DUTY = 18
NO_LEADER = "（名单中无责任领导）"
REPORT_KIND = "accountability_report"


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
