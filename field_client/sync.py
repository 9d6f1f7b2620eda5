"""`sync`: push the outbox, upload the photos, pull the server's changes (DESIGN.md §5).

Nothing is taken as done on hope. An operation becomes `done` only when a JSON answer names its
`op_id` with status 200; 409/422/403/404 make it `failed` with the server's reason; anything else
(no answer, a captive portal's HTML, a 5xx, an answer that leaves it out) leaves it `pending` for
the next run, and the server's idempotency on `op_id` turns a resend into the original result.
A photo's bytes go by tus once its `photo` operation is done; the upload URL and the confirmed
offset are committed after every chunk, so a cut connection resumes from the server's HEAD
offset, in this run or the next. The pull cursor moves in the same transaction that stores the
changes it covers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from .chunking import ChunkSizer
from .http import ServerError, request_json
from .store import DROPPED_ENVELOPE_STATUSES, REVEAL_TOLERANCE_KEY, Store, now_utc
from .tus import TusClient, TusError

PUSH_BATCH = 500
FAILED_STATUSES = {403: "无权执行此操作", 404: "服务器上找不到相关记录", 409: "与服务器上同一操作的内容不一致",
                   422: "服务器认为数据无效"}
# Pauses before each in-run retry of an upload whose connection was cut (tests set zeros).
RETRY_DELAYS = (1.0, 3.0, 10.0)
MAX_CHECKSUM_RESENDS = 3   # 460: the chunk arrived damaged, send it again
MAX_NEW_UPLOADS = 2        # 422 on the whole file: start over, but not forever
MAX_ROUNDS = 50            # HEAD-and-resume rounds for one photo in one run
MAX_PULL_PAGES = 10_000
HASH_BLOCK = 2**20
CURSOR_KEY = "sync_cursor"
LOCK_NAME = ".sync.lock"


class SyncError(Exception):
    """A sync step that cannot go on (Chinese message); `network` when the server is out of reach."""

    def __init__(self, message: str, *, network: bool = False):
        super().__init__(message)
        self.network = network


# --- push ----------------------------------------------------------------------------------------


PARALLEL_RECORD_NOTICE = "本任务组内另一台设备也提交了记录，已作为并行记录保存，由办公室核定以哪份为准。"


@dataclass
class PushOutcome:
    done: int = 0
    failed: list[dict] = field(default_factory=list)   # {"op_id", "entity", "reason"}
    kept: int = 0                                      # answered without a decision: still pending
    error: str | None = None                           # the request itself failed: the rest stays pending
    photos_held: int = 0                               # photos the server already had: not sent again
    notices: list[str] = field(default_factory=list)   # what the server asks to tell the user (Chinese)
    skew_seconds: float | None = None
    skew_flagged: bool = False
    server_time: str | None = None


def device_time() -> str:
    """The device's clock, with its UTC offset (the server records it, never orders by it)."""
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _checked_results(answer) -> dict[str, dict] | None:
    """The per-operation results by op_id, or None when the answer is not the contract's."""
    if not isinstance(answer, dict) or not isinstance(answer.get("results"), list):
        return None
    results = {}
    for result in answer["results"]:
        if not (isinstance(result, dict) and isinstance(result.get("op_id"), str)
                and isinstance(result.get("status"), int) and not isinstance(result.get("status"), bool)):
            return None
        results[result["op_id"]] = result
    return results


