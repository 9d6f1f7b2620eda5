"""The audit chain anchored outside the system: signed checkpoints of its head.

The hash chain shows any edit of the log to someone who trusts the head; a database administrator
who drops the triggers, edits an event and re-hashes every later event and the head makes a chain
that verifies again. What they cannot remake is a signature by a key the server does not hold:

1. `anfang audit checkpoint` (or the auditor's page) exports the current head — seq, hash, time;
2. the auditor (纪检) signs it on their own machine (`anfang-checkpoint sign`, checkpoint_signer:
   Ed25519, the private key never leaves that machine) and keeps the signed file;
3. the server takes the signed file (`anfang audit checkpoint add`, the page), checks the
   signature, that the key is a registered auditor key, and that the chain holds that event with
   that hash, stores it and audits `audit.checkpoint_signed`;
4. `anfang audit checkpoint export` copies the head and every stored checkpoint daily to a
   write-once place (AUDIT_CHECKPOINT_DIR, files created once and never overwritten; optionally
   syslog);
5. `anfang audit verify --checkpoints DIR` checks every signed checkpoint in DIR against the chain:
   a history rewritten at or before a checkpoint's event no longer holds that hash there.

The format (canonical bytes, signing, checking) lives in checkpoint_signer.format, shared with the
auditor's command so that both read and write the same bytes.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from checkpoint_signer.format import (
    HEAD_FORMAT,
    Checkpoint,
    CheckpointError,
    Head,
    canonical_json,
    fingerprint,
    load_json,
    make_head,
    normalise_public_key,
    read_checkpoint,
)

from ..access import authorize, grant, register_policy
from ..columns import utcnow
from ..errors import Conflict, Invalid
from ..extensions import db
from .chain import Actor, ChainReport, current_head, record_event
from .models.audit import AuditEvent
from .models.checkpoint import AuditCheckpoint, AuditorKey

HEAD_FILE = "head-{seq:010d}.json"
CHECKPOINT_FILE = "checkpoint-{seq:010d}-{fingerprint}.json"
SYSLOG_IDENT = "anfang-audit-checkpoint"
LABEL_MAX = 64
# A head signed "in the future" by more than a clock's drift is not one this server exported.
CLOCK_DRIFT = timedelta(minutes=10)

register_policy(AuditCheckpoint, "审计链检查点")
register_policy(AuditorKey, "审计人员公钥")
# DESIGN §6: the head is anchored by the auditor (纪检); the administrator, whose database the
# anchor guards against, reads the checkpoints but neither signs them nor registers keys.
grant(AuditCheckpoint, "read", ("auditor", "admin"))
grant(AuditCheckpoint, "sign", "auditor")
grant(AuditorKey, "read", ("auditor", "admin"))
grant(AuditorKey, "register", "auditor")


def _authorize_actor(actor: Actor | None, action: str, model: type) -> None:
    """Users are checked; the command line (no user: the operator of the server) is not."""
    if actor is not None:
        authorize(actor, action, model)


# --- the head ------------------------------------------------------------------------------------


def export_head(now: datetime | None = None) -> Head:
    """The current chain head, as the auditor signs it."""
    head = current_head()
    return make_head(head.seq, head.hash, now or utcnow())


def head_file_bytes(head: Head) -> bytes:
    return canonical_json(head.as_dict()) + b"\n"


def head_file_name(head: Head) -> str:
    return HEAD_FILE.format(seq=head.seq)


def checkpoint_file_name(checkpoint: Checkpoint | AuditCheckpoint) -> str:
    seq = checkpoint.head.seq if isinstance(checkpoint, Checkpoint) else checkpoint.seq
    return CHECKPOINT_FILE.format(seq=seq, fingerprint=fingerprint(checkpoint.public_key))


# --- keys ----------------------------------------------------------------------------------------


def register_key(public_key: str, label: str, *, actor: Actor | None = None, channel: str = "cli") -> AuditorKey:
    """Register an auditor's Ed25519 public key (base64); flushes, audits `audit.checkpoint_key_registered`."""
    _authorize_actor(actor, "register", AuditorKey)
    try:
        key = normalise_public_key(public_key)
    except CheckpointError as exc:
        raise Invalid(f"公钥不正确：{exc}", errors={"public_key": [str(exc)]}) from None
    label = (label or "").strip()
    if not label or len(label) > LABEL_MAX:
        raise Invalid(f"请填写公钥的标签（持有人或用途，不超过 {LABEL_MAX} 个字符）。",
                      errors={"label": [f"须为 1 至 {LABEL_MAX} 个字符。"]})
    existing = db.session.scalar(sa.select(AuditorKey).where(AuditorKey.public_key == key))
    if existing is not None:
        raise Conflict(f"该公钥已登记（标签“{existing.label}”，指纹 {existing.fingerprint}）。")
    row = AuditorKey(public_key=key, fingerprint=fingerprint(key), label=label, registered_at=utcnow(),
                     registered_by_id=actor.id if actor is not None else None)
    db.session.add(row)
    db.session.flush()
    record_event("audit.checkpoint_key_registered", actor=actor, channel=channel, object_type="auditor_key",
                 object_id=row.id, details={"public_key": key, "fingerprint": row.fingerprint, "label": label})
    return row


