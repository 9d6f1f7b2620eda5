"""Accountability pages (倒查责任): the traced failures of a period with suggested measures and
charts, the draft report as an inline PDF, and cases moved draft → reviewed → issued by the office
(issuing confirmed), read by the auditor, refused to other roles."""

from __future__ import annotations

import subprocess

import pytest
import sqlalchemy as sa
from stats_world import DAY1, DAY3, build_counts, stats_world  # noqa: F401  (fixture)
from web_session import csrf, login

from server.audit.models.audit import AuditEvent
from server.oversight import accountability, accountability_cases
from server.oversight.models.accountability import AccountabilityCase

PERIOD = {"date_from": DAY1.isoformat(), "date_to": DAY3.isoformat()}


@pytest.fixture
def world(db, stats_world):
    build_counts(stats_world)
    return stats_world


def _events(db, action: str, case_id: int) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == action, AuditEvent.object_id == str(case_id))))


def _create(client, county: str | None = None):
    data = {"csrf_token": csrf(client, "/accountability"), **PERIOD, "county": county or ""}
    return client.post("/accountability/cases", data=data)


def test_office_sees_traced_failures_measures_and_charts(db, client, world):
    login(client, world.users["office"])
    response = client.get("/accountability", query_string=PERIOD)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    findings = accountability.trace(date_from=DAY1, date_to=DAY3, user=world.users["office"])
    assert f"违规问题 <strong>{findings['totals']['violations']}</strong> 起" in page
    assert page.count("<svg") == 3 and "各县（市、区）违规问题数" in page and "每日违规问题数" in page
    # The venue found open while it must be closed: 依法处罚 (a business is never 问责) and its
    # responsible person 约谈; the venue with two failed inspections: 通报.
    assert world.venues["a_north"].name in page and world.venues["ab_south"].name in page
    assert 'class="measure measure--penalty">依法处罚' in page and 'class="measure measure--criticism">通报<' in page
    assert 'class="measure measure--interview">约谈' in page and "measure--accountability" not in page
    assert "个人（场所负责人）" in page and world.venues["a_north"].operator_name in page
    for leader in world.leaders.values():
        assert leader.name in page
    assert 'href="/accountability/report.pdf?' in page
    assert 'action="/accountability/cases"' in page  # the office may open a case for the period

    north = client.get("/accountability", query_string={**PERIOD, "county": world.counties["north"].code})
    text = north.get_data(as_text=True)
    assert world.venues["a_north"].name in text and world.venues["ab_south"].name not in text


def test_bad_periods_are_explained_next_to_the_field(db, client, world):
    login(client, world.users["office"])
    response = client.get("/accountability", query_string={"date_from": DAY3.isoformat(), "date_to": DAY1.isoformat()})
    assert response.status_code == 422
    assert 'id="date_to-error">结束日期不能早于开始日期。' in response.get_data(as_text=True)
    bad = client.get("/accountability", query_string={"date_from": "2026-02-30", "date_to": DAY1.isoformat()})
    assert 'id="date_from-error">日期格式不正确，请按 年-月-日 填写。' in bad.get_data(as_text=True)
    unknown = client.get("/accountability", query_string={**PERIOD, "county": "atlantis"})
    assert 'id="county-error">不是可选的值。' in unknown.get_data(as_text=True)
    assert client.get("/accountability/report.pdf", query_string={"date_from": "x", "date_to": "y"}).status_code == 400


def test_report_preview_is_an_inline_draft_pdf(db, client, world):
    login(client, world.users["auditor"])
    response = client.get("/accountability/report.pdf",
                          query_string={**PERIOD, "county": world.counties["north"].code})
    assert response.status_code == 200
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
    assert response.headers["Content-Disposition"].startswith("inline")
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=response.data, capture_output=True,
                          check=True).stdout.decode("utf-8")
    flat = "".join(text.split())
    assert world.counties["north"].name in flat and "样稿" in flat