def push(store: Store, server_url: str, token: str, *, batch_size: int | None = None) -> PushOutcome:
    """Send the pending operations in the order they were made, in batches."""
    batch_size = batch_size or PUSH_BATCH
    outcome = PushOutcome()
    device_id = None
    after = 0
    while True:
        rows = store.query("SELECT * FROM outbox WHERE state = 'pending' AND seq > ? ORDER BY seq LIMIT ?",
                           (after, batch_size))
        if not rows:
            return outcome
        device_id = device_id or store.device_id()
        after = rows[-1]["seq"]
        body = {"device_id": device_id, "device_time": device_time(),
                "operations": [{"op_id": row["op_id"], "entity": row["entity"], "entity_id": row["entity_id"],
                                "payload": json.loads(row["payload"]), "payload_sha256": row["payload_sha256"]}
                               for row in rows]}
        try:
            answer = request_json("POST", f"{server_url}/api/v1/sync/push", token=token, body=body)
        except ServerError as error:
            outcome.error = str(error)
            return outcome
        results = _checked_results(answer)
        if results is None:
            outcome.error = "服务器对推送的回答格式不正确，本批操作仍待同步。"
            return outcome
        _note_clock(outcome, answer)
        moment = now_utc()
        with store.change() as tx:
            for row in rows:
                result = results.get(row["op_id"])
                status = result["status"] if result else None
                if status == 200:
                    server_seq = result.get("server_seq")
                    tx.execute("UPDATE outbox SET state = 'done', last_error = NULL, synced_at = ?, server_seq = ?"
                               " WHERE op_id = ? AND state = 'pending'",
                               (moment, server_seq if isinstance(server_seq, int) else None, row["op_id"]))
                    outcome.done += 1
                    if row["entity"] == "inspection" and result.get("parallel_record") is True:
                        # Another device of the team recorded this assignment first: this record is
                        # kept beside it, and the office decides which stands.
                        notice = result.get("notice")
                        outcome.notices.append(notice if isinstance(notice, str) and notice.strip()
                                               else PARALLEL_RECORD_NOTICE)
                    if row["entity"] == "photo" and result.get("photo_received") is True:
                        # The server holds these bytes already (same SHA-256): nothing to upload.
                        tx.execute("INSERT INTO photo_uploads (photo_uuid, upload_offset, uploaded_at, updated_at)"
                                   " SELECT uuid, size, ?, ? FROM photos WHERE uuid = ?"
                                   " ON CONFLICT (photo_uuid) DO UPDATE SET upload_offset = excluded.upload_offset,"
                                   " uploaded_at = excluded.uploaded_at, last_error = NULL,"
                                   " updated_at = excluded.updated_at", (moment, moment, row["entity_id"]))
                        outcome.photos_held += 1
                elif status in FAILED_STATUSES:
                    detail = result.get("detail")
                    reason = f"{detail if isinstance(detail, str) and detail else FAILED_STATUSES[status]}（{status}）"
                    tx.execute("UPDATE outbox SET state = 'failed', last_error = ?, synced_at = ?"
                               " WHERE op_id = ? AND state = 'pending'", (reason, moment, row["op_id"]))
                    outcome.failed.append({"op_id": row["op_id"], "entity": row["entity"], "reason": reason})
                else:
                    note = "服务器的回答未包含此操作" if result is None else f"服务器暂未处理（{status}）"
                    tx.execute("UPDATE outbox SET last_error = ? WHERE op_id = ? AND state = 'pending'",
                               (note + "，下次同步时重试。", row["op_id"]))
                    outcome.kept += 1
            tx.execute(SETTLE_REFUSALS, (moment,))


# Once per pushed batch: a refused operation is settled by an accepted amendment that names it,
# or else by the first accepted operation on the same record after it (its corrected resend).
SETTLE_REFUSALS = """
UPDATE outbox SET
    settled_by = COALESCE(settled_by, (SELECT later.op_id FROM outbox AS later WHERE later.state = 'done'
        AND later.entity = outbox.entity AND later.entity_id = outbox.entity_id AND later.seq > outbox.seq
        ORDER BY later.seq LIMIT 1)),
    settled_at = ?
WHERE state = 'failed' AND settled_at IS NULL AND (
    settled_by IN (SELECT op_id FROM outbox WHERE state = 'done')
    OR EXISTS (SELECT 1 FROM outbox AS later WHERE later.state = 'done' AND later.entity = outbox.entity
               AND later.entity_id = outbox.entity_id AND later.seq > outbox.seq))
"""


def _note_clock(outcome: PushOutcome, answer: dict) -> None:
    skew = answer.get("clock_skew_seconds")
    if isinstance(skew, (int, float)) and not isinstance(skew, bool):
        outcome.skew_seconds = float(skew)
    if answer.get("skew_flagged") is True:
        outcome.skew_flagged = True
    if isinstance(answer.get("server_time"), str):
        outcome.server_time = answer["server_time"]


# --- photos --------------------------------------------------------------------------------------


def photos_ready(store: Store) -> list[sqlite3.Row]:
    """Photos whose record is on the server (their `photo` operation done) and whose bytes are not."""
    return store.query(
        "SELECT p.*, u.upload_url, u.upload_offset FROM photos p"
        " JOIN outbox o ON o.entity = 'photo' AND o.entity_id = p.uuid AND o.state = 'done'"
        " LEFT JOIN photo_uploads u ON u.photo_uuid = p.uuid"
        " WHERE u.uploaded_at IS NULL ORDER BY p.created_at, p.uuid")


