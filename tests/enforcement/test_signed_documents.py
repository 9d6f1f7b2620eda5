"""Issued documents carry their organ's PAdES signature, applied after rendering and before the
file's SHA-256 is recorded: the stored hash is the signed file's, `anfang document verify` and the
API report the signature in words; a changed byte, another CA and no keys at all each show."""

from __future__ import annotations

import hashlib
import subprocess

import pytest
import sqlalchemy as sa
from case_world import UNIT, case_world, make_assignment, make_inspection, world  # noqa: F401  (fixtures)
from document_helpers import ISSUED_ON, KINDS, bearer, sample, write
from web_session import login

from server.audit.models.audit import AuditEvent
from server.enforcement import case_opening as opening
from server.enforcement import documents as service
from server.enforcement.document_catalogue import document_kind
from server.enforcement.organs import seal_of
from server.extensions import db as _db
from server.pdf.local_ca import ensure_local_ca
from server.pdf.signing import TRUST_ROOTS_FILE

VERIFY = "/api/v1/documents/verify"
POLICE = "金华市公安局"


@pytest.fixture(autouse=True)
def evidence_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(tmp_path / "evidence"))


def issue(kind: str, officer):
    return service.issue_document(kind, sample(kind), actor=officer, subject_type="case", subject_id="42",
                                  issued_on=ISSUED_ON)


def pdfsig(path) -> str:
    result = subprocess.run(["pdfsig", str(path)], capture_output=True, timeout=60)
    return result.stdout.decode("utf-8", "replace")


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_signed_by_its_organ_before_its_hash_is_recorded(db, make_user, organ_keys, kind):
    document = issue(kind, make_user("enforcement"))
    data = service.document_path(document).read_bytes()
    assert hashlib.sha256(data).hexdigest() == document.pdf_sha256 and len(data) == document.pdf_size
    organ = document_kind(kind).authority
    report = pdfsig(service.document_path(document))
    # An organ signs with its seal: its own name, or the short form its numbers use when the name
    # does not fit an X.509 name (the leading office).
    assert f"Signer Certificate Common Name: {seal_of(organ)}" in report
    assert "Signature Validation: Signature is Valid." in report and "Total document signed" in report
    result = service.verify_pdf(data)
    assert result.genuine and result.signature.valid and result.signature.signer == seal_of(organ)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "document.issued",
                                                          AuditEvent.object_id == document.id))
    assert event.details["signed_by"] == seal_of(organ) and event.details["pdf_sha256"] == document.pdf_sha256
    assert service.document_signature(document)["signed"] is True


def test_verify_reports_the_signature_on_the_api_and_the_command_line(client, cli, db, make_user, organ_keys,
                                                                      tmp_path):
    document = issue("penalty_decision", make_user("enforcement"))
    data = service.document_path(document).read_bytes()
    headers = bearer(make_user("auditor"))
    _db.session.commit()
    body = client.post(VERIFY, headers=headers, data=data, content_type="application/pdf").get_json()
    assert body["status"] == "genuine"
    signature = body["signature"]
    assert signature["status"] == "valid" and signature["valid"] is True and signature["signer"] == POLICE
    assert signature["message"].startswith(f"电子签章有效：由“{POLICE}”于") and signature["signed_at"]
    assert client.get(f"/api/v1/documents/{document.id}", headers=headers).get_json()["signed"] is True

    genuine = cli.invoke(args=["document", "verify", str(write(tmp_path, data, "a.pdf"))])
    assert genuine.exit_code == 0, genuine.output
    assert "真实有效" in genuine.output and "电子签章有效" in genuine.output and POLICE in genuine.output


def test_a_byte_changed_after_signing_is_altered_and_breaks_the_signature(client, cli, db, make_user, organ_keys,
                                                                          tmp_path):
    document = issue("penalty_decision", make_user("enforcement"))
    data = service.document_path(document).read_bytes()
    position = data.index(b"stream", 2000) + 60  # inside a signed page content stream
    changed = data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1:]
    result = service.verify_pdf(changed)
    assert result.status == "altered" and result.document.id == document.id
    assert result.signature.status == "invalid" and "签章后被改动" in result.signature.message

    appended = service.verify_pdf(data + b"\n% appended\n")
    assert appended.status == "altered" and appended.signature.status == "modified"

    altered = cli.invoke(args=["document", "verify", str(write(tmp_path, changed, "b.pdf"))])
    assert altered.exit_code == 1 and "已被改动" in altered.output and "电子签章无效" in altered.output
    headers = bearer(make_user("office"))
    _db.session.commit()
    body = client.post(VERIFY, headers=headers, data=changed, content_type="application/pdf").get_json()
    assert body["status"] == "altered" and body["signature"]["valid"] is False


