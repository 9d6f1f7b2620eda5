"""`anfang-field sync` against a fake server that implements the sync contract (DESIGN.md §5) on
loopback with real sockets: push with per-operation results and op_id idempotency, tus 1.0 uploads
(creation, SHA-256 chunk checksums, HEAD), and paged pull. The fake can misbehave on request: a
captive-portal page, a dropped connection after its commit, a per-operation refusal, a connection
cut in the middle of a chunk, a damaged chunk (460), a whole file refused (422), a failing page.
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
import socket
import sqlite3
import threading
import uuid
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask, jsonify, make_response, request
from PIL import Image
from werkzeug.serving import make_server

from field_client import fieldwork
from field_client import sync as syncing
from field_client.chunking import PROBE_AFTER
from field_client.cli import main
from field_client.store import Store, canonical_json

TOKEN = "fake-device-token"
CHUNK = 64 * 1024
ASSIGNMENT_UUID = "0b7c8a52-54a4-4a8e-9d1f-6f3c2a9e1d01"


class LiveServer:
    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join()
        self.server.server_close()


def drop_connection():
    """Close the client's socket without an answer (as a dying network or server would)."""
    request.environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
    raise ConnectionResetError("dropped on purpose")


class FakeSyncServer:
    """The sync contract, in memory, with counters and switches for faults."""

    def __init__(self):
        self.results: dict[str, tuple[str, dict]] = {}     # op_id -> (payload hash, result)
        self.applied = Counter()                          # (entity, entity_id) -> times applied
        self.received: list[str] = []                     # op_ids in the order they arrived
        self.push_requests = 0
        self.seq = 0
        self.refuse: dict[str, tuple[int, str]] = {}      # entity -> (status, detail)
        self.omit: set[str] = set()                       # entities left out of the answer
        self.drop_after_commit = 0                        # pushes to apply, then drop unanswered
        self.skew_flagged = False
        self.parallel_notice = None                       # inspections answered as parallel records
        # tus
        self.uploads: dict[str, dict] = {}
        self.creates = 0
        self.patches: list[tuple[str, int, int]] = []     # (upload id, offset, body length)
        self.cut_patches: dict[int, int] = {}             # PATCH number -> bytes to keep before the cut
        self.cut_over: int | None = None                  # a link that dies after this many bytes of a PATCH
        self.bad_checksum_patches: set[int] = set()       # PATCH numbers answered 460
        self.refuse_whole_file = 0                        # completions to refuse with 422
        self.evidence: dict[str, bytes] = {}
        self.tus_requests = 0
        self.portal_uploads = False                       # tus requests meet a captive portal
        # pull
        self.changes: list[dict] = []
        self.head: int | None = None                      # the head the server states (None: its last change)
        self.page_size = 2
        self.fail_pull_pages: set[int] = set()            # page numbers (from 1) answered with HTML
        self.pull_pages = 0
        self.pull_cursors: list[int] = []

        app = Flask("fake-sync")
        self.app = app

        @app.before_request
        def authorised():
            if self.portal_uploads and request.path.startswith("/api/v1/uploads"):
                self.tus_requests += 1
                return "<html>Please log in to the Wi-Fi</html>", 200, {"Content-Type": "text/html"}
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                return jsonify(title="未登录"), 401
            return None

        @app.post("/api/v1/sync/push")
        def push():
            self.push_requests += 1
            body = request.get_json()
            answers = []
            for op in body["operations"]:
                self.received.append(op["op_id"])
                answers.append(self._apply(op))
            if self.drop_after_commit:
                self.drop_after_commit -= 1
                drop_connection()
            answers = [answer for op, answer in zip(body["operations"], answers) if op["entity"] not in self.omit]
            return jsonify(results=answers, server_time="2026-01-01T00:00:00+00:00",
                           clock_skew_seconds=259200.0 if self.skew_flagged else 1.0,
                           skew_flagged=self.skew_flagged)

        @app.get("/api/v1/sync/pull")
        def pull():
            self.pull_pages += 1
            cursor = int(request.args["cursor"])
            self.pull_cursors.append(cursor)
            if self.pull_pages in self.fail_pull_pages:
                return "<html>portal</html>", 200, {"Content-Type": "text/html"}
            head = self.head if self.head is not None else max((c["seq"] for c in self.changes), default=0)
            if cursor > head:
                return (jsonify(type="about:blank", title="冲突", status=409, head=head,
                                detail=f"游标 {cursor} 超过服务器当前的变化序号 {head}：服务器上没有这些变化。"),
                        409, {"Content-Type": "application/problem+json"})
            after = [change for change in self.changes if change["seq"] > cursor]
            page = after[:self.page_size]
            return jsonify(changes=page, cursor=page[-1]["seq"] if page else cursor, more=len(after) > len(page),
                           head=head)

        @app.route("/api/v1/uploads/", methods=["POST"])
        def create():
            self.tus_requests += 1
            self.creates += 1
            metadata = {key: base64.b64decode(value).decode() for key, value in
                        (item.split(" ") for item in request.headers["Upload-Metadata"].split(","))}
            upload_id = uuid.uuid4().hex
            self.uploads[upload_id] = {"length": int(request.headers["Upload-Length"]), "metadata": metadata,
                                       "data": bytearray(), "complete": False}
            return self._tus(201, Location=f"/api/v1/uploads/{upload_id}", **{"Upload-Offset": "0"})

        @app.route("/api/v1/uploads/<upload_id>", methods=["HEAD"])
        def head(upload_id):
            self.tus_requests += 1
            upload = self.uploads.get(upload_id)
            if upload is None:
                return self._tus(404)
            return self._tus(200, **{"Upload-Offset": str(len(upload["data"])), "Upload-Length": str(upload["length"])})

        @app.route("/api/v1/uploads/<upload_id>", methods=["PATCH"])
        def patch(upload_id):
            self.tus_requests += 1
            upload = self.uploads.get(upload_id)
            if upload is None:
                return self._tus(404)
            offset = int(request.headers["Upload-Offset"])
            if offset != len(upload["data"]):
                return self._tus(409)
            number = len(self.patches) + 1
            self.patches.append((upload_id, offset, request.content_length or 0))
            if number in self.cut_patches:
                # Read part of the chunk, then the line goes dead: a checksummed chunk that did not
                # arrive whole is discarded, as the tus checksum extension says.
                request.stream.read(self.cut_patches[number])
                drop_connection()
            if self.cut_over is not None and (request.content_length or 0) > self.cut_over:
                request.stream.read(self.cut_over)
                drop_connection()
            body = request.stream.read()
            algorithm, digest = request.headers["Upload-Checksum"].split(" ")
            assert algorithm == "sha256"
            if number in self.bad_checksum_patches or hashlib.sha256(body).digest() != base64.b64decode(digest):
                return self._tus(460)
            if upload["complete"]:
                return self._tus(409 if body else 204, **{"Upload-Offset": str(len(upload["data"]))})
            upload["data"] += body
            if len(upload["data"]) == upload["length"]:
                declared = upload["metadata"]["sha256"]
                if self.refuse_whole_file or hashlib.sha256(upload["data"]).hexdigest() != declared:
                    self.refuse_whole_file = max(0, self.refuse_whole_file - 1)
                    del self.uploads[upload_id]
                    return jsonify(detail="文件的 SHA-256 与声明的不符，请重新上传。"), 422, {"Tus-Resumable": "1.0.0"}
                upload["complete"] = True
                self.evidence[declared] = bytes(upload["data"])
            return self._tus(204, **{"Upload-Offset": str(len(upload["data"]))})

    @staticmethod
    def _tus(status: int, **headers):
        response = make_response("", status)
        response.headers.update({"Tus-Resumable": "1.0.0", **headers})
        return response

    def _apply(self, op: dict) -> dict:
        digest = hashlib.sha256(canonical_json(op["payload"])).hexdigest()
        if op["op_id"] in self.results:
            known_digest, result = self.results[op["op_id"]]
            if known_digest != digest:
                return {"op_id": op["op_id"], "status": 409, "detail": "同一操作编号的内容与之前不一致，已拒绝。"}
            return result
        if digest != op["payload_sha256"]:
            return {"op_id": op["op_id"], "status": 422, "detail": "操作内容与其哈希不符。"}
        if op["entity"] in self.refuse:
            status, detail = self.refuse[op["entity"]]
            result = {"op_id": op["op_id"], "status": status, "detail": detail}
        else:
            self.seq += 1
            self.applied[(op["entity"], op["entity_id"])] += 1
            result = {"op_id": op["op_id"], "status": 200, "server_seq": self.seq}
            if op["entity"] == "photo":
                result["photo_received"] = op["payload"]["sha256"] in self.evidence
            if op["entity"] == "inspection" and self.parallel_notice is not None:
                result.update(parallel_record=True, notice=self.parallel_notice)
        self.results[op["op_id"]] = (digest, result)
        return result


