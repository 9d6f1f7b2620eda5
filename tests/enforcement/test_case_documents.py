"""The documents of a penalty case: issued by the transitions into 告知 and 决定, with every item the
law requires; refused with nothing stored when an item is missing; previewed and downloaded
from the case page; verified as genuine."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from case_world import PERSON, UNIT, case_world, make_assignment, make_inspection, world  # noqa: F401
from web_session import login

from server.accounts.auth import issue_device_token
from server.audit.models.audit import AuditEvent
from server.columns import utcnow
from server.enforcement import case_documents, case_transitions
from server.enforcement import case_opening as opening
from server.enforcement import cases as service
from server.enforcement import documents as document_service
from server.enforcement.document_catalogue import load_catalogue
from server.enforcement.models.case import EnforcementCase
from server.enforcement.models.document import Document, DocumentCounter
from server.errors import Invalid
from server.extensions import db as _db

IDPL = "idpl2025_art111_1_1"  # 传染病防治法 第一百一十一条第一款第（一）项, in force on 2026-03-10
# 传染病防治法 第一百一十一条: 责令改正 and 警告 always, the fine "可以并处".
WARNED = ["order_correction", "warning"]
FINED = ["order_correction", "warning", "fine"]
NOTIFIED_ON = date(2026, 3, 13)
DECIDED_ON = date(2026, 3, 25)  # after the statement (03-18) and hearing-request (03-18) periods


# --- helpers -----------------------------------------------------------------------------------


def open_case(cw, party=UNIT, circumstance="first") -> EnforcementCase:
    return opening.open_case([v.id for v in cw.violations], officers=[o.id for o in cw.officers], party=party,
                             circumstance=circumstance, actor=cw.officers[0],
                             facts="2026年3月10日9时30分许，当事人经营的场所未按要求查验健康码，且接待人数超过核定人数的50%。")


def move(case, to_state, actor, **data):
    return case_transitions.transition(case, to_state, actor=actor, version=case.version, **data)


def decided(cw, party=UNIT, circumstance="refused", amount=10000) -> EnforcementCase:
    """A case walked to 决定 with a fine; a unit that refused (10000 yuan) has the hearing right."""
    case = open_case(cw, party, circumstance)
    officer = cw.officers[0]
    fine = {"types": FINED, "fine_amount": amount, "basis_code": IDPL}
    move(case, "investigating", officer)
    move(case, "notified", officer, proposed_penalty=fine, notified_on=NOTIFIED_ON)
    move(case, "decided", officer, decided_penalty=fine, decided_on=DECIDED_ON)
    return case


def case_documents_of(case) -> dict[str, Document]:
    return {d.kind: d for d in case_documents.documents_of(case)}


def flat_text(data: bytes, tmp_path: Path, name: str) -> str:
    """pdftotext of the PDF without spaces and line breaks, so that a wrapped phrase is found."""
    path = tmp_path / name
    path.write_bytes(data)
    result = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=False,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return "".join(result.stdout.decode("utf-8").split())


def stored_bytes(document: Document) -> bytes:
    return document_service.document_path(document).read_bytes()


def counters() -> dict:
    return {(row.kind, row.year): row.last_serial for row in _db.session.scalars(sa.select(DocumentCounter))}


def bearer(user) -> dict:
    raw, token = issue_device_token(user, "测试终端", channel="api")
    token.last_used_at = utcnow()
    _db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


# --- issuing -----------------------------------------------------------------------------------


def test_walking_a_case_to_decided_issues_both_documents(db, case_world):
    case = decided(case_world)
    documents = case_documents_of(case)
    assert set(documents) == {"penalty_notice", "penalty_decision"}
    notice, decision = documents["penalty_notice"], documents["penalty_decision"]
    assert (notice.subject_type, notice.subject_id, notice.issued_on) == ("case", str(case.id), NOTIFIED_ON)
    assert (decision.subject_type, decision.subject_id, decision.issued_on) == ("case", str(case.id), DECIDED_ON)
    # 传染病防治法 第一百一十一条 names the disease-control department: its organ issues both, in
    # its own series (organs.yaml), not the public-security bureau.
    assert notice.number == f"金卫（疾控）行罚告字〔2026〕{notice.serial}号"
    assert decision.number == f"金卫（疾控）行罚决字〔2026〕{decision.serial}号"
    assert (notice.organ, decision.organ) == ("金华市卫生健康委员会", "金华市卫生健康委员会")
    assert notice.context["authority"] == decision.context["authority"] == "金华市卫生健康委员会"
    # The transitions' audit events name the document each issued.
    for to_state, document in (("notified", notice), ("decided", decision)):
        event = _db.session.scalar(sa.select(AuditEvent).where(
            AuditEvent.action == f"case.{to_state}", AuditEvent.object_id == str(case.id)))
        assert event.details["document"] == {"id": document.id, "kind": document.kind, "number": document.number}
    # The case's answer lists them with their download address.
    listed = service.detail(case)["documents"]
    assert [(d["kind"], d["number"], d["download_url"]) for d in listed] == [
        ("penalty_notice", notice.number, f"/api/v1/documents/{notice.id}/pdf"),
        ("penalty_decision", decision.number, f"/api/v1/documents/{decision.id}/pdf")]


def test_the_decision_carries_every_item_the_law_requires(db, case_world, tmp_path):
    case = decided(case_world)
    decision = case_documents_of(case)["penalty_decision"]
    text = flat_text(stored_bytes(decision), tmp_path, "decision.pdf")
    periods = load_catalogue().periods
    expected = [
        UNIT["unit_name"], UNIT["credit_code"], f"法定代表人（负责人）{UNIT['legal_representative']}", UNIT["address"],
        "当事人经营的场所未按要求查验健康码",  # the facts as the case records them
        # the combination (责令改正 and 警告 mandatory, the fine added), the fine in capitals with the figure
        "现决定：责令被处罚单位改正，给予警告，并处罚款人民币壹万元整（¥10000.00）",
        "《中华人民共和国传染病防治法》第一百一十一条第一款第（一）项",  # the law and article in force on the act date
        f"自收到本决定书之日起{periods['payment_days']}日内",  # how and by when
        f"{periods['review_days']}日内向金华市人民政府申请行政复议",
        f"{periods['lawsuit_months']}个月内依法向金华市婺城区人民法院提起行政诉讼",
        "金华市卫生健康委员会",  # the authority: the organ the basis names (organs.yaml)
        "2026年3月25日",  # the date
        decision.number,
    ]
    for item in expected:
        assert "".join(item.split()) in text, item
    # The officer's facts are printed as typed, with no list of the checks (their codes and
    # requirements) appended after them.
    assert "k3_visitors_within_half_capacity" not in text and "经查，存在下列" not in text
    # Each photo is listed by its caption and time; its SHA-256 stays in the stored context.
    evidence = {item["sha256"] for item in decision.context["evidence"]}
    for photo in case_world.photos:
        assert photo.sha256 in evidence and photo.sha256 not in text
    assert (periods["payment_days"], periods["review_days"], periods["lawsuit_months"]) == (15, 60, 6)


def test_an_individual_decision_names_the_id_number_and_address(db, case_world, tmp_path):
    case = decided(case_world, party=PERSON, circumstance="first", amount=200)
    text = flat_text(stored_bytes(case_documents_of(case)["penalty_decision"]), tmp_path, "decision.pdf")
    for item in (PERSON["name"], f"身份证件号码{PERSON['id_number']}", f"住址{PERSON['address']}",
                 "责令被处罚人改正，给予警告，并处罚款人民币贰佰元整（¥200.00）"):
        assert item in text, item


PSAPL = "psapl2025_art61_1_1"  # 治安管理处罚法 第六十一条, in force on 2026-03-10


def test_a_detention_with_a_fine_is_issued_by_public_security_in_its_own_series(db, case_world, tmp_path):
    """治安管理处罚法 names 公安机关: 金华市公安局 issues, numbering its series; a 传染病防治法 case
    decided alongside is the disease-control organ's, in a series of its own (both start at 1)."""
    disease_control = decided(case_world)
    cw = case_world
    case = opening.open_case([cw.other_violation.id], officers=[o.id for o in cw.officers], party=PERSON,
                             circumstance="serious", actor=cw.officers[0],
                             facts="2026年3月10日9时30分许，当事人拒不执行人民政府在紧急状态情况下依法发布的决定。")
    officer = cw.officers[0]
    penalty = {"types": ["detention", "fine"], "detention_days": 5, "fine_amount": 500, "basis_code": PSAPL}
    move(case, "investigating", officer)
    move(case, "notified", officer, proposed_penalty=penalty, notified_on=NOTIFIED_ON)
    # An adult: under the 2025 law detention gives a hearing right to minors only, and 500 yuan is
    # below every fine threshold.
    assert not case.hearing_offered
    move(case, "decided", officer, decided_penalty=penalty, decided_on=DECIDED_ON)
    documents = case_documents_of(case)
    notice, decision = documents["penalty_notice"], documents["penalty_decision"]
    assert (notice.number, decision.number) == ("金公（治）行罚告字〔2026〕1号", "金公（治）行罚决字〔2026〕1号")
    assert notice.organ == decision.organ == "金华市公安局"
    others = case_documents_of(disease_control)
    assert others["penalty_decision"].number == "金卫（疾控）行罚决字〔2026〕1号"
    notice_text = flat_text(stored_bytes(notice), tmp_path, "notice.pdf")
    assert "拟对你（单位）作出如下行政处罚：行政拘留五日，并处罚款人民币伍佰元整（¥500.00）" in notice_text
    text = flat_text(stored_bytes(decision), tmp_path, "decision.pdf")
    for item in ("金华市公安局", "《中华人民共和国治安管理处罚法》第六十一条第一款第（一）项",
                 "现决定：对被处罚人处以行政拘留五日，并处罚款人民币伍佰元整（¥500.00）",
                 "行政拘留由本机关送拘留所执行", "向金华市人民政府申请行政复议"):
        assert item in text, item
    assert service.detail(case)["decided_penalty"]["description"] == "行政拘留5日并处罚款500元"


