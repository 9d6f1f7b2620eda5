"""The auditor's checkpoint page: the head to copy or download, the auditor's key registered, the
signed file uploaded and stored (audited as the auditor); refusals in Chinese; only the auditor signs."""

from __future__ import annotations

import html
import json
from io import BytesIO

import pytest
import sqlalchemy as sa
from assignment_world import PASSWORD
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from web_session import csrf, login

from checkpoint_signer.format import public_key_text, read_head, sign_head
from server.audit.chain import current_head, record_event
from server.audit.models.audit import AuditEvent
from server.audit.models.checkpoint import AuditCheckpoint, AuditorKey

PAGE = "/audit/checkpoints"


@pytest.fixture
def auditor(db, make_user, client):
    user = make_user("auditor", password=PASSWORD)
    record_event("test.page", details={"n": 1})
    login(client, user)
    return user


def last_event(db) -> AuditEvent:
    return db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))


def upload(client, data: bytes):
    return client.post(PAGE, data={"csrf_token": csrf(client, PAGE), "file": (BytesIO(data), "checkpoint.json")},
                       content_type="multipart/form-data")


def test_the_auditor_registers_a_key_and_uploads_a_signed_head(db, client, auditor):
    head = current_head()
    page = client.get(PAGE)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f"第 {head.seq} 条" in text and head.hash in text and "上传已签名的检查点" in text

    download = client.get(f"{PAGE}/head.json")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    exported = read_head(download.data)
    assert (exported.seq, exported.hash) == (head.seq, head.hash)

    key = Ed25519PrivateKey.generate()
    registered = client.post(f"{PAGE}/keys", data={"csrf_token": csrf(client, PAGE),
                                                  "public_key": public_key_text(key), "label": "纪检监察室"})
    assert registered.status_code == 303
    event = last_event(db)
    assert (event.action, event.actor_id, event.channel) == ("audit.checkpoint_key_registered", auditor.id, "web")

    taken = upload(client, sign_head(exported, key).file_bytes())
    assert taken.status_code == 303, taken.get_data(as_text=True)
    stored = db.session.scalar(sa.select(AuditCheckpoint).where(AuditCheckpoint.seq == head.seq))
    assert stored is not None and stored.public_key == public_key_text(key) and stored.added_by_id == auditor.id
    event = last_event(db)
    assert (event.action, event.actor_id, event.details["seq"]) == ("audit.checkpoint_signed", auditor.id, head.seq)
    listed = client.get(PAGE).get_data(as_text=True)
    assert "已登记检查点" in listed and "纪检监察室" in listed and "相符" in listed


def test_a_bad_upload_is_refused_in_chinese_next_to_the_field(db, client, auditor):
    key = Ed25519PrivateKey.generate()
    db.session.add(AuditorKey(public_key=public_key_text(key), fingerprint="0" * 16, label="纪检"))
    document = json.loads(sign_head(read_head(client.get(f"{PAGE}/head.json").data), key).file_bytes())
    document["head"]["seq"] += 1
    refused = upload(client, json.dumps(document).encode())
    assert refused.status_code == 422
    assert "签名无效" in html.unescape(refused.get_data(as_text=True))
    unknown = Ed25519PrivateKey.generate()
    head = read_head(client.get(f"{PAGE}/head.json").data)
    conflict = upload(client, sign_head(head, unknown).file_bytes())
    assert conflict.status_code == 409 and "未登记" in html.unescape(conflict.get_data(as_text=True))
    empty = client.post(PAGE, data={"csrf_token": csrf(client, PAGE)}, content_type="multipart/form-data")
    assert empty.status_code == 422 and "请选择" in empty.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditCheckpoint)) == 0


def test_the_administrator_reads_the_page_but_does_not_sign(db, client, make_user):
    admin = make_user("admin", password=PASSWORD)
    login(client, admin)
    page = client.get(PAGE)
    assert page.status_code == 200 and "上传已签名的检查点" not in page.get_data(as_text=True)
    token = csrf(client, "/audit")
    refused = client.post(f"{PAGE}/keys", data={"csrf_token": token, "public_key": "x", "label": "y"})
    assert refused.status_code == 403


@pytest.mark.parametrize("role", ["office", "enforcement", "inspector", "propaganda"])
def test_other_roles_do_not_reach_the_page(db, client, make_user, role):
    login(client, make_user(role, password=PASSWORD))
    assert client.get(PAGE).status_code == 403
    assert client.get(f"{PAGE}/head.json").status_code == 403
