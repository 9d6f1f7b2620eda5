"""The signed-in verification page (/documents/verify): an auditor uploads a PDF and sees whether it
is an issued original — the facts of the document with the party named in full, both hashes, the
seal, revocation, the audit head — gets Chinese errors for bad uploads, and the check is audited."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from document_helpers import ISSUED_ON, sample
from web_session import csrf, login

from server.audit.models.audit import AuditEvent
from server.enforcement import documents as service
from server.extensions import db as _db

URL = "/documents/verify"
NOTICE_PARTY = sample("penalty_notice")["party"]  # an individual, masked on the public page


@pytest.fixture(autouse=True)
def evidence_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(tmp_path / "evidence"))


@pytest.fixture
def officer(make_user):
    return make_user("enforcement", display_name="执法人员甲某")


@pytest.fixture
def auditor(client, make_user):
    user = make_user("auditor", display_name="纪检审计甲某")
    login(client, user)
    return user


def issue(kind: str, officer):
    document = service.issue_document(kind, sample(kind), actor=officer, subject_type="case", subject_id="0",
                                      issued_on=ISSUED_ON)
    _db.session.commit()
    return document


def upload(client, data: bytes | None, filename: str = "文书.pdf", token: str | None = "from the page"):
    if token == "from the page":
        token = csrf(client, URL)
    form = {} if token is None else {"csrf_token": token}
    if data is not None:
        form["pdf"] = (io.BytesIO(data), filename)
    response = client.post(URL, data=form, content_type="multipart/form-data")
    return response, response.get_data(as_text=True)


def text_of(html: str) -> str:
    return re.sub(r"\s+", "", re.sub(r"<[^>]+>", "", html))


def test_the_auditor_finds_the_page_from_home_and_the_menu(client, db, auditor):
    home = client.get("/").get_data(as_text=True)
    assert f'href="{URL}"' in home and "anfang document verify" not in home
    response = client.get(URL)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'aria-current="page"' in html and 'type="file"' in html


def test_an_issued_original_matches_with_every_fact(client, db, officer, auditor, organ_keys):
    document = issue("penalty_notice", officer)
    data = service.document_path(document).read_bytes()
    response, html = upload(client, data)
    assert response.status_code == 200
    text = text_of(html)
    for shown in ("核验结果：真实有效", "一致：核验通过", "电子签章有效", "行政处罚告知书", document.number,
                  document.organ, "2026年11月28日", NOTICE_PARTY["name"], "已加盖电子签章", "未撤销、未撤回",
                  document.pdf_sha256, f"第{document.audit_head_seq}条", document.verification_code):
        assert shown in text, shown
    assert "核验未通过" not in text and NOTICE_PARTY["id_number"] not in text
    event = _db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "document.verified"))
    assert event.actor_label == auditor.username and event.object_id == document.id
    assert event.details["status"] == "genuine" and event.details["sha256"] == document.pdf_sha256


def test_a_changed_copy_does_not_match(client, db, officer, auditor):
    document = issue("penalty_notice", officer)
    changed = service.document_path(document).read_bytes() + b"\n% appended\n"
    response, html = upload(client, changed)
    text = text_of(html)
    assert response.status_code == 200
    assert "核验结果：已被改动" in text and "不一致：核验未通过" in text and document.number in text
    assert "核验通过" not in text
    import hashlib

    assert hashlib.sha256(changed).hexdigest() in text and document.pdf_sha256 in text


def test_a_pdf_of_no_document_is_unknown(client, db, auditor):
    response, html = upload(client, service.preview_document("penalty_notice"))
    text = text_of(html)
    assert response.status_code == 200 and "核验结果：无法识别" in text and "不一致" in text


def test_bad_uploads_get_chinese_errors(client, db, officer, auditor, app, monkeypatch):
    document = issue("penalty_notice", officer)
    data = service.document_path(document).read_bytes()
    response, html = upload(client, None)
    assert response.status_code == 422 and "请选择要核对的PDF文件" in text_of(html)
    response, html = upload(client, "这不是文书".encode(), filename="说明.txt")
    assert response.status_code == 422 and "所选文件不是PDF文件" in text_of(html)
    response, html = upload(client, data, token=None)
    assert response.status_code == 400 and "页面已过期" in html
    monkeypatch.setitem(app.config, "DOCUMENT_VERIFY_MAX_BYTES", 1000)
    response, html = upload(client, data[:2000])
    assert response.status_code == 413 and "文件过大" in html
    response, html = upload(client, data + bytes(70 * 1024))
    assert response.status_code == 413 and "文件过大" in html
    assert _db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "document.verified")) is None


@pytest.mark.parametrize("role", ["county", "inspector"])
def test_roles_that_do_not_read_documents_are_refused(client, db, make_user, role):
    login(client, make_user(role))
    assert client.get(URL).status_code == 403


def test_anonymous_visitors_go_to_the_login_page(client, db):
    assert client.get(URL).status_code == 302
