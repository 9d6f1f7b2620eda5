"""What a party reads on its documents (告知书, 决定书, 整改通知书) and on the 检查记录 handed over on
site: amounts in capitals with the figure, percentages in words, dates in 年月日 — and nothing
of the software (commands, API paths, UUIDs, hashes, rule codes, internal ids)."""

from __future__ import annotations

import re
import subprocess
from datetime import date, timedelta

import pytest
from case_world import UNIT, case_world, make_inspection  # noqa: F401  (fixtures)
from document_helpers import ISSUED_ON, sample
from rectification_world import make_assignment, rectification_world, world  # noqa: F401  (fixtures)

from server.enforcement import case_documents, case_transitions, rectification_issuing
from server.enforcement import case_opening as opening
from server.enforcement import documents as document_service
from server.enforcement.models.document import Document
from server.enforcement.rectification_documents import notice_of

IDPL = "idpl2025_art111_1_1"  # 传染病防治法 第一百一十一条第一款第（一）项, in force on 2026-03-10
# 传染病防治法 第一百一十一条: 责令改正 and 警告 always, the fine "可以并处".
FINED = ["order_correction", "warning", "fine"]
NOTIFIED_ON, DECIDED_ON = date(2026, 3, 13), date(2026, 3, 25)

SOFTWARE = {
    "the program's name": re.compile(r"anfang", re.I),
    "an API path": re.compile(r"/api/"),
    "an HTTP method": re.compile(r"\bPOST\b"),
    "a UUID": re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I),
    "a SHA-256": re.compile(r"[0-9a-f]{64}", re.I),
    "a rule code": re.compile(r"(?<![A-Za-z0-9])K\d+"),
    "a check code": re.compile(r"k\d+_[a-z_]+"),
    "an internal case id": re.compile(r"案件编号"),
    "a thousands separator": re.compile(r"\d,\d{3}"),
}


@pytest.fixture(autouse=True)
def evidence_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(tmp_path / "evidence"))


def pdf_text(document: Document) -> tuple[str, str]:
    """pdftotext of the stored PDF: as printed (lines kept) and flattened (a wrapped phrase or a
    hash broken over two lines is found)."""
    path = document_service.document_path(document)
    result = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True,
                            timeout=120)
    text = result.stdout.decode("utf-8")
    return text, "".join(text.split())


def assert_nothing_of_the_software(document: Document) -> None:
    text, flat = pdf_text(document)
    # The 核验码 at the foot is the party's to quote (its letters could read like a rule code, K5…).
    text, flat = text.replace(document.verification_code, ""), flat.replace(document.verification_code, "")
    for what, pattern in SOFTWARE.items():
        for version in (text, flat):
            found = pattern.search(version)
            assert found is None, f"{document.kind} prints {what}: {found.group(0)!r}"


def decided_case(cw, amount: int):
    """A unit that refused, walked to 决定 with a fine; the violations described as the rules do."""
    for violation, words in zip(cw.violations, ("接待人数超过核定人数的一半", "入口未查验健康码"), strict=True):
        violation.description = words
    case = opening.open_case([v.id for v in cw.violations], officers=[o.id for o in cw.officers], party=UNIT,
                             circumstance="refused", actor=cw.officers[0],
                             facts="2026年3月10日9时30分许，当事单位经营的场所未按要求查验健康码。")
    officer, fine = cw.officers[0], {"types": FINED, "fine_amount": amount, "basis_code": IDPL}
    for to_state, data in (("investigating", {}), ("notified", {"proposed_penalty": fine, "notified_on": NOTIFIED_ON}),
                           ("decided", {"decided_penalty": fine, "decided_on": DECIDED_ON})):
        case_transitions.transition(case, to_state, actor=officer, version=case.version, **data)
    return {d.kind: d for d in case_documents.documents_of(case)}