def test_a_document_signed_under_another_ca_is_not_trusted(app, db, make_user, organ_keys, tmp_path, monkeypatch):
    # A server holding a key of the right name from a CA the verifier does not trust.
    ensure_local_ca(tmp_path / "other", [POLICE], ca_name="别处的根证书", organization="别处", locality="别处")
    monkeypatch.setitem(app.config, "DOCUMENT_SIGNING_DIR", str(tmp_path / "other"))
    monkeypatch.setitem(app.config, "DOCUMENT_TRUST_ROOTS", str(organ_keys / TRUST_ROOTS_FILE))
    document = issue("penalty_decision", make_user("enforcement"))
    data = service.document_path(document).read_bytes()
    assert "Signature is Valid." in pdfsig(service.document_path(document))
    result = service.verify_pdf(data)
    assert result.genuine and result.signature.status == "untrusted" and not result.signature.valid
    assert "不是受信任的机关证书" in result.signature.message


def test_without_keys_documents_are_issued_unsigned_and_the_page_says_so(client, db, make_user, case_world):
    case = opening.open_case([v.id for v in case_world.violations], officers=[o.id for o in case_world.officers],
                             party=UNIT, circumstance="first", actor=case_world.officers[0])
    document = service.issue_document("penalty_notice", sample("penalty_notice"), actor=case_world.officers[0],
                                      subject_type="case", subject_id=str(case.id), issued_on=ISSUED_ON)
    data = service.document_path(document).read_bytes()
    assert hashlib.sha256(data).hexdigest() == document.pdf_sha256 and b"/ByteRange" not in data
    result = service.verify_pdf(data)
    assert result.genuine and result.signature.status == "unsigned"
    assert result.signature.message == "文件未加盖电子签章。"
    assert service.signing_notice(POLICE) == f"未配置电子签章：没有“{POLICE}”的签章密钥，文书未加盖电子签章。"
    _db.session.commit()
    login(client, case_world.officers[0])
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert f"未配置电子签章：没有“{POLICE}”的签章密钥" in html and "未加盖电子签章" in html


def test_with_keys_the_page_shows_the_seal(client, db, make_user, case_world, organ_keys):
    case = opening.open_case([v.id for v in case_world.violations], officers=[o.id for o in case_world.officers],
                             party=UNIT, circumstance="first", actor=case_world.officers[0])
    service.issue_document("penalty_notice", sample("penalty_notice"), actor=case_world.officers[0],
                           subject_type="case", subject_id=str(case.id), issued_on=ISSUED_ON)
    _db.session.commit()
    login(client, case_world.officers[0])
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "已加盖电子签章" in html and "未配置电子签章" not in html


def test_a_key_that_cannot_sign_stops_issuing_without_using_a_number(app, db, make_user, organ_keys, monkeypatch):
    from server.enforcement.models.document import DocumentCounter

    def broken(*_args, **_kwargs):
        raise RuntimeError("token removed")

    monkeypatch.setattr(service, "sign_pdf", broken)
    before = db.session.scalar(sa.select(sa.func.max(DocumentCounter.last_serial)))
    with pytest.raises(service.SigningFailed) as raised:
        with db.session.begin_nested():
            issue("penalty_decision", make_user("enforcement"))
    assert "电子签章失败" in raised.value.detail and POLICE in raised.value.detail
    assert db.session.scalar(sa.select(sa.func.max(DocumentCounter.last_serial))) == before


def test_an_organ_seals_with_the_seal_organs_yaml_names(app, db, make_user, tmp_path, monkeypatch):
    """organs.yaml's seal_name is the key a document is signed with and the signer verification
    expects: an organ sealing with a dedicated seal signs with that seal's certificate."""
    import shutil

    seal = "金华市公安局行政处罚专用章"
    reference = tmp_path / "reference"
    shutil.copytree(app.config["REFERENCE_DIR"], reference)
    organs = reference / "organs.yaml"
    text = organs.read_text("utf-8")
    organs.write_text(text.replace(f"    seal_name: {POLICE}\n", f"    seal_name: {seal}\n", 1), "utf-8")
    monkeypatch.setitem(app.config, "REFERENCE_DIR", str(reference))
    signing = tmp_path / "signing"
    ensure_local_ca(signing, [POLICE], ca_name="测试根证书", organization="测试", locality="金华市")
    monkeypatch.setitem(app.config, "DOCUMENT_SIGNING_DIR", str(signing))
    # Only a key in the organ's own name: the seal's key is missing, and the officer is told so.
    assert seal in service.signing_notice(POLICE)
    ensure_local_ca(signing, [seal], ca_name="测试根证书", organization="测试", locality="金华市")
    assert service.signing_notice(POLICE) is None

    document = issue("penalty_decision", make_user("enforcement"))
    assert document.organ == POLICE
    report = pdfsig(service.document_path(document))
    assert f"Signer Certificate Common Name: {seal}" in report
    result = service.verify_pdf(service.document_path(document).read_bytes())
    assert result.genuine and result.signature.valid and result.signature.signer == seal