def list_keys() -> list[AuditorKey]:
    return list(db.session.scalars(sa.select(AuditorKey).order_by(AuditorKey.id)))


# --- taking a signed checkpoint --------------------------------------------------------------------


def add_checkpoint(data: bytes | str, *, actor: Actor | None = None, channel: str = "cli") -> AuditCheckpoint:
    """Store a signed checkpoint: valid signature by a registered auditor key, of an event the chain
    holds now with that hash. Flushes, audits `audit.checkpoint_signed`."""
    _authorize_actor(actor, "sign", AuditCheckpoint)
    try:
        checkpoint = read_checkpoint(data)
    except CheckpointError as exc:
        raise Invalid(f"检查点文件不正确：{exc}", errors={"file": [str(exc)]}) from None
    head = checkpoint.head
    key = db.session.scalar(sa.select(AuditorKey).where(AuditorKey.public_key == checkpoint.public_key))
    if key is None:
        raise Conflict(f"签名公钥（指纹 {checkpoint.fingerprint}）未登记为审计人员公钥，请先登记公钥再上传检查点。")
    _check_against_chain(head)
    duplicate = db.session.scalar(sa.select(AuditCheckpoint.id).where(
        AuditCheckpoint.seq == head.seq, AuditCheckpoint.public_key == checkpoint.public_key))
    if duplicate is not None:
        raise Conflict(f"第 {head.seq} 条链头的这份检查点已登记（公钥指纹 {checkpoint.fingerprint}）。")
    row = AuditCheckpoint(seq=head.seq, hash=head.hash, signed_time=head.moment, public_key=checkpoint.public_key,
                          signature=checkpoint.signature, document=checkpoint.file_bytes().decode("utf-8"),
                          added_at=utcnow(), added_by_id=actor.id if actor is not None else None)
    db.session.add(row)
    db.session.flush()
    record_event("audit.checkpoint_signed", actor=actor, channel=channel, object_type="audit_checkpoint",
                 object_id=row.id, details={"seq": head.seq, "hash": head.hash, "time": head.time,
                                            "public_key": checkpoint.public_key,
                                            "fingerprint": checkpoint.fingerprint, "key_label": key.label})
    return row


def _check_against_chain(head: Head) -> None:
    event = db.session.execute(
        sa.select(AuditEvent.hash, AuditEvent.occurred_at).where(AuditEvent.seq == head.seq)
    ).one_or_none()
    if event is None:
        raise Conflict(f"审计链中没有第 {head.seq} 条事件：该检查点不是本系统审计链的链头。")
    if event.hash != head.hash:
        raise Conflict(f"审计链第 {head.seq} 条事件的哈希为 {event.hash}，与检查点的 {head.hash} 不符。")
    occurred = event.occurred_at.replace(microsecond=0)
    moment = head.moment
    if occurred.tzinfo is None:
        moment = moment.replace(tzinfo=None)
    if moment < occurred:
        raise Conflict(f"检查点时间 {head.time} 早于第 {head.seq} 条事件的发生时间，不是本系统导出的链头。")
    if head.moment > utcnow() + CLOCK_DRIFT:
        raise Conflict(f"检查点时间 {head.time} 晚于当前时间，不是本系统导出的链头。")


def list_checkpoints(limit: int = 50) -> list[AuditCheckpoint]:
    return list(db.session.scalars(
        sa.select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.id.desc()).limit(limit)))


def stored_checkpoint_standing(checkpoints: list[AuditCheckpoint]) -> dict[int, bool]:
    """For each stored checkpoint (by id): does the chain still hold its event with its hash?"""
    seqs = {checkpoint.seq for checkpoint in checkpoints}
    hashes = dict(db.session.execute(
        sa.select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.in_(seqs or {0}))).all())
    return {checkpoint.id: hashes.get(checkpoint.seq) == checkpoint.hash for checkpoint in checkpoints}


# --- export to a write-once place ------------------------------------------------------------------


@dataclass
class ExportResult:
    written: list[str] = field(default_factory=list)
    kept: int = 0
    differing: list[str] = field(default_factory=list)  # present already with other content


