"""The audit chain anchored outside: signed checkpoints of its head.

The attack first, as a full insider runs it on a copy of the database: drop the append-only
triggers, change a draw.created digest, re-hash every later event and the head. `anfang audit
verify` alone is fooled; a checkpoint the auditor signed before the rewrite is not. Then the
checkpoint's way in (signature, registered key, the event and hash the chain holds), the export to
a write-once place, and `verify --checkpoints` on each kind of damaged or foreign checkpoint.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import stat

import pytest
import sqlalchemy as sa
from audit_rewind import append_only_triggers_off
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkpoint_signer.format import make_head, public_key_text, read_head, sign_head
from server.audit import checkpoints as service
from server.audit.chain import compute_hash, current_head, record_event, verify_chain
from server.audit.models.audit import AuditChainHead, AuditEvent
from server.audit.models.checkpoint import AuditCheckpoint
from server.columns import utcnow
from server.errors import Conflict, Forbidden, Invalid
from server.extensions import db as _db

DIGEST = "5f" * 32
FORGED_DIGEST = "a0" * 32


def signed_file(key: Ed25519PrivateKey, head=None) -> bytes:
    return sign_head(head or service.export_head(), key).file_bytes()


def events(count: int, prefix: str = "test.checkpoint") -> None:
    for n in range(count):
        record_event(f"{prefix}.{n}", object_type="venue", object_id=n, details={"n": n})


# --- the full-insider rewrite --------------------------------------------------------------------


def rewrite_history(seq: int, details: dict) -> None:
    """What a database administrator can do: triggers off, the event at `seq` changed, every later
    hash and the head recomputed, the stored checkpoints deleted, triggers back on — one commit."""
    events_table, head_table = AuditEvent.__table__, AuditChainHead.__table__
    checkpoint_table = AuditCheckpoint.__table__
    with _db.engine.connect() as connection:
        with append_only_triggers_off(connection):
            rows = connection.execute(sa.select(events_table).where(events_table.c.seq >= seq)
                                      .order_by(events_table.c.seq)).mappings().all()
            prev_hash = rows[0]["prev_hash"]
            for row in rows:
                fields = {name: row[name] for name in ("seq", "occurred_at", "actor_id", "actor_label", "channel",
                                                       "action", "object_type", "object_id", "details")}
                if row["seq"] == seq:
                    fields["details"] = details
                fields["prev_hash"] = prev_hash
                new_hash = compute_hash(**fields)
                connection.execute(sa.update(events_table).where(events_table.c.id == row["id"]).values(
                    details=fields["details"], prev_hash=prev_hash, hash=new_hash))
                prev_hash = new_hash
            connection.execute(sa.update(head_table).where(head_table.c.id == 1).values(last_hash=prev_hash))
            connection.execute(sa.delete(checkpoint_table))
        connection.commit()


def test_a_rewritten_history_fails_verification_against_a_checkpoint_taken_before(separate_app, tmp_path):
    cli = separate_app.test_cli_runner()
    anchors = tmp_path / "anchors"
    anchors.mkdir()
    key = Ed25519PrivateKey.generate()
    with separate_app.app_context():
        events(3, "registry.loaded")
        draw_seq = record_event("draw.created", object_type="draw", object_id=7,
                                details={"result_digest": DIGEST, "venues": 10}).seq
        events(4, "assignment.dispatched")
        _db.session.commit()

    # The auditor takes a checkpoint: the server exports the head, the auditor signs it on their
    # machine, keeps the signed file outside and hands it back to the server.
    head_path = tmp_path / "head.json"
    exported = cli.invoke(args=["audit", "checkpoint", "--out", str(head_path)])
    assert exported.exit_code == 0, exported.output
    head = read_head(head_path.read_bytes())
    assert head.seq == draw_seq + 4
    signed = sign_head(head, key)
    (anchors / service.checkpoint_file_name(signed)).write_bytes(signed.file_bytes())
    checkpoint_path = tmp_path / "signed.json"
    checkpoint_path.write_bytes(signed.file_bytes())
    assert cli.invoke(args=["audit", "checkpoint", "register-key", public_key_text(key), "--label", "纪检"]).exit_code == 0
    added = cli.invoke(args=["audit", "checkpoint", "add", str(checkpoint_path)])
    assert added.exit_code == 0, added.output
    with separate_app.app_context():
        events(2, "document.issued")
        _db.session.commit()

    before = cli.invoke(args=["audit", "verify", "--checkpoints", str(anchors), "--public-key", public_key_text(key)])
    assert before.exit_code == 0, before.output
    assert "1 个已签名检查点均与审计链相符" in before.output

    with separate_app.app_context():
        rewrite_history(draw_seq, {"result_digest": FORGED_DIGEST, "venues": 10})
        forged = _db.session.scalar(sa.select(AuditEvent).where(AuditEvent.seq == draw_seq))
        assert forged.details["result_digest"] == FORGED_DIGEST
        assert verify_chain().ok
        _db.session.remove()

    alone = cli.invoke(args=["audit", "verify"])
    assert alone.exit_code == 0, alone.output
    assert "审计链完整" in alone.output

    caught = cli.invoke(args=["audit", "verify", "--checkpoints", str(anchors)])
    assert caught.exit_code == 1, caught.output
    problem = [line for line in caught.output.splitlines() if line.startswith("检查点 checkpoint-")]
    assert len(problem) == 1
    assert service.checkpoint_file_name(signed) in problem[0]
    assert f"第 {head.seq} 条事件的哈希现为" in problem[0] and head.hash in problem[0]
    assert "改写" in problem[0]

    pinned = cli.invoke(args=["audit", "verify", "--checkpoints", str(anchors), "--public-key", public_key_text(key)])
    assert pinned.exit_code == 1


def test_a_history_cut_short_before_a_checkpoint_fails_verification(db, cli, tmp_path):
    key = Ed25519PrivateKey.generate()
    events(2)
    head = service.export_head()
    future = make_head(head.seq + 5, "ab" * 32, utcnow())
    (tmp_path / "checkpoint-future.json").write_bytes(signed_file(key, future))
    result = cli.invoke(args=["audit", "verify", "--checkpoints", str(tmp_path)])
    assert result.exit_code == 1
    assert f"审计链中已没有第 {head.seq + 5} 条事件" in result.output


# --- taking a signed checkpoint --------------------------------------------------------------------


@pytest.fixture
def auditor_key(db):
    key = Ed25519PrivateKey.generate()
    service.register_key(public_key_text(key), "纪检监察室")
    return key


def test_a_signed_checkpoint_of_the_chain_is_stored_and_audited(db, auditor_key, make_user):
    auditor = make_user("auditor")
    events(2)
    head = service.export_head()
    row = service.add_checkpoint(signed_file(auditor_key, head), actor=auditor, channel="web")
    assert (row.seq, row.hash, row.public_key) == (head.seq, head.hash, public_key_text(auditor_key))
    assert json.loads(row.document)["head"] == head.as_dict()
    event = _db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
    assert (event.action, event.actor_id, event.object_id) == ("audit.checkpoint_signed", auditor.id, str(row.id))
    assert event.details["seq"] == head.seq and event.details["hash"] == head.hash
    assert event.details["key_label"] == "纪检监察室"
    with pytest.raises(Conflict, match="已登记"):
        service.add_checkpoint(signed_file(auditor_key, head))


def test_key_registration_is_audited_and_refuses_bad_or_repeated_keys(db):
    key = public_key_text(Ed25519PrivateKey.generate())
    row = service.register_key(key, "审计人员甲")
    event = _db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
    assert (event.action, event.details["public_key"], event.details["fingerprint"]) == (
        "audit.checkpoint_key_registered", key, row.fingerprint)
    with pytest.raises(Conflict, match="已登记"):
        service.register_key(key, "又一次")
    for bad in ("不是公钥", base64.b64encode(b"short").decode()):
        with pytest.raises(Invalid, match="公钥不正确"):
            service.register_key(bad, "坏")
    with pytest.raises(Invalid, match="标签"):
        service.register_key(public_key_text(Ed25519PrivateKey.generate()), "  ")


def test_a_checkpoint_with_a_bad_signature_is_refused(db, auditor_key):
    events(1)
    document = json.loads(signed_file(auditor_key))
    raw = bytearray(base64.b64decode(document["signature"]))
    raw[0] ^= 1
    tampered_signature = dict(document, signature=base64.b64encode(bytes(raw)).decode())
    other = current_head()
    tampered_head = dict(document, head=dict(document["head"], time="2000-01-01T00:00:00Z"))
    for tampered in (tampered_signature, tampered_head):
        with pytest.raises(Invalid, match="签名无效") as refused:
            service.add_checkpoint(json.dumps(tampered).encode())
        assert refused.value.status == 422
    assert current_head() == other
    for garbage in (b"", b"{", b"[]", json.dumps({"format": "anfang-audit-checkpoint/1"}).encode(), b"\xff" * 10):
        with pytest.raises(Invalid, match="检查点文件不正确"):
            service.add_checkpoint(garbage)


def test_a_checkpoint_of_an_event_the_chain_does_not_hold_is_refused(db, auditor_key):
    events(1)
    head = current_head()
    unknown = make_head(head.seq + 100, head.hash, utcnow())
    with pytest.raises(Conflict, match=f"没有第 {head.seq + 100} 条事件"):
        service.add_checkpoint(signed_file(auditor_key, unknown))
    other_hash = make_head(head.seq, "cd" * 32, utcnow())
    with pytest.raises(Conflict, match="不符"):
        service.add_checkpoint(signed_file(auditor_key, other_hash))
    backdated = make_head(head.seq, head.hash, utcnow().replace(year=2001))
    with pytest.raises(Conflict, match="早于"):
        service.add_checkpoint(signed_file(auditor_key, backdated))
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(AuditCheckpoint)) == 0


def test_a_checkpoint_signed_with_an_unregistered_key_is_refused(db, auditor_key):
    events(1)
    stranger = Ed25519PrivateKey.generate()
    with pytest.raises(Conflict, match="未登记"):
        service.add_checkpoint(signed_file(stranger))


@pytest.mark.parametrize("role", ["admin", "office", "enforcement"])
def test_only_the_auditor_signs_checkpoints_and_registers_keys(db, auditor_key, make_user, role):
    user = make_user(role)
    with pytest.raises(Forbidden):
        service.add_checkpoint(signed_file(auditor_key), actor=user)
    with pytest.raises(Forbidden):
        service.register_key(public_key_text(Ed25519PrivateKey.generate()), "冒名", actor=user)


# --- the export to a write-once place ------------------------------------------------------------------


def test_export_writes_each_file_once_and_never_overwrites(db, cli, app, auditor_key, tmp_path, monkeypatch):
    place = tmp_path / "worm"
    monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_DIR", str(place))
    events(1)
    row = service.add_checkpoint(signed_file(auditor_key))
    first = cli.invoke(args=["audit", "checkpoint", "export"])
    assert first.exit_code == 0, first.output
    head = current_head()
    head_file = place / f"head-{head.seq:010d}.json"
    checkpoint_file = place / service.checkpoint_file_name(row)
    assert sorted(path.name for path in place.iterdir()) == sorted([head_file.name, checkpoint_file.name])
    assert checkpoint_file.read_text("utf-8") == row.document
    assert read_head(head_file.read_bytes()).hash == head.hash
    assert stat.S_IMODE(head_file.stat().st_mode) == 0o444
    assert "已导出 2 个文件" in first.output

    again = cli.invoke(args=["audit", "checkpoint", "export"])
    assert again.exit_code == 0 and "已导出 0 个文件，2 个已存在且相同" in again.output

    # Someone with the server put other content under the next names first: kept, and reported.
    events(1)
    later = service.add_checkpoint(signed_file(auditor_key))
    squatted = place / service.checkpoint_file_name(later)
    squatted.write_text("伪造的内容", "utf-8")
    os.chmod(place / f"head-{head.seq:010d}.json", 0o644)  # writable now: O_EXCL still refuses
    third = cli.invoke(args=["audit", "checkpoint", "export"])
    assert third.exit_code == 1
    assert squatted.read_text("utf-8") == "伪造的内容"
    assert f"{squatted.name} 已存在且内容不同" in third.output
    assert checkpoint_file.read_text("utf-8") == row.document
    assert (place / f"head-{current_head().seq:010d}.json").exists()


def test_write_once_never_replaces_a_file(tmp_path):
    path = tmp_path / "head-0000000001.json"
    assert service.write_once(path, b"first")
    os.chmod(path, 0o644)
    assert not service.write_once(path, b"second")
    assert path.read_bytes() == b"first"


def test_export_without_a_place_says_so(db, cli, app, monkeypatch):
    monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_DIR", None)
    result = cli.invoke(args=["audit", "checkpoint", "export"])
    assert result.exit_code == 1
    assert "AUDIT_CHECKPOINT_DIR" in result.output and "Traceback" not in result.output


def test_export_also_goes_to_syslog(db, cli, app, auditor_key, tmp_path, monkeypatch):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(10)
    try:
        monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_DIR", str(tmp_path / "worm"))
        monkeypatch.setitem(app.config, "AUDIT_CHECKPOINT_SYSLOG", f"127.0.0.1:{receiver.getsockname()[1]}")
        events(1)
        row = service.add_checkpoint(signed_file(auditor_key))
        result = cli.invoke(args=["audit", "checkpoint", "export"])
        assert result.exit_code == 0, result.output
        messages = [receiver.recv(65536).decode("utf-8") for _ in range(2)]
    finally:
        receiver.close()
    assert all("anfang-audit-checkpoint: " in message for message in messages)
    assert any(f'"hash":"{current_head().hash}"' in message and "anfang-audit-head/1" in message
               for message in messages)
    assert any(row.signature in message for message in messages)


# --- verify --checkpoints on damaged and foreign checkpoints -------------------------------------------------


def test_verify_with_checkpoints_checks_every_file(db, cli, tmp_path):
    key, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    events(2)
    good = sign_head(service.export_head(), key)
    (tmp_path / "a.json").write_bytes(good.file_bytes())
    (tmp_path / "head-0000000001.json").write_bytes(service.head_file_bytes(service.export_head()))
    ok = cli.invoke(args=["audit", "verify", "--checkpoints", str(tmp_path), "--public-key", public_key_text(key)])
    assert ok.exit_code == 0, ok.output
    assert "1 个已签名检查点均与审计链相符" in ok.output

    foreign = cli.invoke(args=["audit", "verify", "--checkpoints", str(tmp_path),
                               "--public-key", public_key_text(stranger)])
    assert foreign.exit_code == 1 and "不是指定的审计人员公钥" in foreign.output

    document = json.loads(good.file_bytes())
    document["head"]["seq"] -= 1
    (tmp_path / "b.json").write_text(json.dumps(document), "utf-8")
    (tmp_path / "c.json").write_text("{不是 JSON", "utf-8")
    damaged = cli.invoke(args=["audit", "verify", "--checkpoints", str(tmp_path)])
    assert damaged.exit_code == 1
    lines = [line for line in damaged.output.splitlines() if line.startswith("检查点 ")]
    assert any(line.startswith("检查点 b.json：签名无效") for line in lines)
    assert any(line.startswith("检查点 c.json：文件不是有效的 JSON") for line in lines)
    assert "Traceback" not in damaged.output


def test_verify_with_an_empty_or_missing_checkpoint_directory_fails(db, cli, tmp_path):
    empty = cli.invoke(args=["audit", "verify", "--checkpoints", str(tmp_path)])
    assert empty.exit_code == 1 and "没有已签名的检查点" in empty.output
    missing = cli.invoke(args=["audit", "verify", "--checkpoints", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "不存在" in missing.output
    alone_key = cli.invoke(args=["audit", "verify", "--public-key", "x"])
    assert alone_key.exit_code == 1 and "--checkpoints" in alone_key.output


def test_checkpoint_head_goes_to_stdout_and_never_overwrites_a_file(db, cli, tmp_path):
    events(1)
    result = cli.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0
    head = read_head(result.stdout)
    assert (head.seq, head.hash) == (current_head().seq, current_head().hash)
    taken = tmp_path / "head.json"
    taken.write_text("已有", "utf-8")
    refused = cli.invoke(args=["audit", "checkpoint", "--out", str(taken)])
    assert refused.exit_code == 1 and "不会覆盖" in refused.output
    assert taken.read_text("utf-8") == "已有"


def test_cli_adds_and_lists_checkpoints(db, cli, tmp_path):
    key = Ed25519PrivateKey.generate()
    events(1)
    _db.session.commit()  # a refused command rolls back its own work only
    path = tmp_path / "signed.json"
    path.write_bytes(signed_file(key))
    unregistered = cli.invoke(args=["audit", "checkpoint", "add", str(path)])
    assert unregistered.exit_code == 1 and "未登记" in unregistered.output
    assert cli.invoke(args=["audit", "checkpoint", "register-key", public_key_text(key), "--label", "纪检"]).exit_code == 0
    added = cli.invoke(args=["audit", "checkpoint", "add", str(path)])
    assert added.exit_code == 0, added.output
    listing = cli.invoke(args=["audit", "checkpoint", "list"])
    assert "纪检" in listing.output and "与审计链相符" in listing.output
    missing = cli.invoke(args=["audit", "checkpoint", "add", str(tmp_path / "none.json")])
    assert missing.exit_code == 1 and "无法读取" in missing.output
