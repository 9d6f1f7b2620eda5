"""Verification: the issued file is genuine; a changed byte, appended bytes or a qpdf re-save are
altered; a PDF this server did not issue is unknown — on the API and on the command line."""

from __future__ import annotations

import re
import subprocess
import uuid
import zlib

import pytest
from document_helpers import ISSUED_ON, bearer, run, sample, write

from server.enforcement import documents as service
from server.extensions import db as _db

VERIFY = "/api/v1/documents/verify"


@pytest.fixture(autouse=True)
def evidence_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(tmp_path / "evidence"))


@pytest.fixture
def issued(db, make_user):
    officer = make_user("enforcement")
    document = service.issue_document("penalty_decision", sample("penalty_decision"), actor=officer,
                                      subject_type="case", subject_id="42", issued_on=ISSUED_ON)
    return document, service.document_path(document).read_bytes()


def change_a_content_stream_byte(data: bytes) -> bytes:
    """Inflate the first page content stream, change one drawing operator's number, deflate it back."""
    for match in re.finditer(rb"/Length (\d+)[^>]*>>\s*stream\r?\n", data):
        start, length = match.end(), int(match[1])
        try:
            content = zlib.decompress(data[start:start + length])
        except zlib.error:
            continue
        if b" Tf" not in content and b"re" not in content:
            continue
        changed = re.sub(rb"(\d+)\.(\d)", lambda m: m[1] + b"." + bytes([48 + (int(m[2]) + 1) % 10]), content, count=1)
        assert changed != content
        packed = zlib.compress(changed)
        head = data[:match.start()] + match.group(0).replace(match[1], str(len(packed)).encode())
        return head + packed + data[start + length:]
    raise AssertionError("no content stream found")


def flip_one_byte(data: bytes) -> bytes:
    """One byte inside a compressed content stream, leaving the file's structure alone."""
    match = next(re.finditer(rb"stream\r?\n", data))
    position = match.end() + 40
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1:]


def qpdf_resave(data: bytes, tmp_path, *options: str) -> bytes:
    source, target = write(tmp_path, data, "in.pdf"), tmp_path / "out.pdf"
    result = run("qpdf", *options, str(source), str(target))
    assert result.returncode in (0, 3), result.stderr
    return target.read_bytes()


ALTERATIONS = {
    "content stream edited": lambda data, tmp: change_a_content_stream_byte(data),
    "one byte flipped": lambda data, tmp: flip_one_byte(data),
    "bytes appended": lambda data, tmp: data + b"\n% appended\n",
    "qpdf re-save": lambda data, tmp: qpdf_resave(data, tmp),
    "qpdf object streams": lambda data, tmp: qpdf_resave(data, tmp, "--object-streams=generate"),
}


def test_the_issued_file_is_genuine(client, db, make_user, issued):
    document, data = issued
    headers = bearer(make_user("auditor"))
    _db.session.commit()
    response = client.post(VERIFY, headers=headers, data=data, content_type="application/pdf")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "genuine" and body["genuine"] is True
    assert body["document"]["id"] == document.id and body["document"]["number"] == document.number
    assert document.number in body["message"]


@pytest.mark.parametrize("how", ALTERATIONS)
def test_an_altered_file_is_rejected_naming_the_document(client, db, make_user, issued, tmp_path, how):
    document, data = issued
    altered = ALTERATIONS[how](data, tmp_path)
    assert altered != data
    result = service.verify_pdf(altered)
    assert (result.status, result.genuine, result.document.id) == ("altered", False, document.id)
    headers = bearer(make_user("office"))
    _db.session.commit()
    body = client.post(VERIFY, headers=headers, data=altered, content_type="application/pdf").get_json()
    assert body["status"] == "altered" and body["genuine"] is False and body["document_id"] == document.id


def test_a_pdf_this_server_did_not_issue_is_unknown(client, db, make_user, tmp_path):
    preview = service.preview_document("penalty_notice")
    assert service.verify_pdf(preview).status == "unknown"
    forged = preview.replace(b"/Producer", b"/AnfangDocumentId (" + str(uuid.uuid4()).encode() + b") /Producer", 1)
    result = service.verify_pdf(forged)
    assert result.status == "unknown" and result.document is None
    headers = bearer(make_user("inspector"))
    _db.session.commit()
    body = client.post(VERIFY, headers=headers, data=preview, content_type="application/pdf").get_json()
    assert body["status"] == "unknown" and body["genuine"] is False
    not_pdf = client.post(VERIFY, headers=headers, data=b"hello", content_type="application/pdf")
    assert not_pdf.status_code == 422
    assert client.post(VERIFY, data=preview, content_type="application/pdf").status_code == 401


