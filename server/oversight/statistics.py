"""Violation statistics: the one place counts come from.

The statistics API and page, the CSV and XLSX exports, the accountability tracing and the
accountability report all count through `violation_facts`, so the same period and filters give
the same numbers everywhere.

What is counted: live violations (not withdrawn by an amendment) of submitted inspections. A
violation belongs to the date (China Standard Time) of its inspection's check-in, to its venue's
county and category, to its rule, and to every department recorded with it as responsible for
the category (`violation.department_ids`, kept as they were when it was found); per department a
violation shared by two departments counts for each, the total counts it once.

Scope follows the reader (DESIGN.md §6): a department viewer counts only violations its
department answers for, a county viewer only its territory; the office, the enforcement bureau,
auditors and administrators the whole city; other roles are refused. A filter outside a scoped
reader's scope is refused by name (`check_scope`), not answered with 0. `user=None` is the
operator at the command line (whole city).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa

from ..accounts.models.user import User
from ..columns import china_date, china_days_utc
from ..errors import Forbidden, Invalid
from ..extensions import db
from ..field.models.inspection import Inspection, Violation
from ..registry.models.reference import County, Department, Rule, VenueCategory, category_departments
from ..registry.models.venue import Venue
from ..roles import ROLE_LABELS

DIMENSIONS = ("county", "department", "category", "rule", "day")
DIMENSION_LABELS = {"county": "县（市、区）", "department": "责任部门", "category": "场所类别", "rule": "规则",
                    "day": "日期"}
CITY_WIDE_ROLES = ("office", "admin", "enforcement", "auditor")
SCOPED_ROLES = ("department", "county")
READER_ROLES = CITY_WIDE_ROLES + SCOPED_ROLES
SUBMITTED_STATUSES = ("awaiting_evidence", "complete")
MAX_PERIOD_DAYS = 366


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class Fact:
    """One live violation, reduced to what is counted."""

    violation_id: int
    inspection_id: int
    venue_id: int
    county_id: int
    category_id: int
    rule_code: str
    check_code: str
    department_ids: tuple[int, ...]
    day: date


def check_period(date_from, date_to) -> None:
    if not isinstance(date_from, date) or not isinstance(date_to, date):
        raise Invalid("统计期间须为日期。", errors={"from": ["须为 YYYY-MM-DD 格式的日期。"]})
    if date_from > date_to:
        raise Invalid("统计期间的开始日期晚于结束日期。", errors={"from": ["不能晚于结束日期。"]})
    if (date_to - date_from).days >= MAX_PERIOD_DAYS:
        raise Invalid(f"统计期间不能超过 {MAX_PERIOD_DAYS} 天。", errors={"to": [f"期间至多 {MAX_PERIOD_DAYS} 天。"]})


def check_reader(user: User | None) -> None:
    if user is None:
        return
    if user.role not in READER_ROLES:
        raise Forbidden(f"{ROLE_LABELS.get(user.role, user.role)}账号无权查看违规统计。")


def _department_categories(department_id: int | None) -> set[int]:
    if department_id is None:
        return set()
    return set(db.session.scalars(sa.select(category_departments.c.category_id)
                                  .where(category_departments.c.department_id == department_id)))


def check_scope(user: User | None, *, county_id: int | None = None, department_id: int | None = None,
                category_id: int | None = None) -> None:
    """Invalid, naming the field, when a scoped reader filters by a county, department or category
    outside its scope: such a filter would only ever count 0, which reads as "no problems there"."""
    if user is None or user.role not in SCOPED_ROLES:
        return
    errors: dict[str, list[str]] = {}
    if user.role == "county" and county_id is not None and county_id != user.county_id:
        own = user.county.name if user.county else "未指定"
        errors["county"] = [f"属地政府账号只能统计本辖区（{own}）。"]
    if user.role == "department":
        own = user.department.name if user.department else "未指定"
        if department_id is not None and department_id != user.department_id:
            errors["department"] = [f"行业部门账号只能统计本部门（{own}）。"]
        if category_id is not None and category_id not in _department_categories(user.department_id):
            errors["category"] = [f"该场所类别不由本部门（{own}）负责。"]
    if errors:
        raise Invalid("统计筛选条件超出您的职责范围：" + "；".join(m[0] for m in errors.values()), errors=errors)


def filter_choices(user: User | None) -> dict:
    """What the statistics filters offer `user`: only counties, departments and categories within
    its scope (a county reader its own county, a department reader itself and its categories)."""
    def rows(model, *conditions):
        return list(db.session.scalars(sa.select(model).where(*conditions).order_by(model.sort_order, model.code)))

    counties, departments, categories = [], [], []
    if user is not None and user.role == "county":
        counties.append(County.id == (user.county_id or 0))
    if user is not None and user.role == "department":
        departments.append(Department.id == (user.department_id or 0))
        categories.append(VenueCategory.id.in_(_department_categories(user.department_id) or {0}))
    return {"counties": rows(County, *counties), "departments": rows(Department, *departments),
            "categories": rows(VenueCategory, *categories), "rules": rows(Rule)}


def violation_facts(*, date_from: date, date_to: date, county_id: int | None = None,
                    department_id: int | None = None, category_id: int | None = None,
                    rule_code: str | None = None, user: User | None) -> list[Fact]:
    """The live violations of the period under the filters, within the user's scope."""
    check_reader(user)
    check_period(date_from, date_to)
    check_scope(user, county_id=county_id, department_id=department_id, category_id=category_id)
    start, end = china_days_utc(date_from, date_to)
    query = (
        sa.select(Violation.id, Violation.inspection_id, Violation.venue_id, Violation.county_id,
                  Venue.category_id, Violation.rule_code, Violation.check_code, Violation.department_ids,
                  Inspection.checked_in_at)
        .join(Inspection, Inspection.id == Violation.inspection_id)
        .join(Venue, Venue.id == Violation.venue_id)
        .where(Violation.withdrawn_at.is_(None), Inspection.status.in_(SUBMITTED_STATUSES),
               Inspection.checked_in_at >= start, Inspection.checked_in_at < end)
    )
    scope_department = None
    if user is not None and user.role == "county":
        query = query.where(Violation.county_id == user.county_id) if user.county_id else query.where(sa.false())
    if user is not None and user.role == "department":
        if user.department_id is None:
            query = query.where(sa.false())
        scope_department = user.department_id
    if county_id is not None:
        query = query.where(Violation.county_id == county_id)
    if category_id is not None:
        query = query.where(Venue.category_id == category_id)
    if rule_code is not None:
        query = query.where(Violation.rule_code == rule_code)
    facts = []
    for row in db.session.execute(query.order_by(Violation.id)):
        departments = tuple(int(d) for d in (row.department_ids or ()))
        # department_ids is a JSON list: tested here, the same way on SQLite and PostgreSQL.
        if scope_department is not None and scope_department not in departments:
            continue
        if department_id is not None and department_id not in departments:
            continue
        day = china_date(row.checked_in_at)
        facts.append(Fact(row.id, row.inspection_id, row.venue_id, row.county_id, row.category_id, row.rule_code,
                          row.check_code, departments, day))
    return facts