@pytest.fixture
def fake():
    server = FakeSyncServer()
    live = LiveServer(server.app)
    server.url = live.url
    try:
        yield server
    finally:
        live.stop()


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(syncing, "RETRY_DELAYS", (0.0,))


def photo_file(path: Path, seed: int, size=(640, 400)) -> Path:
    """A JPEG of noise (does not compress: a few hundred KiB, several 64 KiB chunks)."""
    image = Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    path.write_bytes(buffer.getvalue())
    return path


def device(tmp_path: Path, url: str, photos: int = 0) -> Path:
    """A logged-in device with a revealed inspection, `photos` photos and a note, all pending."""
    home = tmp_path / "device"
    with Store(home) as store:
        store.save_token(TOKEN)
        store.set_config({"server_url": url})
        fieldwork.store_pull(store, [{"id": 7, "uuid": ASSIGNMENT_UUID, "status": "dispatched"}], [], "v1")
        row = fieldwork.find_assignment(store, "7")
        fieldwork.reveal(store, row, {"name": "测试博物馆", "category_code": "museum"}, how="code",
                         latitude=None, longitude=None)
        inspection = fieldwork.inspection_of(store, row)
        for number in range(photos):
            source = photo_file(tmp_path / f"现场{number}.jpg", number)
            fieldwork.add_photo(store, inspection, source, finding_uuid=None, caption=None)
        fieldwork.add_note(store, inspection, "positive", "入口秩序良好")
    return home


