"""Each document kind issued as a PDF: the A4 page and text area of GB/T 9704, Chinese text that
extracts, embedded CJK fonts, a well-formed file, the number in its 〔year〕N号 form, every item the
law requires. (The 行政执法文书 head, close and foot: test_enforcement_format.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from document_helpers import ISSUED_ON, KINDS, MM, flat_text, pdffonts, pdftotext, qpdf_check, run, sample, write

from server.audit.models.audit import AuditEvent
from server.enforcement import documents as service
from server.enforcement.models.document import Document, DocumentCounter
from server.errors import Invalid
from server.pdf.fonts import MissingCJKFont, _families, cjk_font_families

TITLES = {"penalty_notice": "行政处罚告知书", "penalty_decision": "行政处罚决定书",
          "rectification_order": "责令（限期）整改通知书", "inspection_record": "检查记录"}
NUMBER_PREFIX = {"penalty_notice": "金公（治）行罚告字", "penalty_decision": "金公（治）行罚决字",
                 "rectification_order": "金公（治）责改字", "inspection_record": "金市疫情防指办检"}


@pytest.fixture(autouse=True)
def evidence_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(tmp_path / "evidence"))


@pytest.fixture
def officer(make_user):
    return make_user("enforcement")


def issue(kind, officer, context=None, **overrides):
    return service.issue_document(kind, sample(kind) if context is None else context, actor=officer,
                                  subject_type="test", subject_id="1", issued_on=ISSUED_ON, **overrides)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_renders_to_a_pdf_with_chinese_text_and_embedded_cjk_fonts(db, officer, kind, tmp_path):
    document = issue(kind, officer)
    path = service.document_path(document)
    assert path.read_bytes().startswith(b"%PDF-")
    assert document.serial >= 1 and document.year == 2026
    assert document.number == f"{NUMBER_PREFIX[kind]}〔2026〕{document.serial}号"

    text = flat_text(path)
    assert TITLES[kind] in text
    # The number under the title, exactly as GB/T 9704 writes it: full year in 〔〕, no 第, no
    # leading zero.
    head = text.split(TITLES[kind], 1)[1][:40]
    [printed] = re.findall(r"〔(\d{4})〕(\d+)号", head)
    assert printed == ("2026", str(document.serial))
    assert "第" not in head.split("号")[0]
    # The foot says how to check the document: its 核验码 and the public page; the id and the
    # content code stay in the PDF's Info dictionary and the stored row, off the printed page.
    assert f"核验码{document.verification_code}" in text
    assert document.id not in text and document.content_sha256 not in text
    assert "2026年11月28日" in text

    fonts = pdffonts(path)
    assert fonts and all(font["emb"] == "yes" for font in fonts), fonts
    # A Chinese face: FandolFang (make install) or, without it, Noto CJK.
    assert any("Fandol" in font["name"] or "CJK" in font["name"] for font in fonts), fonts
    check = qpdf_check(path)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("kind", KINDS)
def test_page_is_a4_and_body_text_stays_inside_the_156_by_225_mm_text_area(db, officer, kind):
    path = service.document_path(issue(kind, officer))
    html = pdftotext(path, "-bbox")
    pages = re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', html, re.S)
    assert pages
    left, top, right, bottom = 28 * MM, 37 * MM, (28 + 156) * MM, (37 + 225) * MM
    for width, height, words in pages:
        assert (round(float(width), 1), round(float(height), 1)) == (595.3, 841.9)  # A4
        boxes = [tuple(map(float, box)) + (word,) for *box, word in re.findall(
            r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<', words)]
        body = [box for box in boxes if box[1] < bottom]  # below the text area: page number, verification
        assert body
        assert min(box[0] for box in body) >= left - 0.5
        assert max(box[2] for box in body) <= right + 0.5
        assert min(box[1] for box in body) >= top - 1
        foot = [box for box in boxes if box[1] >= bottom]
        assert any(re.fullmatch(r"\d+", box[4]) for box in foot), "page number below the text area"


def test_every_page_says_which_page_of_how_many_it_is_at_the_right_of_its_foot(db, officer):
    context = sample("penalty_decision")
    context["evidence"] = [{"name": f"证据{i}", "description": "现场照片", "sha256": "a" * 64} for i in range(60)]
    path = service.document_path(issue("penalty_decision", officer, context))
    pages = re.findall(r"<page [^>]*>(.*?)</page>", pdftotext(path, "-bbox"), re.S)
    assert len(pages) >= 2
    for number, words in enumerate(pages, start=1):
        foot = [(float(x), word) for x, y, word in re.findall(
            r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="[\d.]+">([^<]*)<', words)
            if float(y) > (37 + 225) * MM]
        assert "".join(word for _, word in foot if word in ("第", "页", "共") or word.isdigit()).endswith(
            f"第{number}页共{len(pages)}页"), foot
        assert min(x for x, word in foot if word == "第") > 105 * MM, "at the right of the foot"


def test_decision_prints_every_item_the_law_requires(db, officer, tmp_path):
    context = sample("penalty_decision")
    context["party"] = {"kind": "individual", "name": "李某某", "id_number": "330702198001010000",
                        "address": "金华市婺城区示例路2号", "gender": "男"}
    document = issue("penalty_decision", officer, context)
    text = flat_text(service.document_path(document))
    for item in ("李某某", "330702198001010000", "金华市婺城区示例路2号",  # the party
                 "当事单位在本市疫情防控指挥部要求KTV暂停营业期间",  # facts
                 "现场检查笔录", "询问笔录",  # evidence
                 "对当事单位处以罚款人民币贰佰元整（¥200.00）",  # penalty
                 "《中华人民共和国治安管理处罚法》第五十条第一款第（一）项",  # legal basis
                 "自收到本决定书之日起15日内", "持本决定书到中国工商银行金华分行各营业网点缴纳罚款",  # execution
                 "60日内向金华市人民政府申请行政复议", "6个月内依法向金华市婺城区人民法院提起行政诉讼",  # remedies
                 "金华市公安局", "2026年11月28日"):  # authority, date
        assert item in text, item
    unit = flat_text(service.document_path(issue("penalty_decision", officer)))
    assert "法定代表人（负责人）王某某" in unit and "金华市婺城区示例娱乐有限公司" in unit


def test_notice_names_facts_reasons_basis_and_the_rights_to_state_defend_and_ask_for_a_hearing(db, officer):
    text = flat_text(service.document_path(issue("penalty_notice", officer)))
    for item in ("一、违法事实", "仍开放营业", "二、理由", "拒不执行人民政府在紧急状态情况下", "三、依据",
                 "《中华人民共和国治安管理处罚法》第五十条", "四、拟作出的行政处罚", "陈述权和申辩权",
                 "收到本告知书之日起3日内", "有权要求举行听证", "收到本告知书之日起5日内", "330702198001010000"):
        assert item in text, item


def test_rectification_order_and_record_print_their_content(db, officer):
    order = flat_text(service.document_path(issue("rectification_order", officer)))
    assert "入口处未查验顾客健康码和行程卡" in order and "2026年12月5日前" in order
    assert "《中华人民共和国传染病防治法》第三十九条" in order
    record = flat_text(service.document_path(issue("inspection_record", officer)))
    # The photo with its caption; its SHA-256 stays in the stored context.
    assert "示例民俗博物馆" in record and "照片1：展厅入口" in record
    assert "b9f0d723d44dbaa6c2a5d6e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4" not in record


def test_issuing_stores_exactly_what_was_rendered_and_audits(db, officer):
    document = issue("penalty_decision", officer)
    db.session.expire_all()
    stored = db.session.get(Document, document.id)
    assert stored.content_sha256 == service.content_sha256("penalty_decision", stored.number, stored.context)
    assert stored.context["party"]["name"] == "金华市婺城区示例娱乐有限公司"
    assert "15日内" in stored.context["texts"]["payment"]
    data = service.document_path(stored).read_bytes()
    import hashlib

    assert hashlib.sha256(data).hexdigest() == stored.pdf_sha256 and len(data) == stored.pdf_size
    assert oct(service.document_path(stored).stat().st_mode & 0o777) == "0o440"
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.object_id == document.id))
    assert event.action == "document.issued" and event.details["number"] == document.number


def test_values_are_escaped_never_markup(db, officer):
    context = sample("penalty_decision")
    context["facts"] = '<img src="file:///etc/hostname"><b>加粗</b>'
    path = service.document_path(issue("penalty_decision", officer, context))
    assert '<img src="file:///etc/hostname"><b>加粗</b>' in pdftotext(path).replace("\n", "")


def test_preview_marks_a_draft_leaves_the_number_blank_and_stores_nothing(db, tmp_path):
    before = db.session.scalar(sa.select(sa.func.count()).select_from(Document))
    counters = db.session.scalar(sa.select(sa.func.count()).select_from(DocumentCounter))
    for kind in KINDS:
        path = write(tmp_path, service.preview_document(kind), f"{kind}.pdf")
        text = flat_text(path)
        assert TITLES[kind] in text and "样稿（未编号" in text
        assert re.search(r"〔\d{4}〕号", text), "the serial is left blank"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Document)) == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DocumentCounter)) == counters


def test_without_a_cjk_font_nothing_is_rendered_and_no_number_is_used(app, db, officer, tmp_path, monkeypatch):
    empty = tmp_path / "fonts.conf"
    empty.write_text('<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig></fontconfig>')
    with pytest.raises(MissingCJKFont) as refused:
        cjk_font_families(str(empty))
    assert "fonts-noto-cjk" in refused.value.detail
    assert cjk_font_families() and any("CJK" in name for name in cjk_font_families())

    monkeypatch.setitem(app.config, "REPORT_FONTCONFIG_FILE", str(empty))
    counter = db.session.get(DocumentCounter, ("penalty_decision", "金华市公安局", 2026))
    last = counter.last_serial if counter else 0
    with pytest.raises(MissingCJKFont):
        issue("penalty_decision", officer)
    with pytest.raises(MissingCJKFont):
        service.preview_document("penalty_notice")
    counter = db.session.get(DocumentCounter, ("penalty_decision", "金华市公安局", 2026))
    assert (counter.last_serial if counter else 0) == last
    assert not (Path(app.config["EVIDENCE_DIR"]) / "documents").exists()
    _families.cache_clear()


def test_an_invalid_context_uses_no_number(db, officer):
    issue("rectification_order", officer)
    last = db.session.get(DocumentCounter, ("rectification_order", "金华市公安局", 2026)).last_serial
    context = sample("rectification_order")
    del context["problems"]
    with pytest.raises(Invalid):
        issue("rectification_order", officer, context)
    assert issue("rectification_order", officer).serial == last + 1


def test_tools_are_present():
    for tool in ("pdftotext", "pdffonts", "qpdf"):
        assert run(tool, "-v").returncode in (0, 99) or run(tool, "--version").returncode == 0