def photos_not_uploaded(store: Store) -> list[sqlite3.Row]:
    """Every photo whose bytes are not yet on the server, with why (for `status`)."""
    return store.query(
        "SELECT p.uuid, p.original_name, p.size, o.state AS op_state, o.last_error AS op_error,"
        " u.upload_url, COALESCE(u.upload_offset, 0) AS upload_offset, u.last_error AS upload_error"
        " FROM photos p LEFT JOIN outbox o ON o.entity = 'photo' AND o.entity_id = p.uuid"
        " LEFT JOIN photo_uploads u ON u.photo_uuid = p.uuid"
        " WHERE u.uploaded_at IS NULL ORDER BY p.created_at, p.uuid")


def _save_upload(store: Store, photo_uuid: str, **values) -> None:
    values["updated_at"] = now_utc()
    columns = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    updates = ", ".join(f"{column} = excluded.{column}" for column in values)
    with store.change() as tx:
        tx.execute(f"INSERT INTO photo_uploads (photo_uuid, {columns}) VALUES (?, {marks})"
                   f" ON CONFLICT (photo_uuid) DO UPDATE SET {updates}", (photo_uuid, *values.values()))


def _local_sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while block := handle.read(HASH_BLOCK):
                digest.update(block)
    except FileNotFoundError:
        return None
    return digest.hexdigest()


def upload_photo(store: Store, client: TusClient, photo: sqlite3.Row, *, sizer: ChunkSizer | None = None,
                 on_progress=lambda offset: None) -> None:
    """Upload one stored original by tus, resuming where the server says it is; SyncError if not done.

    `sizer` sizes the chunks (one per run, so what a photo learnt of the link serves the next);
    in-run retries are counted from the last chunk that got through."""
    sizer = sizer or ChunkSizer()
    path = store.photos_dir / photo["filename"]
    size = photo["size"]
    if _local_sha256(path) != photo["sha256"]:
        message = f"本机照片文件 {photo['original_name']} 缺失或已损坏（与记录的 SHA-256 不符），无法上传。"
        _save_upload(store, photo["uuid"], last_error=message)
        raise SyncError(message)
    metadata = {"sha256": photo["sha256"], "filename": photo["original_name"], "filetype": photo["media_type"]}
    url = photo["upload_url"]
    new_uploads = resends = retries = 0
    for _ in range(MAX_ROUNDS):
        try:
            if url is None:
                if new_uploads >= MAX_NEW_UPLOADS:
                    raise SyncError(f"照片 {photo['original_name']} 多次被服务器拒收，请用 anfang-field status 查看原因。")
                new_uploads += 1
                url = client.create(size, metadata)
                _save_upload(store, photo["uuid"], upload_url=url, upload_offset=0, last_error=None)
            offset, length = client.offset(url)
            if length is not None and length != size:
                url = None  # not this file's upload: begin again
                continue
            _save_upload(store, photo["uuid"], upload_offset=offset)
            on_progress(offset)
            sent_last = False
            with path.open("rb") as handle:
                while offset < size:
                    handle.seek(offset)
                    chunk = handle.read(sizer.size)
                    try:
                        answered = client.patch(url, offset, chunk)
                    except TusError as error:
                        if error.status == 460 and resends < MAX_CHECKSUM_RESENDS:
                            resends += 1
                            continue
                        raise
                    if answered != offset + len(chunk):
                        break  # the server counts differently: ask it again (HEAD)
                    offset = answered
                    resends = retries = 0
                    sizer.delivered()
                    sent_last = offset == size
                    _save_upload(store, photo["uuid"], upload_offset=offset)
                    on_progress(offset)
            if offset < size:
                continue
            if not sent_last:
                # HEAD found every byte there already (the answer to our last PATCH was lost):
                # an empty PATCH at the end gets the final 204 now (tus accepts it, changing nothing).
                client.patch(url, size, b"")
            confirmed, _ = client.offset(url)
            if confirmed == size:
                _save_upload(store, photo["uuid"], upload_offset=size, uploaded_at=now_utc(), last_error=None)
                return
        except TusError as error:
            if error.status in (404, 410):
                url = None  # gone or expired on the server: a new upload
                _save_upload(store, photo["uuid"], upload_url=None, upload_offset=0, last_error=str(error))
                continue
            if error.status == 422:
                url = None  # the server refused the whole file (hash or content): upload it again
                _save_upload(store, photo["uuid"], upload_url=None, upload_offset=0, last_error=str(error))
                continue
            if error.status is None:
                sizer.cut()
            transient = error.status is None or error.status >= 500 or error.status in (409, 423, 460)
            if transient and retries < len(RETRY_DELAYS):
                time.sleep(RETRY_DELAYS[retries])
                retries += 1
                continue
            _save_upload(store, photo["uuid"], last_error=str(error))
            # Out of reach, or our token refused: the other photos would fare no better now.
            raise SyncError(f"照片 {photo['original_name']}：{error}", network=transient or error.status == 401) from None
    message = f"照片 {photo['original_name']}：服务器给出的上传进度前后不一致，本次未完成。"
    _save_upload(store, photo["uuid"], last_error=message)
    raise SyncError(message)


