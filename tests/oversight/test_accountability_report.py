"""Accountability: thresholds, tracing along the four parties, the case workflow, the report PDF
(its numbers equal the statistics service's), the CLI."""

from __future__ import annotations

import re
import subprocess
from datetime import date

import pytest
import sqlalchemy as sa
from stats_world import DAY1, DAY3, bearer, build_counts, stats_world  # noqa: F401  (fixture)

from server.audit.models.audit import AuditEvent
from server.enforcement.documents import document_path
from server.enforcement.models.document import Document
from server.errors import Conflict, Forbidden
from server.oversight import accountability, accountability_cases, accountability_reference, statistics
from server.oversight.models.accountability import AccountabilityCase

ISSUED_ON = date(2026, 3, 20)


def _run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, check=False, timeout=120)


def _layout_text(path) -> str:
    result = _run("pdftotext", "-enc", "UTF-8", "-layout", str(path), "-")
    assert result.returncode == 0, result.stderr
    return result.stdout.decode("utf-8")


# --- thresholds ------------------------------------------------------------------------------


def test_every_threshold_of_the_file_suggests_its_measure_at_n_but_not_at_n_minus_1(app, db):
    thresholds = accountability_reference.load_thresholds().in_force(DAY3)
    assert {t.party for t in thresholds} == {"unit", "person", "department", "county"}
    for threshold in thresholds:
        below = accountability_reference.suggest(threshold.party, {threshold.failure: threshold.min_count - 1},
                                                 [threshold])
        at = accountability_reference.suggest(threshold.party, {threshold.failure: threshold.min_count}, [threshold])
        assert below == [], threshold
        assert [m["measure"] for m in at] == [threshold.measure], threshold
        assert at[0]["measure_label"] in ("约谈", "通报", "问责", "依法处罚", "曝光")
        if threshold.party in ("unit", "person"):
            assert threshold.measure != "accountability", threshold


def test_thresholds_apply_only_within_their_validity_period(app, db):
    thresholds = accountability_reference.load_thresholds()
    assert thresholds.in_force(date(2021, 12, 13)) == []
    assert thresholds.in_force(date(2021, 12, 14))


def test_a_bad_thresholds_file_is_refused_with_the_field_named(app, db, tmp_path):
    (tmp_path / accountability_reference.THRESHOLDS_FILE).write_text(
        'version: "x"\noperating_while_closed_checks: []\nthresholds:\n'
        '  - {code: a, party: unit, failure: violations, min_count: 0, measure: interview, valid_from: 2021-12-14}\n',
        "utf-8")
    with pytest.raises(accountability_reference.ThresholdsInvalid) as caught:
        accountability_reference.load_thresholds(tmp_path)
    assert "min_count" in str(caught.value.errors)


# --- tracing ---------------------------------------------------------------------------------


def test_trace_names_units_departments_with_roster_leaders_and_counties_with_measures(db, stats_world):
    w = stats_world
    build_counts(w)
    findings = accountability.trace(date_from=DAY1, date_to=DAY3, user=w.users["office"])
    assert findings["totals"]["violations"] == 7
    assert findings["totals"]["operating_while_closed"] == 1
    assert findings["totals"]["repeated_units"] == 2
    departments = {d["name"]: d for d in findings["departments"]}
    assert departments[f"甲局{w.tag}"]["leader"] == f"{w.leaders['a'].name}（{w.leaders['a'].title}）"
    assert departments[f"甲局{w.tag}"]["violations"] == 7 and departments[f"乙局{w.tag}"]["violations"] == 4
    units = {u["venue"]: u for u in findings["units"]}
    # a_north: two inspections with violations and found open while it must be closed: a business
    # is penalised and named, never 问责.
    assert [m["measure"] for m in units[f"甲北场所{w.tag}"]["measures"]] == ["penalty", "criticism"]
    persons = {p["name"]: p for p in findings["persons"]}
    assert [m["measure"] for m in persons[f"甲经营者{w.tag}"]["measures"]] == ["interview"]
    assert persons[f"甲经营者{w.tag}"]["venue"] == f"甲北场所{w.tag}"
    assert units[f"甲北场所{w.tag}"]["operator"] == f"甲经营者{w.tag}"
    assert [m["measure"] for m in units[f"共南场所{w.tag}"]["measures"]] == ["criticism"]
    assert {d["name"] for d in units[f"共南场所{w.tag}"]["departments"]} == {f"甲局{w.tag}", f"乙局{w.tag}"}
    assert f"共北场所{w.tag}" not in units  # one inspection, no threshold reached
    assert findings["unit_count"] == 3
    assert [c["name"] for c in findings["counties"]] == [f"北县{w.tag}", f"南县{w.tag}"]
    # The statistics inside the findings are the statistics service's.
    for by, key in (("county", "by_county"), ("department", "by_department"), ("rule", "by_rule"), ("day", "by_day")):
        rows = statistics.violation_counts(by=by, user=w.users["office"], date_from=DAY1, date_to=DAY3)
        assert findings[key] == [{"key": r.key, "label": r.label, "count": r.count} for r in rows]