def run(home: Path, *args):
    return CliRunner().invoke(main, ["--home", str(home), *map(str, args)])


def sync(home: Path, *args, code: int = 0) -> str:
    result = run(home, "sync", "--chunk-size", CHUNK, *args)
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.output


def rows(home: Path, sql: str, params=()):
    connection = sqlite3.connect(home / "field.sqlite3")
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def states(home: Path) -> dict[str, str]:
    return dict(rows(home, "SELECT entity, state FROM outbox ORDER BY seq"))


def dump(home: Path) -> list[str]:
    connection = sqlite3.connect(home / "field.sqlite3")
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


# --- push ----------------------------------------------------------------------------------------


def test_push_in_order_then_photos_then_pull_and_a_second_sync_changes_nothing(fake, tmp_path, monkeypatch):
    monkeypatch.setattr(syncing, "PUSH_BATCH", 2)  # several requests, still in outbox order
    home = device(tmp_path, fake.url, photos=2)
    fake.skew_flagged = True
    fake.changes = [{"seq": 1, "entity": "assignment", "entity_id": ASSIGNMENT_UUID,
                     "data": {"status": "in_progress", "status_label": "督查中"}}]
    output = sync(home)
    assert "成功 5 项，失败 0 项" in output and "上传照片：2 张" in output and "下载变化：1 项" in output
    assert "本机时钟与服务器相差约 4320 分钟" in output
    assert "同步完成" in output
    assert fake.received == [op for (op,) in rows(home, "SELECT op_id FROM outbox ORDER BY seq")]
    assert fake.push_requests == 3
    assert rows(home, "SELECT DISTINCT state FROM outbox") == [("done",)]
    assert [seq for (seq,) in rows(home, "SELECT server_seq FROM outbox ORDER BY seq")] == [1, 2, 3, 4, 5]
    for sha256, filename in rows(home, "SELECT sha256, filename FROM photos"):
        assert hashlib.sha256(fake.evidence[sha256]).hexdigest() == sha256
        assert fake.evidence[sha256] == (home / "photos" / filename).read_bytes()
    assert rows(home, "SELECT COUNT(*) FROM photo_uploads WHERE uploaded_at IS NOT NULL") == [(2,)]
    assert rows(home, "SELECT status, status_label FROM assignments") == [("in_progress", "督查中")]
    ((device_id,),) = rows(home, "SELECT value FROM config WHERE key = 'device_id'")
    assert uuid.UUID(device_id)

    before, pushes, tus = dump(home), fake.push_requests, fake.tus_requests
    output = sync(home)
    assert "没有需要同步的内容" in output
    assert dump(home) == before
    assert (fake.push_requests, fake.tus_requests) == (pushes, tus)
    assert "待同步操作：0 项；被拒绝未解决：0 项" in run(home, "status").output


def test_only_operations_a_json_answer_names_with_200_are_done(fake, tmp_path):
    home = device(tmp_path, fake.url)
    fake.omit = {"note"}
    output = sync(home, code=1)
    assert "1 项操作仍待同步" in output
    assert states(home) == {"assignment_reveal": "done", "inspection": "done", "note": "pending"}
    (note_error,) = rows(home, "SELECT last_error FROM outbox WHERE entity = 'note'")[0]
    assert "未包含此操作" in note_error
    fake.omit = set()
    assert "同步完成" in sync(home)
    assert states(home)["note"] == "done"
    assert all(count == 1 for count in fake.applied.values()) and len(fake.applied) == 3