# --- pull ----------------------------------------------------------------------------------------


@dataclass
class PullOutcome:
    changes: int = 0
    cursor: int = 0


def _checked_page(answer) -> tuple[list[dict], int, bool]:
    bad = ServerError("服务器对下载变化的回答格式不正确，未保存，游标未前移。")
    if not isinstance(answer, dict) or not isinstance(answer.get("changes"), list):
        raise bad
    cursor, more = answer.get("cursor"), answer.get("more")
    if not isinstance(cursor, int) or isinstance(cursor, bool) or not isinstance(more, bool):
        raise bad
    for change in answer["changes"]:
        if not (isinstance(change, dict) and isinstance(change.get("seq"), int)
                and isinstance(change.get("entity"), str) and isinstance(change.get("entity_id"), (str, int))
                and isinstance(change.get("data"), (dict, type(None)))):
            raise bad
    return answer["changes"], cursor, more


def _apply_change(tx, change: dict, moment: str) -> None:
    data = change.get("data") or {}
    entity_id = str(change["entity_id"])
    status = data.get("status")
    if not isinstance(status, str):
        return
    if change["entity"] == "inspection":
        tx.execute("UPDATE inspections SET server_status = ?, server_status_at = ? WHERE uuid = ?",
                   (status, moment, entity_id))
    elif change["entity"] == "assignment":
        label = data.get("status_label") if isinstance(data.get("status_label"), str) else None
        ident = int(entity_id) if entity_id.isdigit() else None
        tx.execute("UPDATE assignments SET status = ?, status_label = COALESCE(?, status_label)"
                   " WHERE uuid = ? OR id = ?", (status, label, entity_id, ident))
        if status in DROPPED_ENVELOPE_STATUSES:
            tx.execute("UPDATE assignments SET envelope = NULL WHERE uuid = ? OR id = ?", (entity_id, ident))


def pull(store: Store, server_url: str, token: str) -> PullOutcome:
    """Fetch changes after the local cursor, page by page; each page stored with its cursor."""
    cursor = int(store.get_config(CURSOR_KEY) or 0)
    outcome = PullOutcome(cursor=cursor)
    for _ in range(MAX_PULL_PAGES):
        answer = request_json("GET", f"{server_url}/api/v1/sync/pull?cursor={cursor}", token=token)
        changes, next_cursor, more = _checked_page(answer)
        if next_cursor < cursor:
            raise ServerError(f"服务器的游标 {next_cursor} 小于本机的 {cursor}，未保存。")
        head = answer.get("head")
        if isinstance(head, int) and not isinstance(head, bool) and next_cursor > head:
            raise ServerError(f"服务器的游标 {next_cursor} 超过其当前的变化序号 {head}，未保存。")
        tolerance = answer.get("reveal_clock_tolerance_s")
        if isinstance(tolerance, int) and not isinstance(tolerance, bool) and tolerance >= 0 \
                and store.get_config(REVEAL_TOLERANCE_KEY) != str(tolerance):
            store.set_config({REVEAL_TOLERANCE_KEY: str(tolerance)})
        if changes or next_cursor != cursor:
            moment = now_utc()
            with store.change() as tx:
                for change in changes:
                    tx.execute("INSERT INTO server_changes (seq, entity, entity_id, data, received_at)"
                               " VALUES (?, ?, ?, ?, ?) ON CONFLICT (seq) DO NOTHING",
                               (change["seq"], change["entity"], str(change["entity_id"]),
                                json.dumps(change.get("data"), ensure_ascii=False, sort_keys=True), moment))
                    _apply_change(tx, change, moment)
                # Same transaction: the cursor never passes changes that are not stored.
                tx.execute("INSERT INTO config (key, value) VALUES (?, ?)"
                           " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (CURSOR_KEY, str(next_cursor)))
        outcome.changes += len(changes)
        outcome.cursor = next_cursor
        if not more:
            return outcome
        if next_cursor == cursor and not changes:
            raise ServerError("服务器表示还有变化，却没有给出新的内容，已停止下载。")
        cursor = next_cursor
    return outcome


# --- one at a time -------------------------------------------------------------------------------


@contextlib.contextmanager
def exclusive(home: Path):
    """Only one `sync` per store at a time (a second one would send the same batch twice)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(home / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncError("另一个 anfang-field sync 正在进行，请等它结束。") from None
        yield
    finally:
        os.close(fd)
