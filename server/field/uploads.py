"""tus uploads of evidence photos: a temporary file per upload, stored as evidence once complete.

Life of a photo: `create_upload` (tus creation) makes an `Upload` row and an empty file under
EVIDENCE_DIR/incoming/; `receive_chunk` (tus PATCH) appends bytes to it. The file's size is the
upload's offset, so a chunk touches the database only to authenticate. Chunks are not fsynced
one by one: bytes lost with the machine shrink the file, the client's next PATCH meets a 409
with the true offset and sends them again from its own copy, which it keeps until the upload
is complete. The chunk that completes the file triggers `_complete`: the file is fsynced, its
SHA-256 (hashed while the chunks arrived, see `upload_digest`) must equal the one declared at
creation, the content must be an allowed image, complete to its last byte, and not a
decompression bomb (`photo_checks`); then the original is moved untouched into the evidence
store at sha256/ab/cdef… (`EvidenceStore.put_file`: a rename under EVIDENCE_DIR for the local
store; the parts being received stay local whatever the store), an `EvidenceFile` row is added
and `evidence.stored` is audited. Variants are not made here: a background job makes them once
the photo is stored (with a queue), or they are made when first asked for
(`evidence_store.variant_file`).

Disk and database must tell the same story, also when a request fails. A request that changed
both and then refuses (the file's hash does not match, the bytes are not a photo) raises a
`KeptProblem`: the view commits before answering, because the usual 4xx rollback would bring
back a row whose file is gone. Writes to one upload are serialised with an exclusive `flock` on
its temporary file, held by the view until its commit; completing moves the file away under
that lock, so a writer that holds the lock on the file still in place knows the upload is open.
"""

from __future__ import annotations

import base64
import binascii
import errno
import fcntl
import hashlib
import os
import re
import time
import unicodedata
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import ClientDisconnected

from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import as_utc, utcnow
from ..errors import BadRequest, Conflict, Invalid, NotFound, PayloadTooLarge, UnsupportedMediaType
from ..extensions import db
from ..observability import metrics
from . import upload_digest
from .completion import mark_photos_received
from .evidence_backend import evidence_store, fsync_directory
from .evidence_store import SHA256_HEX, VARIANTS, evidence_root, original_path, variant_path
from .models.evidence import EvidenceFile, Upload
from .photo_checks import inspect_image
from .upload_problems import (
    ChecksumMismatch,
    InsufficientStorage,
    UploadGone,
    UploadInterrupted,
    UploadLocked,
    UploadRefused,
    UploadRewound,
)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,checksum,termination,expiration"
CHECKSUM_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}

BLOCK_SIZE = 1024 * 1024
METADATA_KEY = re.compile(r"^[!-+\--~]+$")  # printable ASCII without space and comma (tus 1.0)
INCOMING_DIR = "incoming"
PART_SUFFIX = ".part"


# --- tus creation --------------------------------------------------------------------------------