def test_trace_for_one_county(db, stats_world):
    w = stats_world
    build_counts(w)
    findings = accountability.trace(date_from=DAY1, date_to=DAY3, county_id=w.counties["south"].id, user=w.users["office"])
    assert findings["county"] == f"南县{w.tag}"
    assert findings["totals"]["violations"] == 3
    assert [c["name"] for c in findings["counties"]] == [f"南县{w.tag}"]


# --- workflow --------------------------------------------------------------------------------


def _actions(case_id) -> list[str]:
    from server.extensions import db as _db

    return list(_db.session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.object_type == "accountability_case", AuditEvent.object_id == str(case_id)).order_by(AuditEvent.seq)))


def test_workflow_draft_reviewed_issued_audited_and_out_of_order_is_a_conflict(db, stats_world):
    w = stats_world
    build_counts(w)
    office, reviewer = w.users["office"], w.users["admin"]
    case = accountability_cases.create_case(office, date_from=DAY1, date_to=DAY3, county_code=w.counties["north"].code)
    assert case.state == "draft"
    with pytest.raises(Conflict):
        accountability_cases.issue_case(case, reviewer, issued_on=ISSUED_ON)
    accountability_cases.review_case(case, reviewer, note="已核对")
    with pytest.raises(Conflict):
        accountability_cases.review_case(case, reviewer)
    accountability_cases.issue_case(case, reviewer, issued_on=ISSUED_ON)
    assert case.state == "issued" and case.document.kind == "accountability_report"
    assert case.document.number == f"金市疫情防指办问〔2026〕{case.document.serial}号"
    assert case.findings["totals"]["violations"] == 4
    with pytest.raises(Conflict):
        accountability_cases.issue_case(case, reviewer, issued_on=ISSUED_ON)
    assert _actions(case.id) == ["accountability.created", "accountability.reviewed", "accountability.issued"]


@pytest.mark.parametrize("user_key", ["dep_a", "north", "enforcement", "propaganda", "inspector"])
def test_only_the_office_and_admins_manage_cases(db, stats_world, user_key):
    with pytest.raises(Forbidden):
        accountability_cases.create_case(stats_world.users[user_key], date_from=DAY1, date_to=DAY3)


def test_api_workflow_with_409_on_wrong_order(db, client, stats_world):
    w = stats_world
    build_counts(w)
    headers = bearer(w.users["office"])
    reviewer = bearer(w.users["admin"])  # four eyes: not the drafter
    created = client.post("/api/v1/accountability/cases", json={"from": DAY1.isoformat(), "to": DAY3.isoformat()},
                          headers=headers)
    assert created.status_code == 201, created.json
    case_id = created.json["id"]
    assert created.json["state"] == "draft" and created.json["findings"]["totals"]["violations"] == 7
    assert client.post(f"/api/v1/accountability/cases/{case_id}/issue", headers=reviewer).status_code == 409
    reviewed = client.post(f"/api/v1/accountability/cases/{case_id}/review", json={"note": "同意"}, headers=reviewer)
    assert reviewed.status_code == 200 and reviewed.json["state"] == "reviewed"
    issued = client.post(f"/api/v1/accountability/cases/{case_id}/issue", headers=reviewer)
    assert issued.status_code == 200, issued.json
    assert issued.json["state"] == "issued" and issued.json["document"]["number"].startswith("金市疫情防指办问〔")
    assert client.post(f"/api/v1/accountability/cases/{case_id}/review", json={}, headers=reviewer).status_code == 409
    refused = client.post("/api/v1/accountability/cases", json={"from": DAY1.isoformat(), "to": DAY3.isoformat()},
                          headers=bearer(w.users["dep_a"]))
    assert refused.status_code == 403
    bad = client.post("/api/v1/accountability/cases", json={"from": DAY3.isoformat(), "to": DAY1.isoformat()},
                      headers=headers)
    assert bad.status_code == 422
    assert client.get("/api/v1/accountability/cases/999999", headers=headers).status_code == 404


# --- the PDF ---------------------------------------------------------------------------------


def _section(text: str, start: str, end: str) -> str:
    return text.split(start, 1)[1].split(end, 1)[0]


