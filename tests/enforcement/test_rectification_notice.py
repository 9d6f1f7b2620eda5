"""An order is issued with its 责令（限期）整改通知书: numbered, with the party, the problems, the
legal basis in force, the requirements and the deadline; without a notice there is no order."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta

import pytest
import sqlalchemy as sa
from rectification_world import make_assignment, rectification_world, world  # noqa: F401

from server.enforcement import rectification as service
from server.enforcement import rectification_issuing as issuing
from server.enforcement.documents import verify_pdf
from server.enforcement.models.document import Document
from server.enforcement.models.rectification import RectificationOrder
from server.errors import Invalid
from server.field.evidence_store import evidence_root
from server.registry.models.venue import Venue


def pdf_text(document: Document) -> str:
    path = evidence_root() / document.pdf_path
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def test_an_order_is_issued_with_its_numbered_notice(db, rectification_world):
    rw = rectification_world
    officer = rw.users["enforcement"]
    order = issuing.issue_order([rw.violation.id], deadline=rw.today + timedelta(days=7),
                                requirements="按核定容量的50%限流\n入口设专人查验健康码", actor=officer)
    detail = service.detail(order, officer)
    notice = db.session.get(Document, detail["notice"]["id"])
    assert notice.kind == "rectification_order" and notice.subject_id == str(order.id)
    assert re.fullmatch(r"金公（治）责改字〔\d{4}〕[1-9]\d*号", notice.number)
    assert detail["notice"]["download_url"] == f"/api/v1/documents/{notice.id}/pdf"
    text = re.sub(r"\s+", "", pdf_text(notice))
    for words in ("责令（限期）整改通知书", notice.number, rw.museum.name, "张三", rw.violation.description,
                  "按核定容量的50%限流", "入口设专人查验健康码", "中华人民共和国传染病防治法",
                  f"{order.deadline.year}年{order.deadline.month}月{order.deadline.day}日"):
        assert re.sub(r"\s+", "", words) in text, words
    # The version of the provision in force on the day of issue is the one printed.
    article = "第一百一十一条" if order.issued_on.isoformat() >= "2025-09-01" else "第四十二条"
    assert article in text
    assert verify_pdf((evidence_root() / notice.pdf_path).read_bytes()).genuine


def test_without_a_person_in_charge_no_order_and_no_number(db, rectification_world):
    rw = rectification_world
    db.session.execute(sa.update(Venue).where(Venue.id == rw.museum.id).values(operator_name=None))
    db.session.expire_all()
    before = db.session.scalar(sa.select(sa.func.count(Document.id)))
    # As in a request, the refusal rolls back what the order had flushed.
    with pytest.raises(Invalid, match="法定代表人"):
        with db.session.begin_nested():
            issuing.issue_order([rw.violation.id], deadline=rw.today + timedelta(days=7), requirements="限流",
                                actor=rw.users["enforcement"])
    assert db.session.scalar(sa.select(sa.func.count(Document.id))) == before
    assert db.session.scalar(sa.select(sa.func.count(RectificationOrder.id))) == 0
