"""Dates that follow the penalty procedure (行政处罚法): act (the inspection's day in 金华) ≤ 告知 ≤
today; 告知 + the statement period < 决定 ≤ today unless the party waived it; 决定 ≤ 送达 ≤ today —
and a document's number comes from the series of its own date's year, never a future one.

Refusals are 422 naming the dates, in the service, the API (problem+json) and next to the field
on the case page; a refused step uses no document number.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from case_world import ACT_DATE, PERSON, UNIT, case_world, make_assignment, make_inspection, world  # noqa: F401
from document_helpers import sample
from web_session import csrf, login

from server.accounts.auth import issue_device_token
from server.columns import utcnow
from server.enforcement import case_opening as opening
from server.enforcement import case_transitions
from server.enforcement import documents as document_service
from server.columns import china_today as today
from server.enforcement.models.case import EnforcementCase
from server.enforcement.models.document import Document, DocumentCounter
from server.errors import Invalid
from server.extensions import db as _db

IDPL = "idpl2025_art111_1_1"  # 传染病防治法 第一百一十一条, in force on the act date (2026-03-10)
# 传染病防治法 第一百一十一条: 责令改正 and 警告 always, the fine "可以并处".
FINED = ["order_correction", "warning", "fine"]
FINE = {"types": FINED, "fine_amount": 5000, "basis_code": IDPL}  # a unit's first offence: no hearing right
NOTIFIED_ON = date(2026, 3, 13)  # a Friday: the statement period's last day is Wednesday the 18th


def open_case(cw, violations=None, party=UNIT) -> EnforcementCase:
    return opening.open_case([v.id for v in (violations or cw.violations)], officers=[o.id for o in cw.officers],
                             party=party, circumstance="first", actor=cw.officers[0])


def move(case, to_state, actor, **data):
    return case_transitions.transition(case, to_state, actor=actor, version=case.version, **data)


def notified_case(cw, notified_on=NOTIFIED_ON) -> EnforcementCase:
    case = open_case(cw)
    move(case, "investigating", cw.officers[0])
    move(case, "notified", cw.officers[0], proposed_penalty=FINE, notified_on=notified_on)
    return case


def documents_of(case) -> list[Document]:
    return list(_db.session.scalars(sa.select(Document).where(
        Document.subject_type == "case", Document.subject_id == str(case.id)).order_by(Document.issued_on)))


def refused(case, to_state, actor, field: str, *phrases: str, **data) -> None:
    """The move is a 422 naming `field` and the dates; the case stays where it was, no number used."""
    state, version, issued = case.state, case.version, len(documents_of(case))
    with pytest.raises(Invalid) as caught:
        move(case, to_state, actor, **data)
    problem = caught.value
    assert problem.status == 422 and list(problem.errors) == [field]
    for phrase in phrases:
        assert phrase in problem.detail and phrase in problem.errors[field][0], (phrase, problem.detail)
    assert (case.state, case.version, len(documents_of(case))) == (state, version, issued)


def test_the_notice_follows_the_act_in_beijing_time(db, case_world, make_inspection):
    # 17:00 UTC on 03-09 is 01:00 on 03-10 in 金华: the act's day is the 10th, not the 9th.
    _, violations = make_inspection(checked_in_at=datetime(2026, 3, 9, 17, 0, tzinfo=timezone.utc))
    case = open_case(case_world, violations)
    officer = case_world.officers[0]
    assert case.act_date == date(2026, 3, 10)
    move(case, "investigating", officer)
    refused(case, "notified", officer, "notified_on", "告知日期2026年3月9日", "违法行为发生日期（检查日期）2026年3月10日",
            proposed_penalty=FINE, notified_on=date(2026, 3, 9))
    move(case, "notified", officer, proposed_penalty=FINE, notified_on=date(2026, 3, 10))
    assert case.notified_on == date(2026, 3, 10)


def test_no_procedure_date_lies_in_the_future(db, case_world):
    case = open_case(case_world)
    officer = case_world.officers[0]
    move(case, "investigating", officer)
    tomorrow = today() + timedelta(days=1)
    tomorrow_text = f"{tomorrow.year}年{tomorrow.month}月{tomorrow.day}日"
    refused(case, "notified", officer, "notified_on", f"告知日期{tomorrow_text}晚于今天",
            proposed_penalty=FINE, notified_on=tomorrow)
    move(case, "notified", officer, proposed_penalty=FINE, notified_on=NOTIFIED_ON)
    refused(case, "decided", officer, "decided_on", f"决定日期{tomorrow_text}晚于今天",
            decided_penalty=FINE, decided_on=tomorrow, statement_waived=True)
    move(case, "decided", officer, decided_penalty=FINE, decided_on=date(2026, 3, 19))
    refused(case, "served", officer, "served_on", f"送达日期{tomorrow_text}晚于今天",
            served_on=tomorrow, service_method="direct")


def test_the_decision_is_not_dated_before_its_notice_even_when_waived(db, case_world):
    case = notified_case(case_world)
    refused(case, "decided", case_world.officers[0], "decided_on", "决定日期2026年3月12日", "告知日期2026年3月13日",
            decided_penalty=FINE, decided_on=date(2026, 3, 12), statement_waived=True)


def test_the_decision_waits_until_the_statement_period_has_ended(db, case_world):
    case = notified_case(case_world)
    officer = case_world.officers[0]
    assert case.statement_deadline == date(2026, 3, 18)
    # The period's last day is still the party's.
    refused(case, "decided", officer, "decided_on", "陈述、申辩期限至2026年3月18日止", "决定日期2026年3月18日",
            "2026年3月19日起", decided_penalty=FINE, decided_on=date(2026, 3, 18))
    move(case, "decided", officer, decided_penalty=FINE, decided_on=date(2026, 3, 19))
    assert case.state == "decided" and not case.statement_waived


def test_a_written_waiver_allows_the_decision_on_the_day_of_the_notice(db, case_world):
    case = notified_case(case_world)
    move(case, "decided", case_world.officers[0], decided_penalty=FINE, decided_on=NOTIFIED_ON, statement_waived=True)
    assert (case.state, case.decided_on, case.statement_waived) == ("decided", NOTIFIED_ON, True)


def test_service_follows_the_decision(db, case_world):
    case = notified_case(case_world)
    officer = case_world.officers[0]
    move(case, "decided", officer, decided_penalty=FINE, decided_on=date(2026, 3, 19))
    refused(case, "served", officer, "served_on", "送达日期2026年3月18日", "决定日期2026年3月19日",
            served_on=date(2026, 3, 18), service_method="direct")
    move(case, "served", officer, served_on=date(2026, 3, 19), service_method="direct")
    assert case.state == "served"


def test_numbers_come_from_the_series_of_each_documents_own_year(db, case_world, make_inspection):
    # An act on 2025-12-29 (治安管理处罚法 2012 in force), noticed in 2025, decided in 2026.
    _, violations = make_inspection(checked_in_at=datetime(2025, 12, 29, 1, 30, tzinfo=timezone.utc))
    case = open_case(case_world, violations, party=PERSON)
    officer = case_world.officers[0]
    penalty = {"types": ["fine"], "fine_amount": 200, "basis_code": "psapl2012_art50_1_1"}
    move(case, "investigating", officer)
    move(case, "notified", officer, proposed_penalty=penalty, notified_on=date(2025, 12, 30))
    # Three working days after Tuesday 12-30 end on Friday 01-02.
    assert case.statement_deadline == date(2026, 1, 2)
    move(case, "decided", officer, decided_penalty=penalty, decided_on=date(2026, 1, 5))
    notice, decision = documents_of(case)
    assert (notice.kind, notice.year, notice.issued_on) == ("penalty_notice", 2025, date(2025, 12, 30))
    assert re.search(r"〔2025〕\d+号$", notice.number), notice.number
    assert (decision.kind, decision.year, decision.issued_on) == ("penalty_decision", 2026, date(2026, 1, 5))
    assert re.search(r"〔2026〕\d+号$", decision.number), decision.number


def test_a_document_dated_ahead_of_today_takes_no_number(db, case_world):
    officer = case_world.officers[0]
    next_year = today().year + 1
    ahead = date(next_year, 1, 2)
    context = dict(sample("rectification_order"), deadline=f"{next_year}-12-31")

    def counters() -> int:
        return _db.session.scalar(sa.select(sa.func.count()).select_from(DocumentCounter).where(
            DocumentCounter.year == next_year))

    before = counters()
    with pytest.raises(Invalid, match=f"文书日期{next_year}年1月2日晚于今天") as caught:
        document_service.issue_document("rectification_order", context, actor=officer, subject_type="test",
                                        subject_id="ahead", issued_on=ahead)
    assert list(caught.value.errors) == ["date"]
    assert counters() == before


# --- the API and the case page --------------------------------------------------------------


def bearer(user) -> dict:
    raw, token = issue_device_token(user, "测试终端", channel="api")
    token.last_used_at = utcnow()
    _db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


def test_the_api_answers_a_refused_date_with_a_chinese_problem(client, db, case_world):
    case = open_case(case_world)
    move(case, "investigating", case_world.officers[0])
    _db.session.commit()
    headers = bearer(case_world.officers[0])
    response = client.post(f"/api/v1/cases/{case.id}/transitions", headers=headers, json={
        "to": "notified", "version": case.version, "notified_on": "2026-03-09",
        "proposed_penalty": FINE})
    body = response.get_json()
    assert response.status_code == 422 and response.mimetype == "application/problem+json", body
    assert body["status"] == 422 and "告知日期2026年3月9日早于违法行为发生日期（检查日期）2026年3月10日" in body["detail"]
    assert body["errors"] == {"notified_on": [body["detail"]]}
    assert not re.search(r"[A-Za-z]", body["title"] + body["detail"])

    response = client.post(f"/api/v1/cases/{case.id}/transitions", headers=headers, json={
        "to": "notified", "version": case.version, "notified_on": NOTIFIED_ON.isoformat(), "proposed_penalty": FINE})
    assert response.status_code == 200, response.get_json()
    response = client.post(f"/api/v1/cases/{case.id}/transitions", headers=headers, json={
        "to": "decided", "version": response.get_json()["version"], "decided_on": "2026-03-17",
        "decided_penalty": FINE})
    body = response.get_json()
    assert response.status_code == 422, body
    assert "陈述、申辩期限至2026年3月18日止" in body["detail"] and list(body["errors"]) == ["decided_on"]


def _error_next_to(html: str, field_id: str) -> str:
    """The message the page shows beside the field (the form macro's field__error)."""
    found = re.search(rf'<p class="field__error" id="{re.escape(field_id)}-error">([^<]*)</p>', html)
    assert found, html
    assert f'aria-describedby="{field_id}-error"' in html
    return found.group(1)


def test_the_case_page_shows_the_refused_date_next_to_its_field(client, db, case_world):
    case = notified_case(case_world)
    _db.session.commit()
    login(client, case_world.officers[0])
    token = csrf(client, f"/cases/{case.id}")
    form = {"decided-csrf_token": token, "decided-version": str(case.version),
            "decided-penalty_types": "order_correction+warning+fine", "decided-fine_amount": "5000",
            "decided-basis_code": IDPL, "decided-statement_waived": "y", "decided-confirm": "y"}
    # Before the notice (service rule), then tomorrow (the form's own check).
    response = client.post(f"/cases/{case.id}/transitions/decided",
                           data=dict(form, **{"decided-decided_on": "2026-03-12"}))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "决定日期2026年3月12日早于告知日期2026年3月13日" in _error_next_to(html, "decided-decided_on")
    tomorrow = today() + timedelta(days=1)
    response = client.post(f"/cases/{case.id}/transitions/decided",
                           data=dict(form, **{"decided-decided_on": tomorrow.isoformat()}))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert f"决定日期{tomorrow.year}年{tomorrow.month}月{tomorrow.day}日晚于今天" in _error_next_to(html, "decided-decided_on")
    _db.session.expire_all()
    assert _db.session.get(EnforcementCase, case.id).state == "notified"
