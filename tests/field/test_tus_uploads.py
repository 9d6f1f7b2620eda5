"""/api/v1/uploads (tus 1.0) and /api/v1/evidence: resumable photo upload, verification, serving."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import struct
import zlib
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from server.accounts.auth import issue_device_token
from server.audit.models.audit import AuditEvent
from server.columns import utcnow
from server.field import upload_digest
from server.field import uploads as uploads_service
from server.field.evidence_store import variant_file
from server.field.models.evidence import EvidenceFile, Upload

TUS = {"Tus-Resumable": "1.0.0"}
OCTETS = "application/offset+octet-stream"
PROBLEM_KEYS = {"type", "title", "status", "detail"}


# --- images -------------------------------------------------------------------------------------


def jpeg_bytes(size=(64, 48), *, exif: Image.Exif | None = None, quality: int = 90) -> bytes:
    """Random pixels, so that no two tests share a SHA-256."""
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, **({"exif": exif} if exif is not None else {}))
    return buffer.getvalue()


def png_bytes(size=(32, 32)) -> bytes:
    image = Image.frombytes("RGBA", size, os.urandom(size[0] * size[1] * 4))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def gps_exif(orientation: int = 6) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "测试相机"
    exif[0x8769] = {0x9003: "2021:12:14 09:30:00"}
    exif[0x8825] = {1: "N", 2: (29.0, 5.0, 30.0), 3: "E", 4: (119.0, 39.0, 0.0)}
    return exif


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A valid 1-bit PNG of width×height, all zeros: ~110 kB on disk, 900 megapixels decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    compressed = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", compressed) + chunk(b"IEND", b"")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def evidence_dir(app, tmp_path, monkeypatch):
    """Each test its own evidence folder, so "nothing stored" can be checked on disk."""
    folder = tmp_path / "evidence"
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(folder))
    return folder


@pytest.fixture
def login(make_user, db):
    """A committed user of `role` and a tus helper carrying their bearer token."""

    def make(role: str = "inspector", client=None):
        user = make_user(role)
        raw, _ = issue_device_token(user, "测试手机")
        # Committed (a savepoint here) so that a 4xx answer's rollback keeps the user and token.
        db.session.commit()
        return TusClient(client, raw, user)

    return make


@pytest.fixture
def inspector(login, client):
    return login("inspector", client)


class TusClient:
    def __init__(self, client, token: str, user):
        self.client, self.token, self.user = client, token, user

    def headers(self, **extra) -> dict:
        return {**TUS, "Authorization": f"Bearer {self.token}", **extra}

    def create(self, data: bytes | None = None, *, length: int | None = None, digest: str | None = None,
               filename: str | None = "现场照片.jpg", filetype: str = "image/jpeg", metadata: str | None = None):
        if metadata is None:
            pairs = [f"sha256 {b64(digest or sha256(data))}", f"filetype {b64(filetype)}"]
            if filename is not None:
                pairs.append(f"filename {b64(filename)}")
            metadata = ",".join(pairs)
        length = len(data) if length is None else length
        return self.client.post("/api/v1/uploads/", headers=self.headers(**{
            "Upload-Length": str(length), "Upload-Metadata": metadata}))

    def location(self, data: bytes, **kwargs) -> str:
        response = self.create(data, **kwargs)
        assert response.status_code == 201, response.get_json()
        return response.headers["Location"]

    def patch(self, url: str, chunk: bytes, offset: int, **headers):
        return self.client.patch(url, data=chunk, headers=self.headers(**{
            "Upload-Offset": str(offset), "Content-Type": OCTETS, **headers}))

    def head(self, url: str):
        return self.client.head(url, headers=self.headers())

    def upload(self, data: bytes, chunk_size: int = 4096, **kwargs):
        url = self.location(data, **kwargs)
        offset, response = 0, None
        while offset < len(data):
            response = self.patch(url, data[offset:offset + chunk_size], offset)
            if response.status_code != 204:
                return url, response
            offset = int(response.headers["Upload-Offset"])
        return url, response


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    if response.request.path.startswith("/api/v1/uploads"):
        assert response.headers["Tus-Resumable"] == "1.0.0"  # errors too
    body = response.get_json()
    assert PROBLEM_KEYS <= body.keys()
    assert body["status"] == status and body["detail"]
    return body


def assert_nothing_stored(db, evidence_dir: Path, data: bytes) -> None:
    digest = sha256(data)
    assert db.session.scalar(sa.select(EvidenceFile).where(EvidenceFile.sha256 == digest)) is None
    assert not (evidence_dir / "sha256" / digest[:2] / digest[2:]).exists()
    assert not (evidence_dir / "variants" / digest[:2] / digest).exists()
    incoming = evidence_dir / "incoming"
    assert not incoming.exists() or not any(incoming.iterdir())


def evidence_row(db, data: bytes) -> EvidenceFile | None:
    return db.session.scalar(sa.select(EvidenceFile).where(EvidenceFile.sha256 == sha256(data)))


# --- protocol -----------------------------------------------------------------------------------


def test_options_advertises_version_extensions_checksums_and_size(app, client):
    response = client.options("/api/v1/uploads/")
    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert response.headers["Tus-Version"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) == {"creation", "checksum", "termination", "expiration"}
    assert set(response.headers["Tus-Checksum-Algorithm"].split(",")) == {"sha1", "sha256"}
    assert int(response.headers["Tus-Max-Size"]) == app.config["MAX_UPLOAD_BYTES"]


def test_create_head_patch_in_chunks(db, inspector, evidence_dir):
    data = jpeg_bytes((200, 150))
    response = inspector.create(data)
    assert response.status_code == 201
    url = response.headers["Location"]
    assert url.startswith("/api/v1/uploads/")
    assert "Upload-Expires" in response.headers and response.headers["Tus-Resumable"] == "1.0.0"

    head = inspector.head(url)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == "0"
    assert head.headers["Upload-Length"] == str(len(data))
    assert head.headers["Cache-Control"] == "no-store"
    assert head.headers["Upload-Expires"].endswith("GMT")

    chunk = len(data) // 3 + 1
    for offset in range(0, len(data), chunk):
        response = inspector.patch(url, data[offset:offset + chunk], offset)
        assert response.status_code == 204
        assert response.headers["Upload-Offset"] == str(min(offset + chunk, len(data)))
        assert response.headers["Tus-Resumable"] == "1.0.0"
    assert inspector.head(url).headers["Upload-Offset"] == str(len(data))

    evidence = evidence_row(db, data)
    assert evidence is not None
    assert (evidence.size, evidence.media_type, evidence.width, evidence.height) == (len(data), "image/jpeg", 200, 150)
    stored = evidence_dir / evidence.stored_path
    assert evidence.stored_path == f"sha256/{sha256(data)[:2]}/{sha256(data)[2:]}"
    assert stored.read_bytes() == data
    upload = db.session.get(Upload, url.rsplit("/", 1)[1])
    assert upload.completed_at is not None and upload.evidence_id == evidence.id
    assert upload.filename == "现场照片.jpg"
    assert not (evidence_dir / upload.temp_path).exists()
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "evidence.stored")
                              .order_by(AuditEvent.seq.desc()))
    assert event.details["sha256"] == sha256(data) and event.actor_id == inspector.user.id


def test_resume_from_head_offset_after_interrupted_patch(db, client, inspector):
    data = jpeg_bytes((160, 120))
    url = inspector.location(data)
    cut = len(data) // 2
    # The body stops at `cut` although Content-Length promised all of it: a dropped connection.
    response = client.patch(url, input_stream=io.BytesIO(data[:cut]), content_type=OCTETS,
                            environ_overrides={"CONTENT_LENGTH": str(len(data))},
                            headers=inspector.headers(**{"Upload-Offset": "0"}))
    assert_problem(response, 400)

    offset = int(inspector.head(url).headers["Upload-Offset"])
    assert offset == cut
    response = inspector.patch(url, data[offset:], offset)
    assert response.status_code == 204
    assert evidence_row(db, data) is not None


def test_interrupted_patch_with_checksum_keeps_nothing_of_that_chunk(client, inspector):
    data = jpeg_bytes()
    url = inspector.location(data)
    checksum = "sha256 " + base64.b64encode(hashlib.sha256(data).digest()).decode()
    response = client.patch(url, input_stream=io.BytesIO(data[:100]), content_type=OCTETS,
                            environ_overrides={"CONTENT_LENGTH": str(len(data))},
                            headers=inspector.headers(**{"Upload-Offset": "0", "Upload-Checksum": checksum}))
    assert_problem(response, 400)
    assert inspector.head(url).headers["Upload-Offset"] == "0"


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_chunk_checksum_accepted_and_mismatch_is_460_with_chunk_discarded(db, inspector, algorithm):
    data = jpeg_bytes()
    url = inspector.location(data)
    half = len(data) // 2

    def checksum(chunk: bytes) -> str:
        return f"{algorithm} " + base64.b64encode(hashlib.new(algorithm, chunk).digest()).decode()

    response = inspector.patch(url, data[:half], 0, **{"Upload-Checksum": checksum(data[:half])})
    assert response.status_code == 204 and response.headers["Upload-Offset"] == str(half)

    response = inspector.patch(url, data[half:], half, **{"Upload-Checksum": checksum(b"other bytes")})
    body = assert_problem(response, 460)
    assert "校验和" in body["title"]
    assert inspector.head(url).headers["Upload-Offset"] == str(half)

    response = inspector.patch(url, data[half:], half, **{"Upload-Checksum": checksum(data[half:])})
    assert response.status_code == 204
    assert evidence_row(db, data) is not None


@pytest.mark.parametrize("header", ["md5 AAAA", "sha256", "sha256 not*base64"])
def test_unsupported_or_malformed_checksum_is_400(inspector, header):
    data = jpeg_bytes()
    url = inspector.location(data)
    assert_problem(inspector.patch(url, data, 0, **{"Upload-Checksum": header}), 400)
    assert inspector.head(url).headers["Upload-Offset"] == "0"


def test_wrong_offset_is_409_with_the_servers_offset(inspector):
    data = jpeg_bytes()
    url = inspector.location(data)
    assert inspector.patch(url, data[:100], 0).status_code == 204
    body = assert_problem(inspector.patch(url, data[100:], 50), 409)
    assert body["upload_offset"] == 100
    assert inspector.head(url).headers["Upload-Offset"] == "100"


def test_lost_partial_bytes_rewind_the_upload_to_zero(db, inspector, evidence_dir):
    data = jpeg_bytes()
    url = inspector.location(data)
    assert inspector.patch(url, data[:100], 0).status_code == 204
    upload = db.session.get(Upload, url.rsplit("/", 1)[1])
    (evidence_dir / upload.temp_path).unlink()  # e.g. a crash between fsync and the disk

    body = assert_problem(inspector.patch(url, data[100:], 100), 409)
    assert body["upload_offset"] == 0
    assert inspector.head(url).headers["Upload-Offset"] == "0"
    assert inspector.patch(url, data, 0).status_code == 204
    assert evidence_row(db, data) is not None


def test_head_during_a_chunk_being_written_waits_and_never_counts_bytes_that_are_dropped(db, inspector, evidence_dir,
                                                                                          monkeypatch):
    import fcntl
    import threading

    data = jpeg_bytes()
    url = inspector.location(data)
    assert inspector.patch(url, data[:100], 0).status_code == 204
    upload = db.session.get(Upload, url.rsplit("/", 1)[1])
    temp = evidence_dir / upload.temp_path
    # A PATCH in flight: its lock held and half its chunk written; then the line dies, and a chunk
    # that did not arrive whole is dropped before the lock is released.
    writer = open(temp, "r+b")
    fcntl.flock(writer, fcntl.LOCK_EX)
    writer.seek(100)
    writer.write(data[100:400])
    writer.flush()

    def cut_and_drop():
        writer.truncate(100)
        writer.close()

    dropping = threading.Timer(0.3, cut_and_drop)
    dropping.start()
    try:
        head = inspector.head(url)
    finally:
        dropping.join()
    assert head.status_code == 200 and head.headers["Upload-Offset"] == "100"  # not 400
    assert inspector.patch(url, data[100:], 100).status_code == 204

    # A writer that does not finish in time: 423, ask again later.
    monkeypatch.setattr(uploads_service, "SETTLE_SECONDS", 0.1)
    other = inspector.location(jpeg_bytes((90, 60)))
    other_upload = db.session.get(Upload, other.rsplit("/", 1)[1])
    with open(evidence_dir / other_upload.temp_path, "rb") as busy:
        fcntl.flock(busy, fcntl.LOCK_EX)
        assert inspector.head(other).status_code == 423  # HEAD answers carry no body
    assert inspector.head(other).headers["Upload-Offset"] == "0"


def test_concurrent_patch_on_the_same_upload_is_423(db, inspector, evidence_dir):
    import fcntl

    data = jpeg_bytes()
    url = inspector.location(data)
    upload = db.session.get(Upload, url.rsplit("/", 1)[1])
    with open(evidence_dir / upload.temp_path, "rb") as other_writer:
        fcntl.flock(other_writer, fcntl.LOCK_EX)
        assert_problem(inspector.patch(url, data, 0), 423)
    assert inspector.head(url).headers["Upload-Offset"] == "0"
    assert inspector.patch(url, data, 0).status_code == 204


def test_patch_needs_the_offset_content_type(inspector):
    data = jpeg_bytes()
    url = inspector.location(data)
    response = inspector.patch(url, data, 0, **{"Content-Type": "application/octet-stream"})
    assert_problem(response, 415)


def test_body_longer_than_the_upload_is_413(inspector):
    data = jpeg_bytes()
    url = inspector.location(data)
    assert_problem(inspector.patch(url, data + b"extra", 0), 413)
    assert inspector.head(url).headers["Upload-Offset"] == "0"


@pytest.mark.parametrize("method", ["post", "head", "patch", "delete"])
@pytest.mark.parametrize("version", [None, "0.2.2"])
def test_missing_or_wrong_tus_resumable_is_412(client, inspector, method, version):
    url = "/api/v1/uploads/" if method == "post" else inspector.location(jpeg_bytes())
    headers = {"Authorization": f"Bearer {inspector.token}", **({"Tus-Resumable": version} if version else {})}
    response = getattr(client, method)(url, headers=headers)
    assert response.status_code == 412
    assert response.headers["Tus-Version"] == "1.0.0"
    if method != "head":
        assert_problem(response, 412)


def test_termination_removes_upload_and_bytes(db, inspector, evidence_dir):
    data = jpeg_bytes()
    url = inspector.location(data)
    assert inspector.patch(url, data[:100], 0).status_code == 204
    upload = db.session.get(Upload, url.rsplit("/", 1)[1])
    temp = evidence_dir / upload.temp_path
    assert temp.stat().st_size == 100

    response = inspector.client.delete(url, headers=inspector.headers())
    assert response.status_code == 204 and response.headers["Tus-Resumable"] == "1.0.0"
    assert not temp.exists()
    assert inspector.head(url).status_code == 404
    assert_problem(inspector.patch(url, data[100:], 100), 404)


def test_expired_upload_is_gone_and_cleaned_by_the_command(app, db, cli, inspector, evidence_dir):
    data = jpeg_bytes()
    url = inspector.location(data)
    assert inspector.patch(url, data[:100], 0).status_code == 204
    finished_url, _ = inspector.upload(jpeg_bytes())
    upload = db.session.get(Upload, url.rsplit("/", 1)[1])
    temp = evidence_dir / upload.temp_path
    age_file(temp, timedelta(hours=app.config["UPLOAD_EXPIRES_AFTER_HOURS"], minutes=1))

    assert inspector.head(url).status_code == 410
    assert_problem(inspector.patch(url, data[100:], 100), 410)

    result = cli.invoke(args=["evidence", "clean-uploads"])
    assert result.exit_code == 0, result.output
    assert "已清理 1 个" in result.output
    assert not temp.exists()
    assert inspector.head(url).status_code == 404
    # Completed uploads and their evidence are not touched.
    assert inspector.head(finished_url).status_code == 200


def age_file(path: Path, age: timedelta) -> None:
    """Make a temporary upload file look as if its last byte arrived `age` ago."""
    moment = (utcnow() - age).timestamp()
    os.utime(path, (moment, moment))


def test_expiry_counts_from_the_last_chunk(app, db, cli, inspector, evidence_dir):
    data = jpeg_bytes()
    url = inspector.location(data)
    upload = db.session.get(Upload, url.rsplit("/", 1)[1])
    temp = evidence_dir / upload.temp_path
    hours = app.config["UPLOAD_EXPIRES_AFTER_HOURS"]
    age_file(temp, timedelta(hours=hours, minutes=-5))  # created long ago, still within the window

    response = inspector.patch(url, data[:100], 0)
    assert response.status_code == 204
    # The chunk moved the expiry a whole window ahead of now.
    expires = parsedate_to_datetime(response.headers["Upload-Expires"])
    assert expires >= utcnow() + timedelta(hours=hours, minutes=-1)
    assert cli.invoke(args=["evidence", "clean-uploads"]).output.count("已清理 0 个") == 1
    assert inspector.head(url).headers["Upload-Offset"] == "100"


def test_a_chunk_that_does_not_complete_writes_nothing_to_the_database(app, db, inspector):
    data = jpeg_bytes((200, 150))
    url = inspector.location(data)
    statements = []

    def note(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.split(None, 1)[0].upper())

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        assert inspector.patch(url, data[:1000], 0).status_code == 204
        assert inspector.patch(url, data[1000:2000], 1000).status_code == 204
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    assert statements and set(statements) <= {"SELECT", "SAVEPOINT", "RELEASE"}, statements
    assert inspector.head(url).headers["Upload-Offset"] == "2000"
    assert inspector.patch(url, data[2000:], 2000).status_code == 204
    assert evidence_row(db, data) is not None


def test_full_disk_drops_the_chunk_and_answers_507(db, inspector, evidence_dir, monkeypatch):
    import errno

    from server.field import uploads as service

    data = jpeg_bytes((200, 150))
    url = inspector.location(data)
    assert inspector.patch(url, data[:1000], 0).status_code == 204
    real_lock = service.locked_upload_file

    class FullDisk:
        def __init__(self, handle):
            self._handle = handle

        def write(self, block):
            self._handle.write(block[: len(block) // 2])  # part of it got out before the disk filled
            self._handle.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __getattr__(self, name):
            return getattr(self._handle, name)

    @contextlib.contextmanager
    def full_disk(upload):
        with real_lock(upload) as handle:
            yield None if handle is None else FullDisk(handle)

    monkeypatch.setattr(service, "locked_upload_file", full_disk)
    body = assert_problem(inspector.patch(url, data[1000:], 1000), 507)
    assert "存储空间不足" in body["title"]
    upload = db.session.get(Upload, url.rsplit("/", 1)[1])
    assert (evidence_dir / upload.temp_path).stat().st_size == 1000  # the half chunk is gone
    monkeypatch.setattr(service, "locked_upload_file", real_lock)
    assert inspector.head(url).headers["Upload-Offset"] == "1000"
    assert inspector.patch(url, data[1000:], 1000).status_code == 204
    assert evidence_row(db, data) is not None


def test_another_users_upload_is_404(login, client, inspector):
    data = jpeg_bytes()
    url = inspector.location(data)
    other = login("inspector", client)
    assert other.head(url).status_code == 404
    assert_problem(other.patch(url, data, 0), 404)
    assert_problem(client.delete(url, headers=other.headers()), 404)
    assert inspector.head(url).headers["Upload-Offset"] == "0"


def test_uploads_need_a_bearer_token_and_an_uploading_role(client, login):
    assert_problem(client.post("/api/v1/uploads/", headers={**TUS, "Upload-Length": "10"}), 401)
    propaganda = login("propaganda", client)
    assert_problem(propaganda.create(jpeg_bytes()), 403)
    office = login("office", client)
    assert office.create(jpeg_bytes()).status_code == 201


def test_unknown_upload_ids_are_404(inspector):
    for url in ("/api/v1/uploads/not-a-uuid", "/api/v1/uploads/00000000-0000-4000-8000-000000000000"):
        assert_problem(inspector.patch(url, b"x", 0), 404)


# --- creation input -----------------------------------------------------------------------------


def test_oversized_upload_length_is_413_at_creation(app, db, inspector, evidence_dir):
    response = inspector.create(b"x", length=app.config["MAX_UPLOAD_BYTES"] + 1)
    body = assert_problem(response, 413)
    assert "上限" in body["detail"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Upload)) == 0


@pytest.mark.parametrize("metadata, status", [
    ("filename " + b64("a.jpg"), 422),  # no sha256
    ("sha256 " + b64("abc"), 422),  # not a SHA-256
    ("sha256 !!!", 400),  # not base64
    ("sha256", 422),  # key without value
    ("two words here", 400),
])
def test_bad_metadata_is_refused(db, inspector, metadata, status):
    body = assert_problem(inspector.create(b"x" * 10, metadata=metadata), status)
    if status == 422:
        assert "sha256" in body["errors"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Upload)) == 0


@pytest.mark.parametrize("length", [None, "-1", "abc", "0"])
def test_bad_upload_length_is_refused(client, inspector, length):
    headers = inspector.headers(**{"Upload-Metadata": "sha256 " + b64("0" * 64)})
    if length is not None:
        headers["Upload-Length"] = length
    response = client.post("/api/v1/uploads/", headers=headers)
    assert response.status_code in (400, 422)
    assert_problem(response, response.status_code)


@pytest.mark.parametrize("name", ["../../etc/passwd", "..\\evil.jpg", "a/b.jpg", "..", "bad\x00name.jpg"])
def test_filename_that_is_a_path_is_refused(db, inspector, evidence_dir, name):
    data = jpeg_bytes()
    body = assert_problem(inspector.create(data, filename=name), 422)
    assert "filename" in body["errors"]
    assert_nothing_stored(db, evidence_dir, data)
    assert not (evidence_dir.parent / "etc").exists()


# --- whole-file verification --------------------------------------------------------------------


def test_whole_file_hash_mismatch_is_refused_and_nothing_stored(db, inspector, evidence_dir):
    data = jpeg_bytes()
    declared = sha256(b"the photo the device meant to send")
    url, response = inspector.upload(data, digest=declared)
    body = assert_problem(response, 422)
    assert body["type"].endswith("sha256-mismatch")
    assert declared in body["detail"]
    assert_nothing_stored(db, evidence_dir, data)
    # The upload is gone with its bytes; the client creates a new one and sends again.
    assert inspector.head(url).status_code == 404
    _, response = inspector.upload(data)
    assert response.status_code == 204
    assert evidence_row(db, data) is not None


@pytest.fixture
def file_reads(monkeypatch):
    """Paths the completion read back to hash, instead of using the digest of the chunks as they came."""
    reads = []
    original = uploads_service.file_sha256

    def reading(path):
        reads.append(path)
        return original(path)

    monkeypatch.setattr(uploads_service, "file_sha256", reading)
    return reads


def test_completion_hashes_the_chunks_as_they_came_without_reading_the_file_back(db, inspector, file_reads):
    data = jpeg_bytes((300, 200))
    _, response = inspector.upload(data, chunk_size=len(data) // 5)
    assert response.status_code == 204
    assert file_reads == []
    assert evidence_row(db, data) is not None


def test_a_write_the_running_digest_did_not_see_makes_the_completion_read_the_file(
        db, inspector, evidence_dir, file_reads):
    data = jpeg_bytes((300, 200))
    url = inspector.location(data)
    half = len(data) // 2
    assert inspector.patch(url, data[:half], 0).status_code == 204
    # Someone else rewrites a byte the digest has already hashed. The new time is pinned because
    # the file system's clock is coarse: a real later write gets one, two in one tick may not.
    temp = evidence_dir / db.session.get(Upload, url.rsplit("/", 1)[1]).temp_path
    with open(temp, "r+b") as handle:
        handle.write(bytes([data[0] ^ 0xFF]))
    later = temp.stat().st_mtime_ns + 10**9
    os.utime(temp, ns=(later, later))

    body = assert_problem(inspector.patch(url, data[half:], half), 422)
    assert body["type"].endswith("sha256-mismatch")
    assert len(file_reads) == 1
    assert_nothing_stored(db, evidence_dir, data)


def test_a_chunk_written_by_another_process_is_hashed_from_the_file(db, inspector, evidence_dir, file_reads):
    data = jpeg_bytes((300, 200))
    url = inspector.location(data)
    third = len(data) // 3
    assert inspector.patch(url, data[:third], 0).status_code == 204
    temp = evidence_dir / db.session.get(Upload, url.rsplit("/", 1)[1]).temp_path
    with open(temp, "ab") as handle:  # the middle chunk, as another server process appends it
        handle.write(data[third:2 * third])

    assert inspector.patch(url, data[2 * third:], 2 * third).status_code == 204
    assert len(file_reads) == 1
    assert (evidence_dir / evidence_row(db, data).stored_path).read_bytes() == data


def test_digests_kept_are_bounded_and_a_forgotten_one_costs_a_read(db, inspector, file_reads, monkeypatch):
    monkeypatch.setattr(upload_digest, "KEPT_DIGESTS", 1)
    first, second = jpeg_bytes((300, 200)), jpeg_bytes((300, 200))
    first_url, second_url = inspector.location(first), inspector.location(second)
    assert inspector.patch(first_url, first[:1000], 0).status_code == 204
    assert inspector.patch(second_url, second[:1000], 0).status_code == 204  # the first is forgotten
    assert inspector.patch(first_url, first[1000:], 1000).status_code == 204
    assert inspector.patch(second_url, second[1000:], 1000).status_code == 204
    assert len(file_reads) == 1
    assert evidence_row(db, first) is not None and evidence_row(db, second) is not None


def truncated_jpeg() -> bytes:
    data = jpeg_bytes((256, 256))
    return data[: len(data) // 2]


def truncated_png() -> bytes:
    data = png_bytes((256, 256))
    return data[: len(data) - 200]


def damaged_png() -> bytes:
    """Whole length, one byte of pixel data flipped: the chunk's CRC no longer matches."""
    data = bytearray(png_bytes((256, 256)))
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