def test_report_pdf_is_valid_names_departments_and_leaders_and_its_numbers_equal_the_statistics(db, stats_world):
    w = stats_world
    build_counts(w)
    office = w.users["office"]
    case = accountability_cases.create_case(office, date_from=DAY1, date_to=DAY3)
    accountability_cases.review_case(case, w.users["admin"])
    accountability_cases.issue_case(case, w.users["admin"], issued_on=ISSUED_ON)
    path = document_path(db.session.get(Document, case.document_id))

    fonts = _run("pdffonts", str(path))
    assert fonts.returncode == 0
    lines = fonts.stdout.decode().splitlines()[2:]
    assert lines and all(" yes " in f" {line} " for line in lines), lines
    assert any("CJK" in line for line in lines)
    check = _run("qpdf", "--check", str(path))
    assert check.returncode == 0, check.stdout + check.stderr

    text = _layout_text(path)
    flat = "".join(text.split())
    assert "疫情防控督查倒查问责情况报告" in flat
    for leader in w.leaders.values():
        assert leader.name in flat
    assert f"甲局{w.tag}" in flat and f"乙局{w.tag}" in flat
    assert "依法处罚" in flat and "通报" in flat and "约谈" in flat
    units_and_persons = flat.split("（三）单位责任", 1)[1].split("四、处理建议", 1)[0]
    assert "问责" not in units_and_persons
    assert "甲经营者" in flat  # the unit's operator (its narrow column wraps the tag)
    assert "<svg" not in text  # charts are drawn, not printed as markup

    office_totals = statistics.violation_totals(user=office, date_from=DAY1, date_to=DAY3)
    assert f"期间共发现违规问题{office_totals.violations}起" in flat
    sections = {"county": ("（一）按县（市、区）", "（二）按责任部门"), "department": ("（二）按责任部门", "（三）按规则"),
                "day": ("（四）按日期", "每日违规问题数")}
    for by, (start, end) in sections.items():
        expected = statistics.violation_counts(by=by, user=office, date_from=DAY1, date_to=DAY3)
        table = _section(text, start, end)
        printed = [(int(n), label, int(count)) for n, label, count in
                   re.findall(r"^\s*(\d+)\s+(\S+)\s+(\d+)\s*$", table, re.M)]
        assert printed == [(i, r.label, r.count) for i, r in enumerate(expected, start=1)], by
    # Rules: the chart labels each bar with the rule code and its count, largest first.
    rules = statistics.violation_counts(by="rule", user=office, date_from=DAY1, date_to=DAY3)
    chart = _section(text, "各规则违规问题数", "（四）按日期")
    largest_first = sorted(rules, key=lambda r: -r.count)
    assert re.findall(r"^\s*(K\d+)\s+(\d+)\s*$", chart, re.M) == [(r.key, str(r.count)) for r in largest_first]


def test_issued_findings_stay_as_issued_when_a_violation_is_withdrawn_later(db, stats_world):
    w = stats_world
    build_counts(w)
    office = w.users["office"]
    case = accountability_cases.create_case(office, date_from=DAY1, date_to=DAY3)
    accountability_cases.review_case(case, w.users["admin"])
    accountability_cases.issue_case(case, w.users["admin"], issued_on=ISSUED_ON)
    from server.columns import utcnow
    from server.field.models.inspection import Violation

    violation = db.session.scalar(sa.select(Violation).where(Violation.venue_id == w.venues["ab_south"].id,
                                                             Violation.withdrawn_at.is_(None)))
    violation.withdrawn_at = utcnow()
    db.session.flush()
    stored = db.session.get(AccountabilityCase, case.id)
    assert accountability_cases.case_summary(stored, office)["findings"]["totals"]["violations"] == 7


# --- CLI -------------------------------------------------------------------------------------


def test_cli_renders_a_draft_report_and_exits_1_on_bad_input(db, cli, stats_world, tmp_path):
    w = stats_world
    build_counts(w)
    out = tmp_path / "report.pdf"
    result = cli.invoke(args=["report", "accountability", "--from", DAY1.isoformat(), "--to", DAY3.isoformat(),
                              "--county", w.counties["north"].code, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF-")
    flat = "".join(_layout_text(out).split())
    assert "样稿" in flat and f"北县{w.tag}" in flat and "期间共发现违规问题4起" in flat
    for args, message in ((["--from", "2026-02-30", "--to", "2026-03-01"], "不是有效日期"),
                          (["--from", "2026-03-02", "--to", "2026-03-01"], "晚于"),
                          (["--from", "2026-03-01", "--to", "2026-03-02", "--county", "atlantis"], "atlantis")):
        bad = cli.invoke(args=["report", "accountability", *args, "--out", str(tmp_path / "x.pdf")])
        assert bad.exit_code == 1, bad.output
        assert message in bad.output and len(bad.output.strip().splitlines()) == 1
        assert not (tmp_path / "x.pdf").exists()