def _labels(model, ids, key_attr: str = "code") -> dict[int, tuple[str, str, int]]:
    if not ids:
        return {}
    rows = db.session.execute(sa.select(model.id, getattr(model, key_attr), model.name, model.sort_order)
                              .where(model.id.in_(ids)))
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def count_facts(facts: list[Fact], by: str, *, date_from: date | None = None,
                date_to: date | None = None) -> list[Row]:
    """Rows of one dimension from facts. Days: every day of the period, zeros included, in order;
    the others: only keys with violations, in the reference data's display order."""
    if by not in DIMENSIONS:
        raise Invalid(f"统计维度须为以下之一：{'、'.join(DIMENSIONS)}。", errors={"by": ["不是可用的统计维度。"]})
    if by == "day":
        counts = Counter(fact.day for fact in facts)
        first = date_from or min(counts, default=None)
        last = date_to or max(counts, default=None)
        if first is None:
            return []
        return [Row((first + timedelta(days=n)).isoformat(), (first + timedelta(days=n)).isoformat(),
                    counts.get(first + timedelta(days=n), 0))
                for n in range((last - first).days + 1)]
    if by == "rule":
        counts = Counter(fact.rule_code for fact in facts)
        rules = {code: (title, order) for code, title, order in
                 db.session.execute(sa.select(Rule.code, Rule.title, Rule.sort_order).where(Rule.code.in_(counts)))}
        ordered = sorted(counts, key=lambda code: (rules.get(code, ("", 10**6))[1], code))
        return [Row(code, f"{code} {rules[code][0]}" if code in rules else code, counts[code]) for code in ordered]
    if by == "department":
        counts = Counter(department for fact in facts for department in fact.department_ids)
        labels = _labels(Department, list(counts))
    elif by == "county":
        counts = Counter(fact.county_id for fact in facts)
        labels = _labels(County, list(counts))
    else:
        counts = Counter(fact.category_id for fact in facts)
        labels = _labels(VenueCategory, list(counts))
    ordered = sorted(counts, key=lambda ident: (labels.get(ident, ("", "", 10**6))[2], ident))
    return [Row(labels[ident][0], labels[ident][1], counts[ident]) for ident in ordered if ident in labels]


