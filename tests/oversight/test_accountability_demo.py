"""The demo week: deterministic and idempotent generated inspections, and the office's report for
one county on it, as a new user would produce it."""

from __future__ import annotations

import subprocess
from datetime import date, timedelta

import sqlalchemy as sa

from server.accounts.models.user import User
from server.demo.registry import seed_demo
from server.demo.week import seed_week_inspections
from server.enforcement.documents import document_path
from server.enforcement.models.document import Document
from server.field.models.inspection import Inspection, Violation
from server.oversight import accountability_cases, statistics
from server.registry.models.reference import County, Department, RosterMember
from server.registry.models.venue import Venue

END = date(2026, 3, 14)


def _fingerprint(db) -> list[tuple]:
    return list(db.session.execute(
        sa.select(Inspection.uuid, Venue.name, Violation.rule_code, Violation.check_code)
        .join(Violation, Violation.inspection_id == Inspection.id).join(Venue, Venue.id == Violation.venue_id)
        .where(Inspection.device_id == "demo-week").order_by(Inspection.uuid, Violation.check_code)))


def test_demo_inspections_need_the_demo_registry(db, cli):
    result = cli.invoke(args=["demo", "inspections", "--days", "1"])
    assert result.exit_code == 1 and "anfang demo seed" in result.output


def test_week_is_deterministic_idempotent_and_the_office_reports_one_county_with_roster_leaders(db, tmp_path):
    seed_demo()
    savepoint = db.session.begin_nested()
    first = seed_week_inspections(7, end=END)
    fingerprint = _fingerprint(db)
    savepoint.rollback()
    again = seed_week_inspections(7, end=END)
    assert (again.days, again.inspections, again.violations) == (first.days, first.inspections, first.violations)
    assert _fingerprint(db) == fingerprint
    assert first.days == 7 and first.inspections == 7 * 24 and first.violations > 50
    assert seed_week_inspections(7, end=END).inspections == 0  # idempotent

    office = db.session.scalar(sa.select(User).where(User.username == "office"))
    per_county = statistics.violation_counts(by="county", user=office, date_from=END - timedelta(days=6), date_to=END)
    assert len(per_county) >= 5  # spread over several counties
    county_code = max(per_county, key=lambda row: row.count).key
    case = accountability_cases.create_case(office, date_from=END - timedelta(days=6), date_to=END,
                                            county_code=county_code)
    # Four eyes: the demo's second office user reviews and issues what `office` drafted.
    reviewer = db.session.scalar(sa.select(User).where(User.username == "office2"))
    accountability_cases.review_case(case, reviewer)
    accountability_cases.issue_case(case, reviewer, issued_on=END + timedelta(days=1))
    path = document_path(db.session.get(Document, case.document_id))
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True).stdout
    flat = "".join(text.decode("utf-8").split())
    county = db.session.scalar(sa.select(County).where(County.code == county_code))
    assert county.name in flat
    assert "各县（市、区）违规问题数" in flat and "每日违规问题数" in flat  # chart titles, drawn as SVG
    departments = case.findings["departments"]
    assert departments
    # 四 makes the police responsible for no kind of venue: the leading group's own leader is not
    # traced; the county (属地, 四.18) is, and no business or person is suggested 问责.
    assert "psb" not in {d["code"] for d in departments} and "金盛" not in flat
    assert [c["basis"] for c in case.findings["counties"]] == ["四.18"]
    assert case.findings["units"] and case.findings["persons"]
    for row in case.findings["units"] + case.findings["persons"]:
        assert "accountability" not in {m["measure"] for m in row["measures"]}, row
    for entry in departments:
        department = db.session.scalar(sa.select(Department).where(Department.code == entry["code"]))
        leader = db.session.scalar(sa.select(RosterMember).where(RosterMember.department_id == department.id,
                                                                 RosterMember.is_responsible_leader))
        assert leader is not None and leader.name in flat and department.name in flat