def test_verify_by_hash_accepts_the_file_hash_or_the_printed_content_code(client, db, make_user, issued):
    document, _ = issued
    headers = bearer(make_user("auditor"))
    _db.session.commit()
    url = f"/api/v1/documents/{document.id}/verify"
    by_file = client.get(url, query_string={"sha256": document.pdf_sha256}, headers=headers).get_json()
    assert by_file["genuine"] is True and by_file["matched"] == "pdf"
    by_code = client.get(url, query_string={"sha256": document.content_sha256.upper()}, headers=headers).get_json()
    assert by_code["genuine"] is True and by_code["matched"] == "content"
    wrong = client.get(url, query_string={"sha256": "0" * 64}, headers=headers).get_json()
    assert wrong["genuine"] is False and wrong["matched"] is None
    assert client.get(url, query_string={"sha256": "xyz"}, headers=headers).status_code == 422
    assert client.get(url, headers=headers).status_code == 422
    missing = client.get(f"/api/v1/documents/{uuid.uuid4()}/verify", query_string={"sha256": "0" * 64},
                         headers=headers)
    assert missing.status_code == 404
    assert client.get("/api/v1/documents/not-a-uuid/verify", query_string={"sha256": "0" * 64},
                      headers=headers).status_code == 404


def test_metadata_and_pdf_download_by_role(client, db, make_user, issued):
    document, data = issued
    users = {role: bearer(make_user(role)) for role in ("office", "enforcement", "admin", "auditor", "inspector",
                                                         "propaganda")}
    _db.session.commit()
    for role in ("office", "enforcement", "admin"):
        with client.get(f"/api/v1/documents/{document.id}/pdf", headers=users[role]) as response:
            assert response.status_code == 200 and response.data == data
            assert response.headers["Cache-Control"] == "no-store"
    for role in ("auditor", "inspector", "propaganda"):
        assert client.get(f"/api/v1/documents/{document.id}/pdf", headers=users[role]).status_code == 403
    meta = client.get(f"/api/v1/documents/{document.id}", headers=users["auditor"])
    assert meta.status_code == 200
    body = meta.get_json()
    assert body["number"] == document.number and body["pdf_sha256"] == document.pdf_sha256
    assert body["subject_type"] == "case" and body["subject_id"] == "42" and body["issued_on"] == "2026-11-28"
    assert client.get(f"/api/v1/documents/{document.id}", headers=users["inspector"]).status_code == 403
    assert client.get(f"/api/v1/documents/{uuid.uuid4()}", headers=users["office"]).status_code == 404


def test_cli_verify_exits_0_for_genuine_and_1_for_altered_or_unknown(cli, db, issued, tmp_path):
    document, data = issued
    genuine = cli.invoke(args=["document", "verify", str(write(tmp_path, data, "a.pdf"))])
    assert genuine.exit_code == 0, genuine.output
    assert "真实有效" in genuine.output and document.number in genuine.output and document.id in genuine.output
    altered = cli.invoke(args=["document", "verify", str(write(tmp_path, data + b"%x\n", "b.pdf"))])
    assert altered.exit_code == 1 and "已被改动" in altered.output and document.number in altered.output
    resaved = cli.invoke(args=["document", "verify", str(write(tmp_path, qpdf_resave(data, tmp_path), "c.pdf"))])
    assert resaved.exit_code == 1 and "已被改动" in resaved.output
    unknown = cli.invoke(args=["document", "verify", str(write(tmp_path, service.preview_document("penalty_notice"),
                                                                 "d.pdf"))])
    assert unknown.exit_code == 1 and "无法识别" in unknown.output
    missing = cli.invoke(args=["document", "verify", str(tmp_path / "nope.pdf")])
    assert missing.exit_code == 1 and "无法读取" in missing.output


def test_cli_preview_writes_a_draft(cli, db, tmp_path):
    out = tmp_path / "preview.pdf"
    result = cli.invoke(args=["document", "preview", "rectification_order", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF-") and "已生成样稿" in result.output
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, check=True).stdout.decode()
    assert "样稿" in "".join(text.split())
    assert cli.invoke(args=["document", "preview", "nonsense", "--out", str(out)]).exit_code != 0