def test_a_detention_alone_is_executed_by_public_security(db, case_world):
    cw = case_world
    case = opening.open_case([cw.other_violation.id], officers=[o.id for o in cw.officers], party=PERSON,
                             circumstance="refused", actor=cw.officers[0],
                             facts="2026年3月10日9时30分许，当事人经劝导仍拒不执行。")
    case.decided_penalty_types, case.decided_detention_days, case.decided_basis_code = ["detention"], 7, PSAPL
    context = case_documents.penalty_decision_context(case)
    assert context["authority"] == "金华市公安局"
    assert context["penalty"] == {"description": "对被处罚人处以行政拘留七日", "fine_amount": None}
    assert context["execution"] == {"method": "行政拘留由本机关送拘留所执行"}
    assert context["remedies"] == {"review_body": "金华市人民政府", "court": "金华市婺城区人民法院"}


def test_the_notice_names_facts_reasons_basis_and_rights(db, case_world, tmp_path):
    case = decided(case_world)
    assert case.hearing_offered
    text = flat_text(stored_bytes(case_documents_of(case)["penalty_notice"]), tmp_path, "notice.pdf")
    for item in ("一、违法事实", "当事人经营的场所未按要求查验健康码", "二、理由", "属单位拒不配合",
                 "三、依据", "《中华人民共和国传染病防治法》第一百一十一条第一款第（一）项",
                 "拟对你（单位）作出如下行政处罚：责令改正、警告，并处罚款人民币壹万元整（¥10000.00）",
                 "陈述权和申辩权", "陈述、申辩", "有权要求举行听证", "2026年3月13日"):
        assert item in text, item