def text_as_jpeg() -> bytes:
    return "这不是照片，只是一段文字。\n".encode() * 20


@pytest.mark.parametrize("make_data, filename, words", [
    (truncated_jpeg, "cut.jpg", "损坏或不完整"),
    (truncated_png, "cut.png", "损坏或不完整"),
    (damaged_png, "flipped.png", "损坏或不完整"),
    (text_as_jpeg, "note.jpg", "不是可接受的图片格式"),
    (png_bomb, "bomb.png", "像素"),
    (lambda: b"GIF89a" + os.urandom(200), "anim.gif", "不是可接受的图片格式"),
], ids=["truncated-jpeg", "truncated-png", "damaged-png", "text-named-jpg", "png-bomb", "gif"])
def test_bad_content_is_422_and_nothing_stored(db, inspector, evidence_dir, make_data, filename, words):
    data = make_data()
    url, response = inspector.upload(data, chunk_size=256 * 1024, filename=filename)
    body = assert_problem(response, 422)
    assert words in body["detail"]
    assert_nothing_stored(db, evidence_dir, data)
    assert db.session.get(Upload, url.rsplit("/", 1)[1]) is None
    assert not db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "evidence.stored")
                                  .where(AuditEvent.details["sha256"].as_string() == sha256(data))).all()