def parse_metadata(header: str | None) -> dict[str, str]:
    """Upload-Metadata: comma-separated `key base64value` pairs (the value may be absent)."""
    pairs: dict[str, str] = {}
    if not header or not header.strip():
        return pairs
    for item in header.split(","):
        parts = item.strip().split(" ")
        if not parts[0] or len(parts) > 2 or not METADATA_KEY.match(parts[0]) or parts[0] in pairs:
            raise BadRequest(f"Upload-Metadata 格式不正确：{item.strip()[:40]!r}。")
        value = ""
        if len(parts) == 2:
            try:
                value = base64.b64decode(parts[1], validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise BadRequest(f"Upload-Metadata 中 {parts[0]} 的值不是有效的 Base64 编码的 UTF-8 文本。") from None
        pairs[parts[0]] = value
    return pairs


def clean_filename(name: str | None) -> str | None:
    """The client's file name for display only; a name that tries to be a path is refused."""
    if name is None or name == "":
        return None
    name = unicodedata.normalize("NFC", name).strip()
    if ("/" in name or "\\" in name or name in (".", "..") or
            any(unicodedata.category(ch).startswith("C") for ch in name)):
        raise Invalid("文件名不能包含路径或控制字符。", errors={"filename": ["只允许文件名本身，不能含 / \\ .. 或控制字符。"]})
    return name[:255]


def create_upload(user: User, *, length_header: str | None, metadata_header: str | None) -> Upload:
    """tus creation: a new upload resource with an empty temporary file."""
    if length_header is None:
        raise BadRequest("缺少 Upload-Length 请求头（本服务器不支持延后声明长度）。")
    if not length_header.isdigit():
        raise BadRequest("Upload-Length 必须是非负整数。")
    length = int(length_header)
    limit = current_app.config["MAX_UPLOAD_BYTES"]
    if length > limit:
        raise PayloadTooLarge(f"文件大小 {length} 字节超过上限 {limit} 字节。")
    if length == 0:
        raise Invalid("空文件不能作为证据照片。", errors={"Upload-Length": ["必须大于 0。"]})
    metadata = parse_metadata(metadata_header)
    declared = metadata.get("sha256", "").strip().lower()
    if not SHA256_HEX.match(declared):
        raise Invalid("Upload-Metadata 必须包含 sha256（64 位十六进制）。",
                      errors={"sha256": ["必填，64 位十六进制 SHA-256。"]})
    filename = clean_filename(metadata.get("filename"))
    declared_type = (metadata.get("filetype") or "")[:100] or None

    upload_id = str(uuid.uuid4())
    incoming = evidence_root() / INCOMING_DIR
    incoming.mkdir(parents=True, exist_ok=True)
    temp_path = f"{INCOMING_DIR}/{upload_id}{PART_SUFFIX}"
    with open(evidence_root() / temp_path, "xb") as handle:
        os.fsync(handle.fileno())
    fsync_directory(incoming)
    upload = Upload(id=upload_id, owner_id=user.id, upload_length=length, declared_sha256=declared,
                    filename=filename, declared_type=declared_type, temp_path=temp_path)
    db.session.add(upload)
    db.session.flush()
    metrics.upload_created()
    return upload


@dataclass(frozen=True)
class UploadProgress:
    offset: int
    expires_at: datetime | None  # None once complete


def upload_progress(upload: Upload) -> UploadProgress:
    """Read off the temporary file: its size is the offset, and a partial upload expires a fixed
    time after its last byte arrived. A complete upload holds all its bytes and never expires."""
    if upload.completed_at is not None:
        return UploadProgress(upload.upload_length, None)
    try:
        stat = os.stat(evidence_root() / upload.temp_path)
    except FileNotFoundError:
        return UploadProgress(0, as_utc(upload.created_at) + _expiry_window())
    return UploadProgress(stat.st_size, datetime.fromtimestamp(stat.st_mtime, UTC) + _expiry_window())


# How long HEAD waits for a chunk being written to settle before answering 423.
SETTLE_SECONDS = 5.0


@contextmanager
def settled_upload(upload: Upload):
    """Hold the upload still while its offset is read: no chunk is being written meanwhile.

    A PATCH writes its bytes as they arrive and drops them again if the chunk fails its checksum
    or is cut short; until it has decided, the file's size counts bytes that may vanish. So HEAD
    waits (up to SETTLE_SECONDS) for the writer's lock and reads the offset under a shared lock.
    Yields whether it had to wait: the writer may have completed the upload meanwhile, so the
    caller reads the row again before answering. 423 if the writer does not finish in time.
    """
    if upload.completed_at is not None:
        yield False
        return
    try:
        fd = os.open(evidence_root() / upload.temp_path, os.O_RDONLY)
    except FileNotFoundError:
        yield False
        return
    with os.fdopen(fd, "rb") as handle:
        deadline, waited = time.monotonic() + SETTLE_SECONDS, False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise UploadLocked("该上传正由另一个请求写入，请稍后用 HEAD 查询偏移量后重试。") from None
                waited = True
                time.sleep(0.01)
        yield waited


def _expiry_window() -> timedelta:
    return timedelta(hours=current_app.config["UPLOAD_EXPIRES_AFTER_HOURS"])


def find_upload(upload_id: str, user: User) -> Upload:
    """The caller's own upload, or NotFound; an expired partial upload is Gone (410)."""
    missing = NotFound("上传不存在。")
    try:
        key = str(uuid.UUID(upload_id))
    except (TypeError, ValueError):
        raise missing from None
    upload = db.session.get(Upload, key)
    # Another user's upload is answered exactly like a missing one: ids are not to be probed.
    if upload is None or upload.owner_id != user.id:
        raise missing
    if upload.completed_at is None and upload_progress(upload).expires_at <= utcnow():
        raise UploadGone("上传已过期，请重新创建上传。")
    return upload


# --- tus PATCH -----------------------------------------------------------------------------------


@contextmanager
def locked_upload_file(upload: Upload):
    """The upload's temporary file, opened for writing and exclusively locked; None if it is gone
    (the upload completed and its file was moved, or the bytes were lost).

    With None the caller re-reads the row to learn what happened; it commits inside the block,
    so the next writer sees a completion or termination this one made.
    """
    path = evidence_root() / upload.temp_path
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        yield None
        return
    with os.fdopen(fd, "r+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UploadLocked("该上传正由另一个请求写入，请稍后用 HEAD 查询偏移量后重试。") from None
        try:
            same_file = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same_file = False
        # Opened just before a completing request moved it into storage: that inode is now the
        # stored original, which must never be written.
        yield handle if same_file else None


def parse_checksum(header: str | None):
    """Upload-Checksum: `<algorithm> <base64 digest>` → (hash object, expected digest) or None."""
    if header is None:
        return None
    parts = header.strip().split(" ")
    if len(parts) != 2 or parts[0] not in CHECKSUM_ALGORITHMS:
        raise BadRequest(f"Upload-Checksum 不受支持：算法须为 {', '.join(CHECKSUM_ALGORITHMS)}，格式为“算法 Base64摘要”。")
    try:
        expected = base64.b64decode(parts[1], validate=True)
    except binascii.Error:
        raise BadRequest("Upload-Checksum 中的摘要不是有效的 Base64。") from None
    return CHECKSUM_ALGORITHMS[parts[0]](), expected


def receive_chunk(upload: Upload, handle, *, offset_header: str | None, content_type: str | None,
                  checksum_header: str | None, stream, content_length: int | None,
                  before_body: Callable[[], None] | None = None) -> int:
    """tus PATCH: append the body at Upload-Offset; the last chunk completes the upload.
    Returns the new offset.

    `handle` comes from `locked_upload_file`. `before_body` is called once the request is checked
    and before its body is read: the view ends its transaction there, so that no database lock
    is held while a slow connection delivers a chunk (the file lock keeps other writers of this
    upload out meanwhile).
    """
    if (content_type or "").split(";")[0].strip().lower() != "application/offset+octet-stream":
        raise UnsupportedMediaType("PATCH 请求的 Content-Type 必须是 application/offset+octet-stream。")
    if offset_header is None or not offset_header.isdigit():
        raise BadRequest("缺少 Upload-Offset 请求头，或其值不是非负整数。")
    offset = int(offset_header)
    checksum = parse_checksum(checksum_header)
    if upload.completed_at is not None:  # a retried last PATCH whose answer was lost
        if offset != upload.upload_length or content_length:
            raise Conflict("上传已完成，不再接收数据。", upload_offset=upload.upload_length)
        return upload.upload_length
    if handle is None:
        _rewind(upload)
    before = os.fstat(handle.fileno())
    current = before.st_size
    if offset != current:
        raise Conflict(f"Upload-Offset {offset} 与服务器已接收的 {current} 字节不符，请先用 HEAD 查询。",
                       upload_offset=current)
    remaining = upload.upload_length - offset
    if content_length is not None and content_length > remaining:
        raise PayloadTooLarge(f"本次数据 {content_length} 字节超过剩余的 {remaining} 字节。")
    handle.seek(offset)
    length = upload.upload_length
    if before_body is not None:
        before_body()

    received, interrupted = 0, False
    digest = checksum[0] if checksum else None
    running = upload_digest.for_chunk(upload.id, before)
    try:
        while True:
            block = stream.read(min(BLOCK_SIZE, remaining - received + 1))
            if not block:
                break
            received += len(block)
            if received > remaining:
                _drop_chunk(handle, offset)
                raise PayloadTooLarge(f"数据超过声明的长度 {length} 字节。")
            handle.write(block)
            if digest is not None:
                digest.update(block)
            if running is not None:
                running.feed(block)
        handle.flush()
    except ClientDisconnected:
        interrupted = True
    except OSError as exc:
        # Half a chunk on a full disk is not kept: the offset must not count bytes that failed.
        _drop_chunk(handle, offset)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise InsufficientStorage("服务器存储空间不足，本块数据已丢弃，请稍后从同一偏移量重试。") from None
        raise
    # Servers that mark their input as terminated hand over a short body instead of raising.
    if content_length is not None and received < content_length:
        interrupted = True

    if checksum is not None and (interrupted or digest.digest() != checksum[1]):
        # A chunk that cannot be verified is not kept (tus checksum extension).
        _drop_chunk(handle, offset)
        if interrupted:
            raise BadRequest("连接中断，本块数据未完整到达，已丢弃。")
        raise ChecksumMismatch("本块数据的校验和不符，已丢弃，请重新发送。")

    handle.flush()
    new_offset = offset + received
    metrics.upload_bytes_received(received)
    if running is not None:
        upload_digest.chunk_kept(upload.id, running, handle.fileno())
    if received and hasattr(os, "posix_fadvise"):
        # Start writing this chunk to disk now, without waiting: the fsync that completes the
        # upload then finds little left to write instead of the whole file.
        os.posix_fadvise(handle.fileno(), offset, received, os.POSIX_FADV_DONTNEED)
    if interrupted:
        raise UploadInterrupted(f"连接中断；已保存 {new_offset} 字节，可从该偏移量续传。", upload_offset=new_offset)
    if new_offset == length:
        os.fsync(handle.fileno())
        _complete(upload, upload_digest.completed_sha256(upload.id, handle.fileno()))
    return new_offset


def _rewind(upload: Upload) -> None:
    """The temporary file is gone while the upload is open: start it again, empty."""
    path = evidence_root() / upload.temp_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fresh:
        os.fsync(fresh.fileno())
    fsync_directory(path.parent)
    raise UploadRewound("服务器上的部分数据已丢失，请从偏移量 0 重新上传。", upload_offset=0)


def _drop_chunk(handle, offset: int) -> None:
    try:
        handle.flush()
    except OSError:  # the disk is full: what could not be flushed is dropped anyway
        pass
    handle.truncate(offset)
    os.fsync(handle.fileno())


# --- completion ----------------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK_SIZE):
            digest.update(block)
    return digest.hexdigest()


def _refuse(upload: Upload, path: Path, problem: Invalid) -> UploadRefused:
    path.unlink(missing_ok=True)
    db.session.delete(upload)
    db.session.flush()
    refused = UploadRefused(problem.detail, title=problem.title, errors=problem.errors)
    refused.slug = problem.slug
    return refused


def _complete(upload: Upload, running_sha256: str | None) -> None:
    """Verify the whole file, then store it as evidence (or reuse the evidence of the same bytes).

    `running_sha256` is the digest of every byte written to the file, hashed as the chunks came
    (`upload_digest`); without it the file is read back and hashed here."""
    temp = evidence_root() / upload.temp_path
    actual = running_sha256 or file_sha256(temp)
    if actual != upload.declared_sha256:
        problem = Invalid(f"文件的 SHA-256 为 {actual}，与声明的 {upload.declared_sha256} 不符；未保存，请重新上传。")
        problem.slug = "sha256-mismatch"
        raise _refuse(upload, temp, problem)
    try:
        facts = inspect_image(temp, current_app.config["MAX_IMAGE_PIXELS"])
    except Invalid as problem:
        raise _refuse(upload, temp, problem) from None

    evidence = db.session.scalar(sa.select(EvidenceFile).where(EvidenceFile.sha256 == actual))
    store = evidence_store()
    created = False
    if evidence is None or not store.exists(original_path(actual)):
        # Originals are never changed, not even by this server.
        store.put_file(temp, original_path(actual), read_only=True)
    else:
        temp.unlink(missing_ok=True)
    if evidence is None:
        variants = {name: variant_path(actual, name) for name in VARIANTS}
        try:
            with db.session.begin_nested():
                evidence = EvidenceFile(
                    sha256=actual, size=upload.upload_length, media_type=facts.media_type, width=facts.width,
                    height=facts.height, exif_taken_at=facts.taken_at, gps_lat=facts.gps_lat, gps_lon=facts.gps_lon,
                    stored_path=original_path(actual), variants=variants, uploaded_by_id=upload.owner_id)
                db.session.add(evidence)
            created = True
        except IntegrityError:
            # The same bytes completed in another request at the same moment: theirs is the row.
            evidence = db.session.scalar(sa.select(EvidenceFile).where(EvidenceFile.sha256 == actual))
    upload.evidence_id = evidence.id
    upload.completed_at = utcnow()
    db.session.flush()
    metrics.upload_completed()
    if created:
        record_event("evidence.stored", channel="api", object_type="evidence_file", object_id=evidence.id,
                     details={"sha256": actual, "size": evidence.size, "media_type": evidence.media_type,
                              "upload_id": upload.id})
        on_evidence_stored(evidence)


def on_evidence_stored(evidence_file: EvidenceFile) -> None:
    """Called once when new evidence bytes have been stored (not for a repeat of known bytes).

    Manifest photos naming this SHA-256 become received, and submitted inspections whose every
    photo is now here become complete. Runs inside the upload's transaction. (A photo record
    that arrives after its bytes is matched by the sync push instead.) With a job queue, its
    variants are made in the background, so the first person to look at it does not wait.
    """
    from .jobs import photo_stored  # the field's job kinds import this module

    mark_photos_received(evidence_file)
    photo_stored(evidence_file.sha256)


# --- termination and expiration ------------------------------------------------------------------


def terminate_upload(upload: Upload) -> None:
    """tus termination: the upload and its bytes go; stored evidence is never deleted this way."""
    (evidence_root() / upload.temp_path).unlink(missing_ok=True)
    upload_digest.forget(upload.id)
    db.session.delete(upload)
    db.session.flush()


def clean_expired_uploads(now: datetime | None = None) -> int:
    """Remove expired partial uploads with their files, and stray temporary files older than the
    expiry window (left by a creation whose commit failed). Returns the number of uploads removed."""
    now = now or utcnow()
    partial = db.session.scalars(sa.select(Upload).where(Upload.completed_at.is_(None))).all()
    expired = [upload for upload in partial if upload_progress(upload).expires_at <= now]
    for upload in expired:
        terminate_upload(upload)
    incoming = evidence_root() / INCOMING_DIR
    if incoming.is_dir():
        known = set(db.session.scalars(sa.select(Upload.temp_path).where(Upload.completed_at.is_(None))))
        horizon = (now - timedelta(hours=current_app.config["UPLOAD_EXPIRES_AFTER_HOURS"])).timestamp()
        for stray in incoming.glob(f"*{PART_SUFFIX}"):
            if f"{INCOMING_DIR}/{stray.name}" not in known and stray.stat().st_mtime < horizon:
                stray.unlink(missing_ok=True)
    return len(expired)