def violation_counts(*, date_from: date, date_to: date, by: str, county_id: int | None = None,
                     department_id: int | None = None, category_id: int | None = None,
                     rule_code: str | None = None, user: User | None) -> list[Row]:
    """Live violations of the period counted by county, department, category, rule or day."""
    if by not in DIMENSIONS:
        count_facts([], by)
    facts = violation_facts(date_from=date_from, date_to=date_to, county_id=county_id, department_id=department_id,
                            category_id=category_id, rule_code=rule_code, user=user)
    return count_facts(facts, by, date_from=date_from, date_to=date_to)


@dataclass(frozen=True)
class Totals:
    violations: int
    inspections: int
    venues: int


def totals(facts: list[Fact]) -> Totals:
    """Each violation once; inspections and venues with at least one violation."""
    return Totals(len(facts), len({f.inspection_id for f in facts}), len({f.venue_id for f in facts}))


def violation_totals(*, date_from: date, date_to: date, county_id: int | None = None,
                     department_id: int | None = None, category_id: int | None = None,
                     rule_code: str | None = None, user: User | None) -> Totals:
    facts = violation_facts(date_from=date_from, date_to=date_to, county_id=county_id, department_id=department_id,
                            category_id=category_id, rule_code=rule_code, user=user)
    return totals(facts)


def summary(*, date_from: date, date_to: date, user: User | None, **filters) -> dict:
    """Every dimension and the totals from one query: {"totals": Totals, "county": [Row], ...}."""
    facts = violation_facts(date_from=date_from, date_to=date_to, user=user, **filters)
    result: dict = {"totals": totals(facts)}
    for by in DIMENSIONS:
        result[by] = count_facts(facts, by, date_from=date_from, date_to=date_to)
    return result


# --- filters given as codes (API, page, CLI) ------------------------------------------------------


def resolve_filters(*, county: str | None = None, department: str | None = None, category: str | None = None,
                    rule: str | None = None) -> dict:
    """Codes → ids; Invalid naming each unknown code."""
    resolved: dict = {}
    errors: dict[str, list[str]] = {}
    for name, model, code, label in (("county_id", County, county, "县（市、区）"),
                                     ("department_id", Department, department, "部门"),
                                     ("category_id", VenueCategory, category, "场所类别")):
        if code:
            ident = db.session.scalar(sa.select(model.id).where(model.code == code))
            if ident is None:
                errors[name.removesuffix("_id")] = [f"没有代码为“{code}”的{label}。"]
            resolved[name] = ident
    if rule:
        if db.session.scalar(sa.select(Rule.id).where(Rule.code == rule)) is None:
            errors["rule"] = [f"没有编号为“{rule}”的规则。"]
        resolved["rule_code"] = rule
    if errors:
        raise Invalid("统计筛选条件有误：" + "；".join(m[0] for m in errors.values()), errors=errors)
    return resolved


def rows_as_table(by: str, rows: list[Row]) -> list[list]:
    """Header and rows as the CSV and XLSX exports write them."""
    return [["代码", DIMENSION_LABELS[by], "违规问题数"]] + [[row.key, row.label, row.count] for row in rows]