def test_a_notice_without_hearing_right_says_nothing_of_a_hearing(db, case_world, tmp_path):
    case = decided(case_world, party=PERSON, circumstance="first", amount=200)
    assert not case.hearing_offered
    text = flat_text(stored_bytes(case_documents_of(case)["penalty_notice"]), tmp_path, "notice.pdf")
    assert "陈述、申辩" in text and "听证" not in text


def test_numbers_are_consecutive_per_kind_and_year(db, case_world, make_inspection):
    first = decided(case_world)
    _, violations = make_inspection(checks=("k10_health_code",))
    second = opening.open_case([v.id for v in violations], officers=[o.id for o in case_world.officers],
                               party=UNIT, circumstance="first", actor=case_world.officers[0])
    officer = case_world.officers[0]
    move(second, "investigating", officer)
    move(second, "notified", officer, proposed_penalty={"types": WARNED, "fine_amount": None, "basis_code": IDPL},
         notified_on=NOTIFIED_ON)
    a, b = case_documents_of(first), case_documents_of(second)
    assert b["penalty_notice"].serial == a["penalty_notice"].serial + 1
    assert b["penalty_notice"].year == a["penalty_notice"].year == 2026
    assert "penalty_decision" not in b  # the decision counter is its own
    assert counters()[("penalty_decision", 2026)] == a["penalty_decision"].serial


