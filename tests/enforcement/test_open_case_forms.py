"""Opening a case through the pages as the enforcement officer does: one venue's violations named
as people know them, the party proposed from the venue, credit codes checked, refusals next to
their fields; and the case page listing every document issued for the case."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from case_world import case_world, make_assignment, make_inspection, world  # noqa: F401
from web_session import CSRF, login

from server.enforcement import documents as document_service
from server.enforcement import rectification_issuing as issuing
from server.enforcement.models.case import EnforcementCase
from server.columns import china_today
from server.extensions import db as _db
from server.field.models.inspection import Inspection
from server.registry.credit_code import CHECK_MESSAGE, FORMAT_MESSAGE
from server.registry.models.reference import Rule

CREDIT_CODE = "91330782MA2ABCDE1H"  # check character computed from GB 32100's weights
# 2026-03-10 09:30 in 金华: when the world's violations were found (CHECKED_IN_AT, stored in UTC).
FOUND_AT = "2026-03-10 09:30"


@pytest.fixture(autouse=True)
def evidence_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(tmp_path / "evidence"))


@pytest.fixture
def officer(client, db, case_world):
    case_world.world.venue.credit_code = CREDIT_CODE
    login(client, case_world.officers[0])
    return case_world.officers[0]


def new_case_url(violations) -> str:
    return "/cases/new?" + "&".join(f"violation={v.id}" for v in violations)


def field_error(html: str, field: str) -> str:
    """The message shown next to a field of the form (empty when there is none)."""
    found = re.search(rf'<p class="field__error" id="{field}-error">([^<]*)</p>', html)
    return found.group(1) if found else ""


def form_data(client, cw, **overrides) -> dict:
    page = client.get(new_case_url(cw.violations)).get_data(as_text=True)
    data = {"csrf_token": CSRF.search(page).group(1), "venue_id": cw.world.venue.id,
            "violation_ids": [v.id for v in cw.violations], "party_kind": "unit",
            "party_unit_name": cw.world.venue.name, "party_credit_code": CREDIT_CODE,
            "party_legal_representative": "王某", "party_address": cw.world.venue.address,
            "circumstance": "first", "officer1": cw.officers[0].id, "officer2": cw.officers[1].id}
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def assert_no_internal_paths(html: str) -> None:
    # Neither the service's field paths (party.name：必填。) nor its other keys are shown to people.
    assert "party." not in html and not re.search(r"(violation_ids|officers|circumstance)：", html)


def test_the_party_is_proposed_from_the_venue(client, officer, case_world):
    venue = case_world.world.venue
    page = client.get(new_case_url(case_world.violations))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for name, value in (("party_unit_name", venue.name), ("party_address", venue.address),
                        ("party_legal_representative", venue.operator_name), ("party_credit_code", CREDIT_CODE),
                        ("party_phone", venue.contact_phone)):
        assert re.search(rf'id="{name}" [^>]*value="{re.escape(value)}"', html), name
    assert '<option selected value="unit">单位</option>' in html
    # The venue alone names the case too.
    by_venue = client.get(f"/cases/new?venue={venue.id}").get_data(as_text=True)
    assert all(f'value="{v.id}"' in by_venue for v in case_world.violations) and CREDIT_CODE in by_venue
    assert_no_internal_paths(html)


def test_violations_are_named_with_venue_time_and_rule(client, officer, case_world):
    html = client.get(new_case_url(case_world.violations)).get_data(as_text=True)
    title = _db.session.scalar(sa.select(Rule.title).where(Rule.code == case_world.violations[0].rule_code))
    assert title and title in html
    assert f"{case_world.world.venue.name}，{FOUND_AT} 检查" in html
    for v in case_world.violations:
        assert f"{v.id}：{v.rule_code}" not in html
    # Only this venue's violations are offered.
    assert f'value="{case_world.other_violation.id}"' not in html


@pytest.mark.parametrize(("code", "message"), [
    ("91330782MA2ABCDE1X", CHECK_MESSAGE),  # the issue's example
    ("91330782MA2ABCDEZH", FORMAT_MESSAGE),
])
def test_a_wrong_credit_code_is_refused_next_to_the_field(client, officer, case_world, code, message):
    response = client.post("/cases/new", data=form_data(client, case_world, party_credit_code=code))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "party_credit_code") == message
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(EnforcementCase)) == 0
    # After the refusal the page still offers this venue's violations, by name, ticked as they were.
    assert all(re.search(rf'checked[^>]*value="{v.id}"|value="{v.id}"[^>]*checked', html) for v in case_world.violations)
    assert f"{case_world.world.venue.name}，{FOUND_AT} 检查" in html
    assert f'value="{case_world.other_violation.id}"' not in html
    assert_no_internal_paths(html)


def test_a_lower_case_code_is_accepted_and_kept_in_capitals(client, officer, case_world):
    response = client.post("/cases/new", data=form_data(client, case_world, party_credit_code=CREDIT_CODE.lower()))
    assert response.status_code == 302, response.get_data(as_text=True)
    case = _db.session.scalar(sa.select(EnforcementCase))
    assert case.party_credit_code == CREDIT_CODE and case.venue_id == case_world.world.venue.id


def test_mixing_two_venues_is_refused_next_to_the_field(client, officer, case_world):
    cw = case_world
    ids = [v.id for v in cw.violations] + [cw.other_violation.id]
    response = client.post("/cases/new", data=form_data(client, cw, violation_ids=ids))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    message = field_error(html, "violation_ids")
    assert "一个案件只能包含同一场所的违规问题" in message
    assert cw.world.venue.name in message and cw.world.other_venue.name in message
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(EnforcementCase)) == 0
    assert_no_internal_paths(html)

    # Ticked together on the queue: the page says so and offers one case per venue.
    page = client.get(new_case_url([*cw.violations, cw.other_violation]))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "一个案件只能包含同一场所的违规问题" in html
    assert new_case_url(cw.violations).replace("&", "&amp;") in html
    assert new_case_url([cw.other_violation]) in html


def test_service_refusals_appear_next_to_their_fields(client, officer, case_world):
    # A unit without its name: the service requires it; the form shows it beside the field.
    response = client.post("/cases/new", data=form_data(client, case_world, party_unit_name=""))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "party_unit_name") == "请填写单位名称。"
    assert_no_internal_paths(html)
    same = client.post("/cases/new", data=form_data(client, case_world, officer2=case_world.officers[0].id))
    html = same.get_data(as_text=True)
    assert same.status_code == 422 and "两名不同的执法人员" in field_error(html, "officer2")
    assert_no_internal_paths(html)


def test_every_problem_is_shown_at_once(client, officer, case_world):
    other_county = case_world.world.other_venue.county
    response = client.post("/cases/new", data=form_data(client, case_world, party_unit_name="",
                                                        party_credit_code="91330782MA2ABCDE1X",
                                                        party_address=f"{other_county.name}某路8号"))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "party_credit_code") == CHECK_MESSAGE
    assert field_error(html, "party_unit_name") == "请填写单位名称。"
    assert other_county.name in field_error(html, "party_address")
    assert_no_internal_paths(html)


def test_a_party_address_in_another_county_must_be_confirmed(client, officer, case_world):
    other_county = case_world.world.other_venue.county
    address = f"{other_county.name}某路8号"
    refused = client.post("/cases/new", data=form_data(client, case_world, party_address=address))
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert f"地址在{other_county.name}，不在本案场所所在的{case_world.world.venue.county.name}" in \
        field_error(html, "party_address")
    assert 'name="party_address_confirmed"' in html
    confirmed = client.post("/cases/new", data=form_data(client, case_world, party_address=address,
                                                         party_address_confirmed="y"))
    assert confirmed.status_code == 302, confirmed.get_data(as_text=True)
    assert _db.session.scalar(sa.select(EnforcementCase.party_address)) == address


def test_the_case_page_lists_and_downloads_every_issued_document(client, officer, case_world):
    cw = case_world
    response = client.post("/cases/new", data=form_data(client, cw))
    assert response.status_code == 302, response.get_data(as_text=True)
    case = _db.session.scalar(sa.select(EnforcementCase))
    order = issuing.issue_order([], case=case, deadline=china_today() + timedelta(days=7),
                                requirements="控制接待人数", actor=officer, channel="web")
    inspection = _db.session.get(Inspection, cw.violations[0].inspection_id)
    record = document_service.issue_document("inspection_record", document_service.sample_context("inspection_record"),
                                             actor=officer, subject_type="inspection", subject_id=inspection.uuid)
    _db.session.commit()
    notice = _db.session.scalar(sa.select(document_service.Document).where(
        document_service.Document.subject_type == "rectification_order",
        document_service.Document.subject_id == str(order.id)))

    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    for document in (notice, record):
        # A row of the documents table: its title, its number, and the link to its PDF.
        row = re.search(rf"<tr><td>{re.escape(document_service.document_title(document))}</td>"
                        rf"<td>{re.escape(document.number)}</td>.*?</tr>", html)
        assert row and f'href="/documents/{document.id}.pdf"' in row.group(0), document.kind
    download = client.get(f"/documents/{notice.id}.pdf")
    try:
        assert download.status_code == 200 and download.mimetype == "application/pdf"
        assert download.data.startswith(b"%PDF")
    finally:
        download.close()