def test_captive_portal_page_marks_nothing_done(tmp_path):
    def portal(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [b"<html><body>Please log in to the Wi-Fi</body></html>"]

    live = LiveServer(portal)
    try:
        home = device(tmp_path, live.url, photos=1)
        before = rows(home, "SELECT op_id, state, last_error FROM outbox ORDER BY seq")
        output = sync(home, code=1)
    finally:
        live.stop()
    assert "不是 JSON" in output and "3 项操作仍待同步" not in output
    assert "4 项操作仍待同步" in output and "1 张照片尚未上传" in output
    assert rows(home, "SELECT op_id, state, last_error FROM outbox ORDER BY seq") == before
    assert rows(home, "SELECT COUNT(*) FROM photo_uploads") == [(0,)]
    assert rows(home, "SELECT COUNT(*) FROM config WHERE key = 'sync_cursor'") == [(0,)]


def test_a_refused_operation_fails_with_its_reason_and_the_rest_applies(fake, tmp_path):
    home = device(tmp_path, fake.url)
    fake.refuse = {"note": (409, "同一操作编号的内容与之前不一致，已拒绝。")}
    output = sync(home, code=1)
    assert "成功 2 项，失败 1 项" in output and "同一操作编号的内容与之前不一致" in output
    assert states(home) == {"assignment_reveal": "done", "inspection": "done", "note": "failed"}
    status = run(home, "status").output
    assert "被拒绝未解决：1 项" in status and "同一操作编号的内容与之前不一致，已拒绝。（409）" in status
    assert "amend --settles" in status  # and how to settle it
    # A refusal is never resent, and sync keeps saying so (exit 1) until it is settled.
    output = sync(home, code=1)
    assert "没有需要同步的内容" in output and "另有 1 项操作此前被服务器拒绝，尚未解决" in output
    assert fake.received.count(rows(home, "SELECT op_id FROM outbox WHERE entity = 'note'")[0][0]) == 1


def test_a_refused_observation_is_settled_by_its_corrected_resend(fake, tmp_path):
    home = device(tmp_path, fake.url)
    with Store(home) as store:
        inspection = fieldwork.inspection_of(store, fieldwork.find_assignment(store, "7"))
        fieldwork.record(store, inspection, [], {}, {"k3_visitors": 6000})
    fake.refuse = {"observation": (422, "参观人数超出合理范围。")}
    assert "参观人数超出合理范围" in sync(home, code=1)
    assert "被拒绝未解决：1 项" in run(home, "status").output

    fake.refuse = {}
    with Store(home) as store:
        fieldwork.record(store, inspection, [], {}, {"k3_visitors": 600})  # the same item, corrected
    output = sync(home)
    assert "同步完成" in output
    assert "被拒绝未解决：0 项" in run(home, "status").output
    refused, resent = rows(home, "SELECT op_id, state, settled_by, settled_at IS NOT NULL FROM outbox"
                                 " WHERE entity = 'observation' ORDER BY seq")
    assert refused[1:] == ("failed", resent[0], 1) and resent[1] == "done"


def test_a_refused_operation_is_settled_by_an_amendment_that_names_it(fake, tmp_path):
    home = device(tmp_path, fake.url)
    fake.refuse = {"note": (409, "该记录已提交，不能再添加典型材料。")}
    assert run(home, "submit", "7").exit_code == 0
    inspection_uuid = rows(home, "SELECT uuid FROM inspections")[0][0]
    fake.changes = [{"seq": 1, "entity": "inspection", "entity_id": inspection_uuid, "data": {"status": "complete"}}]
    sync(home, code=1)
    ((note_op,),) = rows(home, "SELECT op_id FROM outbox WHERE entity = 'note'")
    shown = run(home, "show", "7").output
    # Complete on the server, but not what this device recorded: never "已完整接收" then.
    assert "已完整接收" not in shown and "另有 1 项操作被拒绝、尚未解决" in shown, shown

    wrong = run(home, "amend", "7", "--reason", "补充说明", "--settles", "zz")
    assert wrong.exit_code == 1 and "找不到编号以 zz 开头的未解决的被拒操作" in wrong.output
    amended = run(home, "amend", "7", "--reason", "入口秩序良好一条未被接收，在此补充说明", "--settles", note_op[:8])
    assert amended.exit_code == 0, amended.output
    assert "被拒绝未解决：1 项" in run(home, "status").output  # until the server accepts the amendment
    assert "同步完成" in sync(home)
    assert "被拒绝未解决：0 项" in run(home, "status").output
    ((amendment_op,),) = rows(home, "SELECT op_id FROM outbox WHERE entity = 'amendment'")
    assert rows(home, "SELECT settled_by, settled_at IS NOT NULL FROM outbox WHERE op_id = ?", (note_op,)) == [
        (amendment_op, 1)]
    assert "没有需要同步的内容" in sync(home)
    assert "已完整接收" in run(home, "show", "7").output


def test_resend_after_a_dropped_answer_is_applied_once(fake, tmp_path):
    home = device(tmp_path, fake.url)
    fake.drop_after_commit = 1  # the server commits, then the connection dies before the answer
    output = sync(home, code=1)
    assert "无法连接服务器" in output and "3 项操作仍待同步" in output
    assert set(states(home).values()) == {"pending"}
    assert "同步完成" in sync(home)
    assert set(states(home).values()) == {"done"}
    assert len(fake.received) == 6  # every operation arrived twice
    assert sorted(fake.applied.values()) == [1, 1, 1]  # and exists once


# --- photos --------------------------------------------------------------------------------------


def test_upload_cut_mid_chunk_resumes_from_the_server_offset_across_runs(fake, tmp_path):
    home = device(tmp_path, fake.url, photos=1)
    ((size, sha256),) = rows(home, "SELECT size, sha256 FROM photos")
    assert size > 4 * CHUNK
    # The third chunk is cut half-way; the in-run retry (one here) is cut too: this run gives up.
    fake.cut_patches = {3: CHUNK // 2, 4: 1000}
    output = sync(home, code=1)
    assert "1 张照片尚未上传" in output and "上传连接中断" in output
    ((url, offset, uploaded_at),) = rows(home, "SELECT upload_url, upload_offset, uploaded_at FROM photo_uploads")
    assert url.startswith(fake.url + "/api/v1/uploads/") and offset == 2 * CHUNK and uploaded_at is None
    assert "上传连接中断" in run(home, "status").output

    output = sync(home)
    assert "上传照片：1 张" in output
    assert fake.creates == 1  # the same upload, resumed
    offsets = [offset for _, offset, _ in fake.patches]
    assert offsets[:4] == [0, CHUNK, 2 * CHUNK, 2 * CHUNK]
    assert offsets[4] == 2 * CHUNK and 0 not in offsets[1:]  # from the HEAD offset, not from zero
    assert hashlib.sha256(fake.evidence[sha256]).hexdigest() == sha256
    assert rows(home, "SELECT upload_offset, uploaded_at IS NOT NULL FROM photo_uploads") == [(size, 1)]


def test_a_damaged_chunk_is_resent_and_a_refused_file_is_uploaded_again(fake, tmp_path):
    home = device(tmp_path, fake.url, photos=1)
    ((sha256,),) = rows(home, "SELECT sha256 FROM photos")
    fake.bad_checksum_patches = {2}
    fake.refuse_whole_file = 1
    output = sync(home)
    assert "上传照片：1 张" in output
    assert fake.creates == 2
    assert fake.patches[1][1] == fake.patches[2][1] == CHUNK  # chunk 2 sent again at the same offset
    assert fake.evidence[sha256] == next((home / "photos").iterdir()).read_bytes()


def test_a_lost_answer_to_the_last_chunk_is_confirmed_not_resent(fake, tmp_path):
    home = device(tmp_path, fake.url, photos=1)
    ((size,),) = rows(home, "SELECT size FROM photos")
    chunks = -(-size // CHUNK)

    original = FakeSyncServer._tus
    calls = {"n": 0}

    def lose_last_answer(status, **headers):
        # The server stores the last chunk, then the line dies before its 204 leaves.
        if status == 204 and headers.get("Upload-Offset") == str(size) and not calls["n"]:
            calls["n"] += 1
            drop_connection()
        return original(status, **headers)

    fake._tus = lose_last_answer
    assert "上传照片：1 张" in sync(home)
    assert len(fake.patches) == chunks + 1 and fake.patches[-1][1:] == (size, 0)  # an empty PATCH at the end
    assert fake.creates == 1


def test_a_photo_the_server_already_holds_is_not_sent_again(fake, tmp_path):
    first = device(tmp_path / "a", fake.url, photos=1)
    assert "上传照片：1 张。" in sync(first)
    assert fake.creates == 1

    # A team mate's device holds the same picture (same bytes, same SHA-256) under its own record.
    second = device(tmp_path / "b", fake.url, photos=1)
    assert rows(second, "SELECT sha256 FROM photos") == rows(first, "SELECT sha256 FROM photos")
    output = sync(second)
    assert "上传照片：0 张。另有 1 张服务器已有，未重复上传。" in output
    assert fake.creates == 1 and len(fake.evidence) == 1  # no second upload
    ((size,),) = rows(second, "SELECT size FROM photos")
    assert rows(second, "SELECT upload_offset, uploaded_at IS NOT NULL FROM photo_uploads") == [(size, 1)]
    assert "没有需要同步的内容" in sync(second)


def test_a_record_kept_as_a_parallel_record_is_told_to_the_user(fake, tmp_path):
    """Another device of the team recorded the assignment first: the server keeps this record
    too, as a parallel record, and the user reads the server's notice."""
    home = device(tmp_path, fake.url)
    fake.parallel_notice = "本任务组内另一台设备也提交了记录，已作为并行记录保存，由办公室核定以哪份为准。"
    output = sync(home)
    assert "成功 3 项，失败 0 项" in output
    assert "提示：本任务组内另一台设备也提交了记录，已作为并行记录保存，由办公室核定以哪份为准。" in output
    assert "同步完成" in output and rows(home, "SELECT DISTINCT state FROM outbox") == [("done",)]


def test_chunks_shrink_on_a_link_that_cuts_every_200_kb_where_fixed_1_mib_chunks_never_arrive(fake, tmp_path):
    home = device(tmp_path, fake.url)
    with Store(home) as store:
        inspection = fieldwork.inspection_of(store, fieldwork.find_assignment(store, "7"))
        fieldwork.add_photo(store, inspection, photo_file(tmp_path / "大厅.jpg", 9, size=(1280, 900)),
                            finding_uuid=None, caption=None)
    ((size, sha256),) = rows(home, "SELECT size, sha256 FROM photos")
    assert size > 4 * 200_000
    fake.cut_over = 200_000

    fixed = run(home, "sync", "--chunk-size", 2**20)
    assert fixed.exit_code == 1 and "1 张照片尚未上传" in fixed.output, fixed.output
    assert [length for _, _, length in fake.patches] == [2**20, 2**20]  # the try and its retry, both cut
    assert rows(home, "SELECT upload_offset FROM photo_uploads") == [(0,)]

    del fake.patches[:]
    adaptive = run(home, "sync")
    assert adaptive.exit_code == 0 and "上传照片：1 张" in adaptive.output, adaptive.output
    lengths = [length for _, _, length in fake.patches]
    assert lengths[0] == 256 * 1024  # the first try, cut
    # Then what gets through, and now and then one larger try (cut again) to see if the link recovered.
    assert set(lengths[1:-1]) <= {128 * 1024, 256 * 1024} and 0 < lengths[-1] <= 128 * 1024
    assert lengths.count(256 * 1024) <= 1 + size // (PROBE_AFTER * 128 * 1024)
    assert hashlib.sha256(fake.evidence[sha256]).hexdigest() == sha256
    assert fake.creates == 1  # the upload the cut run began, resumed


# --- pull ----------------------------------------------------------------------------------------


def test_pull_moves_the_cursor_only_with_what_it_stored(fake, tmp_path):
    home = device(tmp_path, fake.url)
    inspection_uuid = rows(home, "SELECT uuid FROM inspections")[0][0]
    fake.changes = [
        {"seq": 3, "entity": "inspection", "entity_id": inspection_uuid, "data": {"status": "awaiting_evidence"}},
        {"seq": 4, "entity": "assignment", "entity_id": "7", "data": {"status": "in_progress"}},
        {"seq": 8, "entity": "venue", "entity_id": "12", "data": {"name": "新馆名"}},
        {"seq": 9, "entity": "inspection", "entity_id": inspection_uuid, "data": {"status": "complete"}},
    ]
    fake.fail_pull_pages = {2}  # the second page meets a captive portal
    output = sync(home, code=1)
    assert "下载服务器变化未完成" in output
    assert rows(home, "SELECT value FROM config WHERE key = 'sync_cursor'") == [("4",)]
    assert [seq for (seq,) in rows(home, "SELECT seq FROM server_changes ORDER BY seq")] == [3, 4]
    assert rows(home, "SELECT server_status FROM inspections") == [("awaiting_evidence",)]

    output = sync(home)
    assert "下载变化：2 项" in output
    assert fake.pull_cursors == [0, 4, 4]  # the failed page asked again, from the stored cursor
    assert rows(home, "SELECT value FROM config WHERE key = 'sync_cursor'") == [("9",)]
    assert rows(home, "SELECT server_status FROM inspections") == [("complete",)]
    assert rows(home, "SELECT status FROM assignments") == [("in_progress",)]
    assert [seq for (seq,) in rows(home, "SELECT seq FROM server_changes ORDER BY seq")] == [3, 4, 8, 9]


def test_a_cursor_beyond_the_servers_head_is_refused_and_kept(fake, tmp_path):
    home = device(tmp_path, fake.url)
    inspection_uuid = rows(home, "SELECT uuid FROM inspections")[0][0]
    fake.changes = [{"seq": 9, "entity": "inspection", "entity_id": inspection_uuid, "data": {"status": "complete"}}]
    assert "下载变化：1 项" in sync(home)

    # The server's database came back from an older backup: its head is behind this device.
    fake.changes = [{"seq": 5, "entity": "inspection", "entity_id": inspection_uuid, "data": {"status": "draft"}}]
    output = sync(home, code=1)
    assert "超过服务器当前的变化序号 5" in output
    assert rows(home, "SELECT value FROM config WHERE key = 'sync_cursor'") == [("9",)]
    assert rows(home, "SELECT server_status FROM inspections") == [("complete",)]


def test_a_page_whose_cursor_passes_the_stated_head_stores_nothing(fake, tmp_path):
    home = device(tmp_path, fake.url)
    inspection_uuid = rows(home, "SELECT uuid FROM inspections")[0][0]
    fake.changes = [{"seq": 9, "entity": "inspection", "entity_id": inspection_uuid, "data": {"status": "complete"}}]
    fake.head = 12
    assert "下载变化：1 项" in sync(home)
    fake.changes.append({"seq": 14, "entity": "inspection", "entity_id": inspection_uuid,
                         "data": {"status": "draft"}})
    output = sync(home, code=1)
    assert "超过其当前的变化序号 12" in output
    assert rows(home, "SELECT value FROM config WHERE key = 'sync_cursor'") == [("9",)]
    assert [seq for (seq,) in rows(home, "SELECT seq FROM server_changes")] == [9]


def test_a_malformed_page_stores_nothing(fake, tmp_path):
    home = device(tmp_path, fake.url)
    fake.changes = [{"seq": 1, "entity": "assignment", "entity_id": ASSIGNMENT_UUID, "data": {"status": "x"}},
                    {"seq": 2, "entity": "assignment", "entity_id": ASSIGNMENT_UUID, "data": "not an object"}]
    assert "格式不正确" in sync(home, code=1)
    assert rows(home, "SELECT COUNT(*) FROM server_changes") == [(0,)]
    assert rows(home, "SELECT value FROM config WHERE key = 'sync_cursor'") == []
    assert rows(home, "SELECT status FROM assignments") == [("dispatched",)]


def test_a_portal_page_answering_tus_uploads_nothing(fake, tmp_path):
    home = device(tmp_path, fake.url, photos=1)
    fake.portal_uploads = True
    output = sync(home, code=1)
    assert "不是 tus 协议的回答" in output and "1 张照片尚未上传" in output
    assert fake.tus_requests == 1 and not fake.evidence
    assert rows(home, "SELECT COUNT(*) FROM photo_uploads WHERE uploaded_at IS NOT NULL") == [(0,)]
    fake.portal_uploads = False
    assert "上传照片：1 张" in sync(home)


def test_a_refused_token_keeps_everything_queued(fake, tmp_path):
    home = device(tmp_path, fake.url)
    with Store(home) as store:
        store.save_token("revoked")
    output = sync(home, code=1)
    assert "anfang-field login" in output and "3 项操作仍待同步" in output
    assert set(states(home).values()) == {"pending"}


def test_one_sync_at_a_time(fake, tmp_path):
    import fcntl

    home = device(tmp_path, fake.url)
    with open(home / syncing.LOCK_NAME, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert "另一个 anfang-field sync 正在进行" in sync(home, code=1)
    assert fake.push_requests == 0
    assert "同步完成" in sync(home)


def test_a_store_made_before_sync_is_upgraded_in_place(tmp_path):
    from field_client.store import MIGRATIONS, SCHEMA_VERSION, _statements

    home = tmp_path / "device"
    home.mkdir()
    connection = sqlite3.connect(home / "field.sqlite3")
    for statement in _statements(MIGRATIONS[0]):
        connection.execute(statement)
    connection.execute("INSERT INTO outbox (op_id, entity, entity_id, payload, payload_sha256, created_at)"
                       " VALUES ('op-1', 'note', 'n-1', '{}', 'x', '2026-01-01T00:00:00+00:00')")
    connection.execute("PRAGMA user_version = 1")
    connection.commit()
    connection.close()
    with Store(home) as store:
        # Every later migration applies too (3: refusals settled; 4: signatures; 5: amendment reach).
        assert store.query_one("PRAGMA user_version")[0] == SCHEMA_VERSION == len(MIGRATIONS) >= 5
        row = store.query_one("SELECT * FROM outbox")
        assert (row["op_id"], row["state"], row["server_seq"], row["settled_at"]) == ("op-1", "pending", None, None)
        first = store.device_id()
    with Store(home) as store:
        assert store.device_id() == first  # made once per store


def test_sync_needs_a_login(tmp_path):
    result = run(tmp_path / "device", "sync")
    assert result.exit_code == 1 and "尚未登录" in result.output


# --- the real server -----------------------------------------------------------------------------


class CuttingProxy:
    """A TCP proxy on loopback in front of the real server; cuts chosen PATCH requests mid-body."""

    def __init__(self, upstream_port: int, cuts: dict[int, int], drop_push_answers: set[int] = frozenset()):
        self.upstream_port, self.cuts, self.patches = upstream_port, cuts, 0
        self.drop_push_answers, self.pushes = drop_push_answers, 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        first = client.recv(65536)
        limit, answer_limit = None, None
        with self.lock:
            if first.startswith(b"PATCH"):
                self.patches += 1
                limit = self.cuts.get(self.patches)
            elif first.startswith(b"POST /api/v1/sync/push"):
                self.pushes += 1
                # The request goes through whole; the server commits; its answer never arrives.
                answer_limit = 0 if self.pushes in self.drop_push_answers else None
        threading.Thread(target=self._pump, args=(upstream, client, answer_limit, None), daemon=True).start()
        self._pump(client, upstream, limit, first)

    @staticmethod
    def _pump(source, target, limit, data):
        sent = 0
        try:
            if data is None:
                data = source.recv(65536)
            while data:
                if limit is not None and sent + len(data) >= limit:
                    if limit > sent:
                        target.sendall(data[:limit - sent])
                    break  # the line goes dead here
                target.sendall(data)
                sent += len(data)
                data = source.recv(65536)
        except OSError:
            pass
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self):
        self.listener.close()


def test_real_server_inspection_with_three_photos_through_a_cut_line(tmp_path):
    """Log in, pull, reveal offline, record a violation with three photos and a fine, submit, then
    sync through a line that loses the answer to the first push (after the server's commit) and
    cuts a photo chunk half-way: the resent push makes no second copy, the upload resumes, the
    server shows the inspection complete, the three photos byte-identical, the violation; one
    more sync changes nothing."""
    from datetime import timedelta

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from server import create_app
    from server.accounts.models.user import User
    from server.columns import CHINA_STANDARD_TIME, utcnow
    from server.demo.registry import seed_demo
    from server.draws.assignments import dispatch
    from server.draws.creation import create_draw
    from server.draws.seeding import contribute
    from server.extensions import db
    from server.field.models.evidence import EvidenceFile
    from server.field.models.inspection import Inspection, Photo, SyncOperation, Violation
    from server.registry.loader import load_reference

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'server.sqlite3'}",
                     EVIDENCE_DIR=str(tmp_path / "evidence"))
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
        load_reference()
        seed_demo()
        office = db.session.scalar(sa.select(User).where(User.username == "office"))
        # Never on the Beijing day before: just after midnight that day's part of the window is over.
        midnight = utcnow().astimezone(CHINA_STANDARD_TIME).replace(hour=0, minute=0, second=0, microsecond=0)
        start = max(utcnow() - timedelta(minutes=5), midnight)
        draw = create_draw(office, counties=["yiwu", "dongyang", "wucheng"], categories=["museum"], sample_size=1,
                           window_start=start, window_end=start + timedelta(hours=1))
        contribute(draw, db.session.scalar(sa.select(User).where(User.username == "auditor")),
                   "5b8e2c1f9a7d4e3b6c0a1f2e3d4c5b6a", channel="cli")
        assignment = draw.assignments[0]
        code = dispatch(assignment, office, channel="api")
        ident, username, capacity = assignment.id, assignment.members[0].user.username, assignment.venue.approved_capacity
        db.session.commit()
        db.session.remove()
    live = LiveServer(app)
    proxy = CuttingProxy(live.server.server_port, {2: 30_000}, drop_push_answers={1})
    try:
        home = tmp_path / "device"
        result = CliRunner().invoke(main, ["--home", str(home), "login", "--server", live.url, "--user", username,
                                           "--password-stdin"], input="anfang-demo-2021\n")
        assert result.exit_code == 0, result.output
        for args in (("pull",), ("reveal", ident, "--code", code),
                     ("record", ident, "--set", f"k3_visitors={capacity // 2 + 1}")):
            result = run(home, *args)
            assert result.exit_code == 0, result.output
        ((finding,),) = rows(home, "SELECT uuid FROM findings")
        photos = [photo_file(tmp_path / f"照片{number}.jpg", 100 + number) for number in range(3)]
        for args in (("photo", ident, *photos, "--finding", finding[:8]),
                     ("penalty", ident, "--finding", finding[:8], "--type", "fine", "--amount", "2000"),
                     ("submit", ident)):
            result = run(home, *args)
            assert result.exit_code == 0, result.output
        # From here the device reaches the server through the flaky line.
        with Store(home) as store:
            store.set_config({"server_url": proxy.url})

        ((operations,),) = rows(home, "SELECT COUNT(*) FROM outbox")
        output = sync(home, code=1)
        assert f"{operations} 项操作仍待同步" in output
        assert rows(home, "SELECT DISTINCT state FROM outbox") == [("pending",)]
        output = sync(home)
        assert f"成功 {operations} 项，失败 0 项" in output and "上传照片：3 张" in output and "同步完成" in output
        assert proxy.pushes == 2
        chunks = sum(-(-size // CHUNK) for (size,) in rows(home, "SELECT size FROM photos"))
        assert proxy.patches == chunks + 1  # every chunk once, and the cut one again
        assert rows(home, "SELECT server_status FROM inspections") == [("complete",)]

        before = dump(home)
        assert "没有需要同步的内容" in sync(home)
        assert dump(home) == before
    finally:
        proxy.close()
        live.stop()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(SyncOperation.id))) == operations  # sent twice, once here
        inspection = db.session.scalar(sa.select(Inspection))
        assert inspection.status == "complete"
        received = db.session.scalars(sa.select(Photo).where(Photo.inspection_id == inspection.id)).all()
        assert len(received) == 3 and all(photo.received_at for photo in received)
        for source in photos:
            digest = hashlib.sha256(source.read_bytes()).hexdigest()
            evidence = db.session.scalar(sa.select(EvidenceFile).where(EvidenceFile.sha256 == digest))
            stored = Path(app.config["EVIDENCE_DIR"]) / evidence.stored_path
            assert hashlib.sha256(stored.read_bytes()).hexdigest() == digest
        assert db.session.scalar(sa.select(sa.func.count(Violation.id))) >= 1
        db.session.remove()
        db.engine.dispose()