def test_a_missing_party_item_refuses_the_notice_and_uses_no_number(db, case_world):
    # An individual's address is optional when a case is opened but the notice must name it.
    case = open_case(case_world, party={k: v for k, v in PERSON.items() if k != "address"})
    officer = case_world.officers[0]
    move(case, "investigating", officer)
    before = counters()
    with pytest.raises(Invalid) as caught:
        move(case, "notified", officer, proposed_penalty={"types": FINED, "fine_amount": 200, "basis_code": IDPL},
             notified_on=NOTIFIED_ON)
    assert list(caught.value.errors) == ["party.address"] and "当事人住址" in caught.value.detail
    assert (case.state, case.version, case.proposed_penalty_types) == ("investigating", 2, None)
    assert counters() == before and case_documents.documents_of(case) == []
    move(case, "notified", officer, proposed_penalty={"types": FINED, "fine_amount": 200, "basis_code": IDPL},
         notified_on=NOTIFIED_ON, party={"address": "金华市金东区某路3号"})
    assert case.party_address == "金华市金东区某路3号" and list(case_documents_of(case)) == ["penalty_notice"]


def test_a_unit_without_legal_representative_cannot_be_notified_until_it_is_completed(client, db, case_world,
                                                                                       tmp_path):
    # 立案 needs what identifies the unit; its legal representative may be found in the investigation.
    case = open_case(case_world, party={k: v for k, v in UNIT.items() if k != "legal_representative"})
    move(case, "investigating", case_world.officers[0])
    _db.session.commit()
    officer = bearer(case_world.officers[0])
    url = f"/api/v1/cases/{case.id}/transitions"
    body = {"to": "notified", "version": 2, "notified_on": "2026-03-13",
            "proposed_penalty": {"types": FINED, "fine_amount": 5000, "basis_code": IDPL}}
    before = counters()
    response = client.post(url, headers=officer, json=body)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert list(problem["errors"]) == ["party.legal_representative"] and "法定代表人" in problem["detail"]
    _db.session.expire_all()
    assert _db.session.get(EnforcementCase, case.id).state == "investigating"
    assert counters() == before
    assert _db.session.scalar(sa.select(sa.func.count(Document.id)).where(Document.subject_type == "case",
                                                                         Document.subject_id == str(case.id))) == 0
    # Completed with the notice: the notice names the representative; the audit names the item, not the value.
    response = client.post(url, headers=officer, json=dict(body, party={"legal_representative": "赵某"}))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["party"]["legal_representative"] == "赵某"
    [notice] = response.get_json()["documents"]
    event = _db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "case.notified",
                                                           AuditEvent.object_id == str(case.id)))
    assert event.details["party_completed"] == ["legal_representative"] and "赵某" not in str(event.details)
    stored = _db.session.get(Document, notice["id"])
    assert "法定代表人（负责人）赵某" in flat_text(stored_bytes(stored), tmp_path, "notice.pdf")
    # After the notice the party is what the documents say.
    refused = client.post(url, headers=officer, json={
        "to": "decided", "version": 3, "decided_on": "2026-03-19", "party": {"address": "别处"},
        "decided_penalty": {"types": FINED, "fine_amount": 5000, "basis_code": IDPL}})
    assert refused.status_code == 422 and list(refused.get_json()["errors"]) == ["party"]