def write_once(path: Path, data: bytes) -> bool:
    """Create `path` with `data` (read-only, fsynced); False if it exists, which is never overwritten."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return True


def _same_head(existing: bytes, head: Head) -> bool:
    """An earlier export of the same seq: the time differs, the hash must not."""
    try:
        value = load_json(existing)
    except CheckpointError:
        return False
    return value.get("seq") == head.seq and value.get("hash") == head.hash


def export_checkpoints(directory: str | Path, *, syslog: str | None = None, now: datetime | None = None) -> ExportResult:
    """Write the current head and every stored checkpoint not yet in `directory`, each as a file of its
    own created once (O_EXCL) and never overwritten; send what was written to syslog when configured.

    A file already there with other content (a head of that seq with another hash, a checkpoint
    file that differs) is left as it is and listed in `differing`: the log or the place was changed.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    result = ExportResult()
    lines: list[bytes] = []

    def put(name: str, data: bytes, same) -> None:
        path = directory / name
        if write_once(path, data):
            result.written.append(name)
            lines.append(data.rstrip(b"\n"))
        elif same(path.read_bytes()):
            result.kept += 1
        else:
            result.differing.append(name)

    head = export_head(now)
    put(head_file_name(head), head_file_bytes(head), lambda existing: _same_head(existing, head))
    for row in db.session.scalars(sa.select(AuditCheckpoint).order_by(AuditCheckpoint.seq, AuditCheckpoint.id)):
        data = row.document.encode("utf-8")
        put(checkpoint_file_name(row), data, lambda existing, data=data: existing == data)
    _fsync_directory(directory)
    if syslog and lines:
        send_to_syslog(syslog, lines)
    return result


def _fsync_directory(directory: Path) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def syslog_address(setting: str) -> str | tuple[str, int]:
    """AUDIT_CHECKPOINT_SYSLOG: a socket path (/dev/log), or host[:port] over UDP (port 514)."""
    setting = setting.strip()
    if setting.startswith("/"):
        return setting
    host, _, port = setting.rpartition(":") if ":" in setting else (setting, "", "514")
    try:
        return host, int(port)
    except ValueError:
        raise Invalid(f"AUDIT_CHECKPOINT_SYSLOG 格式不正确：{setting}（应为 /dev/log 或 主机:端口）。") from None


def send_to_syslog(setting: str, lines: list[bytes]) -> None:
    """One syslog message per exported file: its canonical JSON, tagged anfang-audit-checkpoint."""
    handler = logging.handlers.SysLogHandler(address=syslog_address(setting),
                                             facility=logging.handlers.SysLogHandler.LOG_AUTH)
    handler.ident = f"{SYSLOG_IDENT}: "
    try:
        for line in lines:
            # Straight to the handler: not through the logging tree, whose other handlers and
            # levels belong to the application's own logs.
            handler.handle(logging.LogRecord(SYSLOG_IDENT, logging.INFO, __file__, 0, line.decode("utf-8"), None, None))
    finally:
        handler.close()


# --- verifying the chain against checkpoints kept outside --------------------------------------------


@dataclass(frozen=True)
class DirectoryCheck:
    checked: int  # signed checkpoints that hold
    problems: list[str]  # one Chinese line each

    @property
    def ok(self) -> bool:
        return not self.problems


def check_directory(directory: str | Path, report: ChainReport, *, pinned_keys: list[str] | None = None) -> DirectoryCheck:
    """Every signed checkpoint file in `directory` (*.json; exported heads are skipped): a valid
    signature, by a pinned key when keys are given, of an event the chain still holds with that hash,
    and the chain verified at least up to it. A directory without any signed checkpoint fails."""
    directory = Path(directory)
    if not directory.is_dir():
        return DirectoryCheck(0, [f"检查点目录 {directory} 不存在或不是目录。"])
    try:
        pinned = {normalise_public_key(key) for key in pinned_keys or ()}
    except CheckpointError as exc:
        return DirectoryCheck(0, [f"--public-key 指定的公钥不正确：{exc}"])
    problems: list[str] = []
    checked = 0
    for path in sorted(directory.glob("*.json")):
        problem = _check_file(path, report, pinned)
        if problem is None:
            checked += 1
        elif problem:
            problems.append(f"检查点 {path.name}：{problem}")
    if checked == 0 and not problems:
        problems.append(f"检查点目录 {directory} 中没有已签名的检查点。")
    return DirectoryCheck(checked, problems)


def _check_file(path: Path, report: ChainReport, pinned: set[str]) -> str | None:
    """None when the checkpoint holds; "" for an exported (unsigned) head; else the problem."""
    try:
        value = load_json(path.read_bytes())
    except OSError:
        return "文件无法读取。"
    except CheckpointError as exc:
        return str(exc)
    if value.get("format") == HEAD_FORMAT:
        return ""
    try:
        checkpoint = read_checkpoint(canonical_json(value))
    except CheckpointError as exc:
        return str(exc)
    head = checkpoint.head
    if pinned and checkpoint.public_key not in pinned:
        return f"由公钥 {checkpoint.fingerprint} 签名，不是指定的审计人员公钥。"
    stored = db.session.scalar(sa.select(AuditEvent.hash).where(AuditEvent.seq == head.seq))
    if stored is None:
        return (f"审计链中已没有第 {head.seq} 条事件（检查点签名于 {head.time}，哈希 {head.hash}）："
                "签名之后审计链被截短或改写。")
    if stored != head.hash:
        return (f"审计链第 {head.seq} 条事件的哈希现为 {stored}，检查点签名于 {head.time} 时为 {head.hash}："
                "签名之后审计链在该条或之前被改写。")
    if not report.ok and report.count < head.seq:
        return f"审计链在第 {report.count + 1} 条处断开，未能校验到检查点的第 {head.seq} 条。"
    return None