def test_office_opens_reviews_and_issues_a_case_with_confirmation(app, db, client, world):
    drafter = app.test_client()
    login(drafter, world.users["office"])
    created = _create(drafter, world.counties["north"].code)
    assert created.status_code == 302, created.get_data(as_text=True)[:2000]
    case = db.session.scalar(sa.select(AccountabilityCase).order_by(AccountabilityCase.id.desc()))
    assert case.state == "draft" and case.county_id == world.counties["north"].id
    [event] = _events(db, "accountability.created", case.id)
    assert event.channel == "web" and event.actor_id == world.users["office"].id
    url = f"/accountability/cases/{case.id}"
    # Four eyes: the drafter is told why there is nothing to approve, and a forged post is refused.
    page = drafter.get(url).get_data(as_text=True)
    assert "草稿" in page and "审核通过" not in page and "起草人不能审核自己的报告" in page
    refused = drafter.post(f"{url}/review", data={"csrf_token": csrf(drafter, url), "note": "自己审核"})
    assert refused.status_code == 403 and "起草人不能审核自己的报告" in refused.get_data(as_text=True)
    db.session.refresh(case)
    assert case.state == "draft"

    # Another manager (here the administrator) reviews and issues.
    login(client, world.users["admin"])
    page = client.get(url).get_data(as_text=True)
    assert "草稿" in page and world.venues["a_north"].name in page and "审核通过" in page

    assert client.post(f"{url}/review", data={"csrf_token": csrf(client, url), "note": "已核对"}).status_code == 302
    db.session.refresh(case)
    assert case.state == "reviewed" and case.review_note == "已核对"
    assert _events(db, "accountability.reviewed", case.id)
    # Nor may the drafter issue what another reviewed.
    page = drafter.get(url).get_data(as_text=True)
    assert "印发报告" not in page and "起草人不能印发自己的报告" in page
    refused = drafter.post(f"{url}/issue", data={"csrf_token": csrf(drafter, url), "confirm": "y"})
    assert refused.status_code == 403 and "起草人不能印发自己的报告" in refused.get_data(as_text=True)
    db.session.refresh(case)
    assert case.state == "reviewed"

    # Issuing cannot be undone: without the confirmation box nothing happens.
    assert client.post(f"{url}/issue", data={"csrf_token": csrf(client, url)}).status_code == 302
    db.session.refresh(case)
    assert case.state == "reviewed"
    page = client.get(url).get_data(as_text=True)
    assert "确认印发" in page and 'name="confirm"' in page
    issued = client.post(f"{url}/issue", data={"csrf_token": csrf(client, url), "confirm": "y"})
    assert issued.status_code == 302, issued.get_data(as_text=True)[:2000]
    db.session.refresh(case)
    assert case.state == "issued" and case.document is not None and case.findings is not None
    assert _events(db, "accountability.issued", case.id)
    page = client.get(url).get_data(as_text=True)
    assert case.document.number in page and f'href="/documents/{case.document.id}.pdf"' in page

    # A transition out of order is a conflict, explained on the page.
    again = client.post(f"{url}/review", data={"csrf_token": csrf(client, url)})
    assert again.status_code == 409 and "只有“草稿”状态的报告才能审核" in again.get_data(as_text=True)

    listing = client.get("/accountability/cases", query_string={"state": "issued"}).get_data(as_text=True)
    assert f'href="/accountability/cases/{case.id}"' in listing and case.document.number in listing


def test_auditor_reads_cases_but_cannot_move_them(db, client, world):
    case = accountability_cases.create_case(world.users["office"], date_from=DAY1, date_to=DAY3)
    login(client, world.users["auditor"])
    url = f"/accountability/cases/{case.id}"
    page = client.get(url).get_data(as_text=True)
    assert "草稿" in page and "审核通过" not in page
    token = csrf(client, url)
    assert client.post(f"{url}/review", data={"csrf_token": token}).status_code == 403
    assert client.post("/accountability/cases", data={"csrf_token": token, **PERIOD}).status_code == 403
    db.session.refresh(case)
    assert case.state == "draft"
    assert 'action="/accountability/cases"' not in client.get("/accountability", query_string=PERIOD).get_data(
        as_text=True)


@pytest.mark.parametrize("role", ["enforcement", "propaganda", "inspector", "north"])
def test_other_roles_are_refused(db, client, world, role):
    case = accountability_cases.create_case(world.users["office"], date_from=DAY1, date_to=DAY3)
    login(client, world.users[role])
    for url in ("/accountability", "/accountability/cases", f"/accountability/cases/{case.id}",
                "/accountability/report.pdf"):
        assert client.get(url, query_string=PERIOD).status_code == 403, url
    assert 'href="/accountability"' not in client.get("/").get_data(as_text=True)


def test_create_without_csrf_token_is_refused_and_bad_periods_are_shown(db, client, world):
    login(client, world.users["admin"])
    assert 'href="/accountability"' in client.get("/").get_data(as_text=True)
    before = db.session.scalar(sa.select(sa.func.count(AccountabilityCase.id)))
    assert client.post("/accountability/cases", data={**PERIOD, "county": ""}).status_code == 400
    response = client.post("/accountability/cases", data={"csrf_token": csrf(client, "/accountability"),
                                                          "date_from": "2024-01-01", "date_to": "2026-01-01",
                                                          "county": ""})
    assert response.status_code == 422 and 'id="date_to-error">期间至多 366 天。' in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(AccountabilityCase.id))) == before
