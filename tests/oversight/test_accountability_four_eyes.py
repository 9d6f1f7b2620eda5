"""Four eyes on accountability reports: whoever drafted a case may neither review nor issue it —
refused by the service, the API (403 problem+json in Chinese) and the CLI (one Chinese line,
exit 1); the reviewer may issue. (The pages: tests/oversight/test_web_accountability.py.)"""

from __future__ import annotations

from datetime import date

import pytest
from stats_world import DAY1, DAY3, bearer, build_counts, stats_world  # noqa: F401  (fixture)

from server.errors import Forbidden
from server.oversight import accountability_cases
from server.oversight.models.accountability import AccountabilityCase

ISSUED_ON = date(2026, 3, 20)


def test_the_drafter_can_neither_review_nor_issue_and_the_reviewer_may_issue(db, stats_world):
    w = stats_world
    build_counts(w)
    drafter, other = w.users["office"], w.users["admin"]
    case = accountability_cases.create_case(drafter, date_from=DAY1, date_to=DAY3)
    with pytest.raises(Forbidden, match="起草人不能审核"):
        accountability_cases.review_case(case, drafter)
    assert case.state == "draft" and case.reviewed_by_id is None
    accountability_cases.review_case(case, other, note="已核对")
    with pytest.raises(Forbidden, match="起草人不能印发"):
        accountability_cases.issue_case(case, drafter, issued_on=ISSUED_ON)
    assert case.state == "reviewed" and case.document_id is None
    accountability_cases.issue_case(case, other, issued_on=ISSUED_ON)
    assert (case.created_by_id, case.reviewed_by_id, case.issued_by_id) == (drafter.id, other.id, other.id)


def test_api_refuses_the_drafter_with_a_chinese_403_problem(db, client, stats_world):
    w = stats_world
    build_counts(w)
    drafter, other = bearer(w.users["office"]), bearer(w.users["admin"])
    created = client.post("/api/v1/accountability/cases", json={"from": DAY1.isoformat(), "to": DAY3.isoformat()},
                          headers=drafter)
    case_id = created.json["id"]
    refused = client.post(f"/api/v1/accountability/cases/{case_id}/review", json={}, headers=drafter)
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert "起草人不能审核自己的报告" in refused.json["detail"] and refused.json["title"] == "须由起草人以外的人办理"
    assert client.post(f"/api/v1/accountability/cases/{case_id}/review", json={}, headers=other).status_code == 200
    refused = client.post(f"/api/v1/accountability/cases/{case_id}/issue", headers=drafter)
    assert refused.status_code == 403 and "起草人不能印发自己的报告" in refused.json["detail"]
    assert db.session.get(AccountabilityCase, case_id).state == "reviewed"
    issued = client.post(f"/api/v1/accountability/cases/{case_id}/issue", headers=other)
    assert issued.status_code == 200 and issued.json["state"] == "issued"


def test_cli_drafts_refuses_the_drafter_in_one_line_and_another_user_reviews_and_issues(db, cli, stats_world):
    w = stats_world
    build_counts(w)
    drafter, other = w.users["office"].username, w.users["admin"].username
    created = cli.invoke(args=["report", "case", "create", "--from", DAY1.isoformat(), "--to", DAY3.isoformat(),
                               "--by", drafter])
    assert created.exit_code == 0, created.output
    case = db.session.query(AccountabilityCase).order_by(AccountabilityCase.id.desc()).first()
    assert f"第 {case.id} 号" in created.output and case.created_by_id == w.users["office"].id
    for step in ("review", "issue"):
        if step == "issue":
            reviewed = cli.invoke(args=["report", "case", "review", str(case.id), "--by", other, "--note", "已核对"])
            assert reviewed.exit_code == 0, reviewed.output
        refused = cli.invoke(args=["report", "case", step, str(case.id), "--by", drafter])
        assert refused.exit_code == 1, refused.output
        lines = refused.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("错误：") and "起草人不能" in lines[0]
    issued = cli.invoke(args=["report", "case", "issue", str(case.id), "--by", other])
    assert issued.exit_code == 0, issued.output
    db.session.expire_all()
    case = db.session.get(AccountabilityCase, case.id)
    assert case.state == "issued" and case.document.number in issued.output
    missing = cli.invoke(args=["report", "case", "review", "999999", "--by", other])
    assert missing.exit_code == 1 and len(missing.output.strip().splitlines()) == 1