def test_pillow_decompression_bomb_warning_is_an_error(db, inspector, evidence_dir, monkeypatch):
    """Between Pillow's warning and error thresholds Pillow only warns; that warning refuses too."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    data = jpeg_bytes((40, 40))  # 1600 pixels: a warning, not yet Pillow's error (2000)
    _, response = inspector.upload(data)
    assert "解压炸弹" in assert_problem(response, 422)["detail"]
    assert_nothing_stored(db, evidence_dir, data)


def test_png_is_accepted(db, inspector):
    data = png_bytes()
    _, response = inspector.upload(data, filename="截图.png", filetype="image/png")
    assert response.status_code == 204
    evidence = evidence_row(db, data)
    assert evidence.media_type == "image/png"


def test_heic_is_accepted_when_pillow_heif_is_installed(db, inspector):
    pillow_heif = pytest.importorskip("pillow_heif")
    image = Image.frombytes("RGB", (64, 48), os.urandom(64 * 48 * 3))
    buffer = io.BytesIO()
    pillow_heif.from_pillow(image).save(buffer, quality=80)
    data = buffer.getvalue()
    _, response = inspector.upload(data, filename="IMG_0001.HEIC", filetype="image/heic")
    assert response.status_code == 204
    evidence = evidence_row(db, data)
    assert evidence.media_type == "image/heic" and set(evidence.variants) == {"thumbnail", "print", "public"}
    with Image.open(variant_file(evidence, "thumbnail")) as thumbnail:
        assert thumbnail.format == "JPEG" and thumbnail.size == (64, 48)


# --- storage and variants -----------------------------------------------------------------------


def test_variants_apply_orientation_and_public_has_no_exif_or_gps(db, inspector, evidence_dir):
    data = jpeg_bytes((40, 20), exif=gps_exif(orientation=6))
    _, response = inspector.upload(data)
    assert response.status_code == 204
    evidence = evidence_row(db, data)
    # Facts read from the original; the original itself is untouched (EXIF and all).
    assert (evidence.width, evidence.height) == (40, 20)
    assert evidence.gps_lat == pytest.approx(29 + 5 / 60 + 30 / 3600)
    assert evidence.gps_lon == pytest.approx(119 + 39 / 60)
    assert evidence.exif_taken_at.replace(tzinfo=None).isoformat() == "2021-12-14T01:30:00"
    assert (evidence_dir / evidence.stored_path).read_bytes() == data
    assert set(evidence.variants) == {"thumbnail", "print", "public"}
    # Made when first asked for, not while the inspector's sync waits.
    assert not any((evidence_dir / relative).exists() for relative in evidence.variants.values())

    for name, relative in evidence.variants.items():
        assert variant_file(evidence, name) == evidence_dir / relative
        with Image.open(evidence_dir / relative) as variant:
            assert variant.format == "JPEG"
            assert variant.size == (20, 40), name  # orientation 6: rotated upright
            exif = variant.getexif()
            assert not exif.get_ifd(0x8825) and 0x8825 not in exif
            assert 0x0112 not in exif and 0x010F not in exif
            if name == "public":
                assert "exif" not in variant.info and len(exif) == 0
                assert "icc_profile" not in variant.info


def test_large_photo_variants_are_bounded(db, inspector, evidence_dir):
    data = jpeg_bytes((2000, 1000), quality=50)
    _, response = inspector.upload(data, chunk_size=512 * 1024)
    assert response.status_code == 204
    evidence = evidence_row(db, data)
    sizes = {}
    for name in evidence.variants:
        with Image.open(variant_file(evidence, name)) as variant:
            sizes[name] = variant.size
    assert sizes == {"thumbnail": (320, 160), "print": (1600, 800), "public": (1280, 640)}


def test_same_bytes_twice_make_one_evidence_file(db, inspector, login, client):
    data = jpeg_bytes()
    first_url, first = inspector.upload(data)
    second_url, second = login("inspector", client).upload(data)
    assert first.status_code == second.status_code == 204
    rows = db.session.scalars(sa.select(EvidenceFile).where(EvidenceFile.sha256 == sha256(data))).all()
    assert len(rows) == 1
    uploads = [db.session.get(Upload, url.rsplit("/", 1)[1]) for url in (first_url, second_url)]
    assert {upload.evidence_id for upload in uploads} == {rows[0].id}
    stored = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "evidence.stored")
                                .where(AuditEvent.object_id == str(rows[0].id))).all()
    assert len(stored) == 1


def test_retried_final_patch_after_completion_is_harmless(db, inspector):
    data = jpeg_bytes()
    url, response = inspector.upload(data)
    assert response.status_code == 204
    again = inspector.patch(url, b"", len(data))
    assert again.status_code == 204 and again.headers["Upload-Offset"] == str(len(data))
    assert_problem(inspector.patch(url, b"more", len(data)), 409)
    assert "Upload-Expires" not in inspector.head(url).headers


def test_gps_columns_are_marked_personal():
    from server.columns import personal_columns

    assert {"gps_lat", "gps_lon"} <= set(personal_columns(EvidenceFile))


# --- serving ------------------------------------------------------------------------------------


def fetch(client, path: str, token: str | None):
    """GET, read the body and close the response (send_file keeps the file open until then)."""
    response = client.get(path, headers={"Authorization": f"Bearer {token}"} if token else {})
    response.get_data()
    response.close()
    return response


@pytest.fixture
def stored_photo(db, inspector):
    data = jpeg_bytes((40, 20), exif=gps_exif())
    _, response = inspector.upload(data)
    assert response.status_code == 204
    return data


ALL_VARIANTS = ("thumbnail", "print", "public")


@pytest.mark.parametrize("role, original, variants", [
    ("office", True, ALL_VARIANTS),
    ("admin", True, ALL_VARIANTS),
    ("enforcement", True, ALL_VARIANTS),
    ("propaganda", False, ()),
    ("inspector", False, ()),  # not the uploader
    ("department", False, ()),
    ("county", False, ()),
    ("auditor", False, ()),
])
def test_evidence_serving_per_role(client, login, stored_photo, role, original, variants):
    digest = sha256(stored_photo)
    viewer = login(role, client)
    response = fetch(client, f"/api/v1/evidence/{digest}", viewer.token)
    if original:
        assert response.status_code == 200
        assert response.data == stored_photo and response.mimetype == "image/jpeg"
        assert "no-store" in response.headers["Cache-Control"]
    else:
        assert_problem(response, 404)
    for name in ALL_VARIANTS:
        response = fetch(client, f"/api/v1/evidence/{digest}/{name}", viewer.token)
        if name in variants:
            assert response.status_code == 200 and response.mimetype == "image/jpeg"
            Image.open(io.BytesIO(response.data)).verify()
        else:
            assert_problem(response, 404)


def test_uploader_reads_own_original_and_variants(client, inspector, stored_photo):
    digest = sha256(stored_photo)
    assert fetch(client, f"/api/v1/evidence/{digest}", inspector.token).data == stored_photo
    for name in ALL_VARIANTS:
        assert fetch(client, f"/api/v1/evidence/{digest}/{name}", inspector.token).status_code == 200


@pytest.mark.parametrize("path", [
    "/api/v1/evidence/" + "0" * 64,
    "/api/v1/evidence/not-a-hash",
    "/api/v1/evidence/{digest}/original",
    "/api/v1/evidence/{digest}/..%2F..%2Fetc%2Fpasswd",
    "/api/v1/evidence/{digest}/stored_path",
])
def test_unknown_evidence_and_variants_are_404(client, login, stored_photo, path):
    office = login("office", client)
    response = fetch(client, path.format(digest=sha256(stored_photo)), office.token)
    assert_problem(response, 404)


def test_evidence_needs_a_token(client, stored_photo):
    assert_problem(fetch(client, f"/api/v1/evidence/{sha256(stored_photo)}", None), 401)


def test_with_a_queue_a_stored_photo_gets_its_variants_in_the_background(app, db, inspector, evidence_dir,
                                                                          monkeypatch):
    from job_queue import TEST_REDIS, redis_or_fail

    from server.jobs.models.job import Job
    from server.jobs.queue import rq_queue
    from server.jobs.running import run_job

    data = jpeg_bytes((800, 600))
    # Without a queue nothing is asked for: the first viewer makes them, as before.
    _, response = inspector.upload(jpeg_bytes((64, 64)))
    assert response.status_code == 204
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0
    redis_or_fail()
    monkeypatch.setitem(app.config, "REDIS_URL", TEST_REDIS)
    queue = rq_queue()
    queue.connection.flushdb()
    try:
        _, response = inspector.upload(data)
        assert response.status_code == 204
        job = db.session.scalar(sa.select(Job).where(Job.kind == "evidence.variants"))
        assert job.key == f"evidence.variants:{sha256(data)}" and job.state == "queued" and queue.count == 1
        variants = evidence_dir / "variants" / sha256(data)[:2] / sha256(data)
        assert not variants.exists()
        assert run_job(job.id)
        assert sorted(path.name for path in variants.iterdir()) == ["print.jpg", "public.jpg", "thumbnail.jpg"]
        # The same bytes again: no second job.
        _, response = inspector.upload(data)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 1
    finally:
        queue.connection.flushdb()
        queue.connection.close()