def test_the_notice_and_decision_write_amounts_percentages_and_dates_in_words(db, case_world):
    documents = decided_case(case_world, amount=10300)
    _, notice = pdf_text(documents["penalty_notice"])
    _, decision = pdf_text(documents["penalty_decision"])
    # The amount in capitals (a zero inside it is written 零) with the figure.
    assert "拟对你（单位）作出如下行政处罚：责令改正、警告，并处罚款人民币壹万零叁佰元整（¥10300.00）。" in notice
    assert "现决定：责令被处罚单位改正，给予警告，并处罚款人民币壹万零叁佰元整（¥10300.00）。" in decision
    # The late-payment fee's rate in words.
    assert "每日按罚款数额的百分之三加处罚款" in decision and "百分之3" not in decision
    # Dates in 年月日: the documents' own and the evidence's (Beijing time, 09:30 on 10 March).
    assert "2026年3月13日" in notice and "2026年3月25日" in decision
    assert "入口0，拍摄时间2026年3月10日9时30分" in decision
    assert "检查时间2026年3月10日9时30分" in decision
    # The party's way to check the document: the 核验码 and the public page it is checked at.
    assert f"核验码{documents['penalty_decision'].verification_code}" in decision
    assert f"/v/{documents['penalty_decision'].verification_code}核验本文书真伪" in decision


@pytest.mark.parametrize("kind", ["penalty_notice", "penalty_decision"])
def test_a_penalty_document_prints_nothing_of_the_software(db, case_world, kind):
    documents = decided_case(case_world, amount=10000)
    document = documents[kind]
    assert_nothing_of_the_software(document)
    _, flat = pdf_text(document)
    # What the party needs stays: the number, the organ, the date.
    assert document.number in flat and "金华市卫生健康委员会" in flat
    # The photos' hashes stay in the stored context, for the internal record.
    assert {p.sha256 for p in case_world.photos} <= {item["sha256"] for item in document.context["evidence"]}


def test_the_rectification_notice_prints_nothing_of_the_software(db, rectification_world):
    rw = rectification_world
    order = rectification_issuing.issue_order([rw.violation.id], deadline=rw.today + timedelta(days=7),
                                               requirements="按核定容量的一半限流\n入口设专人查验健康码",
                                               actor=rw.users["enforcement"])
    notice = notice_of(order)
    assert_nothing_of_the_software(notice)
    _, flat = pdf_text(notice)
    deadline = order.deadline
    assert f"于{deadline.year}年{deadline.month}月{deadline.day}日前" in flat
    assert f"核验码{notice.verification_code}" in flat


def issue_record(officer, context: dict) -> Document:
    return document_service.issue_document("inspection_record", context, actor=officer, subject_type="test",
                                           subject_id="1", issued_on=ISSUED_ON)


def test_the_inspection_record_prints_no_command_api_path_uuid_rule_code_or_hash(db, make_user):
    officer = make_user("enforcement")
    context = sample("inspection_record")
    context["inspection_uuid"] = "3f2c9a1e-7b4d-4c2a-9e1f-0a1b2c3d4e5f"
    context["penalties"][0]["basis"] = "idpl2025_art111_1_1"
    document = issue_record(officer, context)
    assert_nothing_of_the_software(document)
    _, flat = pdf_text(document)
    assert "记录编号3f2c9a1e" in flat  # a short number the venue can quote
    assert "idpl2025" not in flat and "SHA-256" not in flat
    # The stored record keeps each photo's hash, the rule codes and the legal basis code.
    assert document.context["photos"][0]["sha256"] == context["photos"][0]["sha256"]
    assert document.context["violations"][0]["rule"] == "K3"
    assert document.context["penalties"][0]["basis"] == "idpl2025_art111_1_1"


def test_the_inspection_record_never_says_no_problem_above_violations(db, make_user):
    officer = make_user("enforcement")
    context = sample("inspection_record")
    context.update(findings=[], penalties=[])
    [photo] = context["photos"]
    photo["finding"] = None
    _, flat = pdf_text(issue_record(officer, context))
    problems = flat.split("二、发现的问题")[1].split("三、违反规则情况")[0]
    assert "未发现问题" not in problems and "见第三项" in problems
    assert "接待人数不超过核定人数的50%" in flat.split("三、违反规则情况")[1]

    context.update(violations=[])
    _, flat = pdf_text(issue_record(officer, context))
    assert "二、发现的问题未发现问题。" in flat
