"""Case pages: queue, violations, opening a case, the case page and a transition through the browser."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from case_world import UNIT, case_world, make_assignment, make_inspection, world  # noqa: F401
from web_session import CSRF, csrf, login

from server.audit.models.audit import AuditEvent
from server.enforcement import case_opening as opening
from server.enforcement import case_transitions
from server.enforcement import cases as service
from server.enforcement.models.case import EnforcementCase
from server.extensions import db as _db

# A code whose GB 32100 check character is right: the form checks it.
CREDIT_CODE = "91330701MA2D12345J"
IDPL = "idpl2025_art111_1_1"  # 传染病防治法 第一百一十一条, in force on the act date (2026-03-10)


def open_committed(cw, circumstance="first") -> EnforcementCase:
    case = opening.open_case([v.id for v in cw.violations], officers=[o.id for o in cw.officers], party=UNIT,
                             circumstance=circumstance, actor=cw.officers[0])
    _db.session.commit()
    return case


@pytest.fixture
def case(db, case_world) -> EnforcementCase:
    return open_committed(case_world)


def test_enforcement_sees_queue_and_case_page(client, db, case_world, case):
    login(client, case_world.officers[0])
    queue = client.get("/cases")
    html = queue.get_data(as_text=True)
    assert queue.status_code == 200 and f"第 {case.id} 号" in html and "执法办案" in html
    filtered = client.get("/cases", query_string={"state": "notified"}).get_data(as_text=True)
    assert f"第 {case.id} 号" not in filtered and "没有符合条件的案件" in filtered
    assert f"第 {case.id} 号" in client.get("/cases", query_string={
        "county_id": case_world.world.venue.county_id, "overdue": "0"}).get_data(as_text=True)
    page = client.get(f"/cases/{case.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert UNIT["unit_name"] in html and case_world.officers[0].enforcement_certificate_no in html
    for photo in case_world.photos:
        assert f"/evidence/{photo.sha256}/thumbnail" in html
    # One form per allowed transition, each with its own button.
    assert f"/cases/{case.id}/transitions/investigating" in html and f"/cases/{case.id}/transitions/revoked" in html
    assert f"/cases/{case.id}/transitions/closed" not in html
    assert "开始调查取证" in html and "撤销案件" in html


@pytest.mark.parametrize("role", ["office"])
def test_office_reads_without_transition_forms(client, db, case_world, case, role):
    login(client, case_world.users[role])
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert f"第 {case.id} 号案件" in html and "/transitions/" not in html


@pytest.mark.parametrize("url", ["/cases", "/violations", "/cases/new", "/cases/{id}"])
def test_inspector_gets_403(client, db, case_world, case, url):
    login(client, case_world.users["team_leader"])
    assert client.get(url.format(id=case.id)).status_code == 403


def test_transition_through_the_browser_needs_csrf(client, db, case_world, case):
    login(client, case_world.officers[0])
    url = f"/cases/{case.id}/transitions/investigating"
    without = client.post(url, data={"investigating-version": "1"})
    assert without.status_code == 400
    db.session.expire_all()
    assert db.session.get(EnforcementCase, case.id).state == "filed"
    token = csrf(client, f"/cases/{case.id}")
    response = client.post(url, data={"investigating-csrf_token": token, "investigating-version": "1",
                                      "investigating-note": "调取监控"})
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    stored = db.session.get(EnforcementCase, case.id)
    assert stored.state == "investigating" and stored.version == 2
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "case.investigating"))
    assert event.channel == "web" and event.actor_id == case_world.officers[0].id
    # The same form again, from the old version: refused with the reason on the page.
    stale = client.post(url, data={"investigating-csrf_token": token, "investigating-version": "1"})
    assert stale.status_code == 409 and "请刷新后重试" in stale.get_data(as_text=True)


def test_revoking_needs_the_confirmation(client, db, case_world, case):
    login(client, case_world.officers[0])
    token = csrf(client, f"/cases/{case.id}")
    url = f"/cases/{case.id}/transitions/revoked"
    unconfirmed = client.post(url, data={"revoked-csrf_token": token, "revoked-version": "1",
                                         "revoked-reason": "重复立案"})
    assert unconfirmed.status_code == 422 and "请勾选确认" in unconfirmed.get_data(as_text=True)
    confirmed = client.post(url, data={"revoked-csrf_token": token, "revoked-version": "1",
                                       "revoked-reason": "重复立案", "revoked-confirm": "y"})
    assert confirmed.status_code == 302
    db.session.expire_all()
    assert db.session.get(EnforcementCase, case.id).state == "revoked"


def test_notice_through_the_browser(client, db, case_world):
    # A unit whose offence is serious: 10000–20000 yuan, which carries the hearing right.
    case = open_committed(case_world, "serious")
    officer = case_world.officers[0]
    case_transitions.transition(case, "investigating", actor=officer, version=1)
    _db.session.commit()
    login(client, officer)
    token = csrf(client, f"/cases/{case.id}")
    response = client.post(f"/cases/{case.id}/transitions/notified", data={
        "notified-csrf_token": token, "notified-version": "2",
        "notified-penalty_types": "order_correction+warning+fine", "notified-fine_amount": "20000",
        "notified-basis_code": IDPL, "notified-notified_on": "2026-03-13",
        "notified-party_address": " 金华市婺城区新址5号 ", "notified-party_legal_representative": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    stored = db.session.get(EnforcementCase, case.id)
    assert (stored.state, stored.proposed_amount, stored.hearing_offered) == ("notified", 20000, True)
    # The form completes the party before the notice; a blank field leaves the item as it was.
    assert (stored.party_address, stored.party_legal_representative) == ("金华市婺城区新址5号", UNIT["legal_representative"])
    assert stored.hearing_request_deadline.isoformat() == "2026-03-18"
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "陈述、申辩期限至 2026-03-18" in html and "作出处罚决定" in html
    # The basis is named as the documents name it, not by its code.
    assert "（依据 《中华人民共和国传染病防治法》第一百一十一条" in html
    assert service.detail(stored)["proposed_penalty"]["description"] == "责令改正、警告并处罚款20000元"
    # The notice was issued with the transition; the page links it and previews the decision to come.
    [notice] = service.detail(stored)["documents"]
    assert notice["kind"] == "penalty_notice" and notice["number"] in html
    assert f"/documents/{notice['id']}.pdf" in html
    assert f"/cases/{case.id}/documents/penalty_decision/preview" in html
    assert f"/cases/{case.id}/documents/penalty_notice/preview" not in html
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "case.notified",
                                                          AuditEvent.object_id == str(case.id)))
    assert event.channel == "web" and event.details["document"]["number"] == notice["number"]


def test_notice_outside_the_benchmark_is_refused_on_the_page(client, db, case_world, case):
    officer = case_world.officers[0]
    case_transitions.transition(case, "investigating", actor=officer, version=1)
    _db.session.commit()
    login(client, officer)
    token = csrf(client, f"/cases/{case.id}")
    # A unit's first offence: at most 5000 yuan.
    response = client.post(f"/cases/{case.id}/transitions/notified", data={
        "notified-csrf_token": token, "notified-version": "2",
        "notified-penalty_types": "order_correction+warning+fine", "notified-fine_amount": "20000",
        "notified-basis_code": IDPL, "notified-notified_on": "2026-03-13"})
    html = response.get_data(as_text=True)
    assert response.status_code == 409, html
    assert ("单位初次违法的裁量基准为：责令改正、警告；或责令改正、警告并处罚款5000元以下；"
            "拟处责令改正、警告并处罚款20000元，罚款超出该范围") in html
    db.session.expire_all()
    stored = db.session.get(EnforcementCase, case.id)
    assert (stored.state, stored.version, stored.proposed_amount) == ("investigating", 2, None)


def test_open_and_decline_from_the_violation_page(client, db, case_world):
    cw = case_world
    login(client, cw.officers[0])
    html = client.get("/violations").get_data(as_text=True)
    assert all(v.description in html for v in cw.violations)
    token = csrf(client, "/violations")
    declined = client.post("/violations/decline", data={"csrf_token": token, "violation_ids": [cw.other_violation.id],
                                                        "reason": "已当场整改"})
    assert declined.status_code == 302
    assert cw.other_violation.description not in client.get("/violations").get_data(as_text=True)

    query = "&".join(f"violation={v.id}" for v in cw.violations)
    form = client.get(f"/cases/new?{query}")
    assert form.status_code == 200 and cw.officers[1].enforcement_certificate_no in form.get_data(as_text=True)
    token = CSRF.search(form.get_data(as_text=True)).group(1)
    data = {"csrf_token": token, "venue_id": cw.world.venue.id, "violation_ids": [v.id for v in cw.violations],
            "party_kind": "unit",
            "party_unit_name": UNIT["unit_name"], "party_credit_code": CREDIT_CODE,
            "party_legal_representative": UNIT["legal_representative"], "circumstance": "repeated",
            "officer1": cw.officers[0].id, "officer2": cw.officers[0].id}
    same_officer = client.post("/cases/new", data=data)
    assert same_officer.status_code == 422 and "两名不同的执法人员" in same_officer.get_data(as_text=True)
    response = client.post("/cases/new", data=dict(data, officer2=cw.officers[1].id))
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    [case] = db.session.scalars(sa.select(EnforcementCase)).all()
    assert case.circumstance == "repeated" and response.headers["Location"].endswith(f"/cases/{case.id}")


def test_navigation_shows_cases_to_enforcement_and_office_only(client, db, case_world):
    login(client, case_world.officers[0])
    assert 'href="/cases"' in client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    login(client, case_world.users["team_leader"])
    assert 'href="/cases"' not in client.get("/").get_data(as_text=True)


def test_evidence_photos_are_served_to_the_session_with_the_api_rules(client, db, app, case_world, case):
    import hashlib
    import io
    import os
    from pathlib import Path

    from PIL import Image

    from server.field import evidence_store as evidence_service
    from server.field.models.evidence import EvidenceFile

    # Stored as a completed upload stores it: the original only; variants are made when first asked for.
    image = Image.frombytes("RGB", (640, 480), os.urandom(640 * 480 * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    original = buffer.getvalue()
    digest = hashlib.sha256(original).hexdigest()
    photo = case_world.photos[0]
    photo.sha256 = digest
    root = Path(app.config["EVIDENCE_DIR"])
    stored = root / evidence_service.original_path(digest)
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_bytes(original)
    thumbnail_path = root / evidence_service.variant_path(digest, "thumbnail")
    db.session.add(EvidenceFile(sha256=digest, size=len(original), media_type="image/jpeg", width=640, height=480,
                                stored_path=evidence_service.original_path(digest),
                                variants={name: evidence_service.variant_path(digest, name)
                                          for name in evidence_service.VARIANTS},
                                uploaded_by_id=case_world.users["team_leader"].id))
    _db.session.commit()
    assert not thumbnail_path.exists()

    def fetch(url):
        # Files are streamed: close each answer so that its file is closed.
        response = client.get(url)
        try:
            return response.status_code, response.data, response.headers.get("Cache-Control")
        finally:
            response.close()

    login(client, case_world.officers[0])
    assert f"/evidence/{digest}/thumbnail" in client.get(f"/cases/{case.id}").get_data(as_text=True)
    status, thumbnail, cache = fetch(f"/evidence/{digest}/thumbnail")
    assert (status, cache) == (200, "private, no-store")
    # Made on this first request, from the original, and kept.
    assert thumbnail_path.read_bytes() == thumbnail
    with Image.open(io.BytesIO(thumbnail)) as variant:
        assert variant.format == "JPEG" and variant.size == (320, 240)
    assert fetch(f"/evidence/{digest}")[:2] == (200, original)
    assert fetch(f"/evidence/{'0' * 64}")[0] == 404
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    # An inspector who did not upload it, and propaganda (redacted material images only): 404.
    login(client, case_world.users["team_member"])
    assert fetch(f"/evidence/{digest}/thumbnail")[0] == 404
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    login(client, case_world.users["propaganda"])
    assert fetch(f"/evidence/{digest}")[0] == 404
    assert fetch(f"/evidence/{digest}/public")[0] == 404


def test_the_penalty_form_offers_the_bases_in_force_with_the_cases_range_and_combinations(app, db, case_world):
    from case_world import PERSON

    from server.enforcement.web.case_forms import transition_data, transition_form

    unit = opening.open_case([v.id for v in case_world.violations], officers=[o.id for o in case_world.officers],
                             party=UNIT, circumstance="first", actor=case_world.officers[0])
    person = opening.open_case([case_world.other_violation.id], officers=[o.id for o in case_world.officers],
                               party=PERSON, circumstance="serious", actor=case_world.officers[0])
    with app.test_request_context():
        form = transition_form("notified", case=unit)
        bases = {choice.value: choice.label for choice in form.basis_code.choices}
        # The versions in force on the act date (2026-03-10), labelled with what this case may get.
        assert bases[IDPL] == ("《传染病防治法》第一百一十一条第一款第（一）项"
                               "（责令改正、警告；或责令改正、警告并处罚款5000元以下）")
        assert bases["psapl2025_art61_1_1"].endswith("（本案情形没有裁量基准）")
        assert "psapl2012_art50_1_1" not in bases and "idpl2013_art42" not in bases
        # Those of the bases' benchmarks for a unit's first offence (突发事件应对法 第九十八条: 责令改正).
        assert {c.value: c.label for c in form.penalty_types.choices} == {
            "": "请选择", "order_correction+warning": "责令改正、警告",
            "order_correction+warning+fine": "责令改正、警告并处罚款", "order_correction": "责令改正"}
        form = transition_form("notified", case=person)
        combinations = {c.value: c.label for c in form.penalty_types.choices}
        assert combinations["detention"] == "行政拘留"
        assert combinations["detention+fine"] == "行政拘留并处罚款"
        assert "fine" not in combinations  # a serious case: never a fine without detention
        assert "行政拘留5日以上10日以下" in {c.value: c.label for c in form.basis_code.choices}["psapl2025_art61_1_1"]
        form.version.data, form.penalty_types.data, form.fine_amount.data = "2", "detention+fine", 500
        form.detention_days.data, form.basis_code.data = 5, "psapl2025_art61_1_1"
        data = transition_data("notified", form)
    assert data["proposed_penalty"] == {"types": ["detention", "fine"], "fine_amount": 500, "detention_days": 5,
                                        "basis_code": "psapl2025_art61_1_1"}