def test_the_party_kind_is_not_changed_by_completion(db, case_world):
    case = open_case(case_world)
    with pytest.raises(Invalid) as caught:
        move(case, "investigating", case_world.officers[0], party={"kind": "individual", "name": "李某"})
    assert list(caught.value.errors) == ["party.kind"] and case.state == "filed"


def test_without_a_chinese_font_the_decision_is_refused_and_nothing_stored(db, case_world, app, monkeypatch,
                                                                          tmp_path):
    case = open_case(case_world)
    officer = case_world.officers[0]
    fine = {"types": FINED, "fine_amount": 5000, "basis_code": IDPL}
    move(case, "investigating", officer)
    move(case, "notified", officer, proposed_penalty=fine, notified_on=NOTIFIED_ON)
    empty = tmp_path / "fonts.conf"
    empty.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig></fontconfig>')
    monkeypatch.setitem(app.config, "REPORT_FONTCONFIG_FILE", str(empty))
    before = counters()
    with pytest.raises(Exception) as caught:
        move(case, "decided", officer, decided_penalty=fine, decided_on=DECIDED_ON)
    assert caught.value.status == 503 and "中文字体" in caught.value.detail
    assert (case.state, case.decided_penalty_types) == ("notified", None)
    assert counters() == before and set(case_documents_of(case)) == {"penalty_notice"}


# --- pages ---------------------------------------------------------------------------------------


def test_the_case_page_previews_the_next_document_without_storing_anything(client, db, case_world, tmp_path):
    case = open_case(case_world)
    move(case, "investigating", case_world.officers[0])
    login(client, case_world.officers[0])
    preview_url = f"/cases/{case.id}/documents/penalty_notice/preview"
    assert preview_url in client.get(f"/cases/{case.id}").get_data(as_text=True)
    before = (counters(), _db.session.scalar(sa.select(sa.func.count(Document.id))))
    response = client.get(preview_url)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = flat_text(response.get_data(), tmp_path, "preview.pdf")
    assert "样稿" in text and "行政处罚告知书" in text and UNIT["unit_name"] in text and "（待填写）" in text
    assert (counters(), _db.session.scalar(sa.select(sa.func.count(Document.id)))) == before
    # Only what the next transition issues.
    assert client.get(f"/cases/{case.id}/documents/penalty_decision/preview").status_code == 404
    assert client.get(f"/cases/{case.id}/documents/rectification_order/preview").status_code == 404


def test_download_serves_the_stored_bytes_to_enforcement_only_and_they_verify(app, client, db, case_world, cli,
                                                                             tmp_path):
    case = decided(case_world)
    decision = case_documents_of(case)["penalty_decision"]
    _db.session.commit()
    url = f"/documents/{decision.id}.pdf"
    inspector = app.test_client()
    login(inspector, case_world.users["team_leader"])
    with inspector.get(url) as refused:
        assert refused.status_code == 404
    login(client, case_world.officers[0])
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert url in page and decision.number in page
    with client.get(url) as response:
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        data = response.get_data()
    assert data == stored_bytes(decision)
    path = tmp_path / "downloaded.pdf"
    path.write_bytes(data)
    result = cli.invoke(args=["document", "verify", str(path)])
    assert result.exit_code == 0 and "文件真实有效" in result.output and decision.number in result.output


def test_the_api_case_answer_lists_the_documents(client, db, case_world):
    case = decided(case_world)
    officer = bearer(case_world.officers[0])
    body = client.get(f"/api/v1/cases/{case.id}", headers=officer).get_json()
    assert [d["kind"] for d in body["documents"]] == ["penalty_notice", "penalty_decision"]
    decision = body["documents"][1]
    assert set(decision) == {"id", "kind", "title", "number", "issued_on", "issued_at", "download_url"}
    assert decision["issued_on"] == DECIDED_ON.isoformat() and decision["title"] == "行政处罚决定书"
    with client.get(decision["download_url"], headers=officer) as pdf:
        assert pdf.status_code == 200 and pdf.get_data() == stored_bytes(_db.session.get(Document, decision["id"]))
