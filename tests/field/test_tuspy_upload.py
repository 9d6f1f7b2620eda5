"""A real outside tus client (tuspy, not our code) uploads a photo over a loopback socket."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import socket
import threading
import time
import uuid

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from PIL import Image
from tusclient.client import TusClient
from werkzeug.serving import make_server

from server import create_app
from server.accounts.auth import create_user, issue_device_token
from server.extensions import db
from server.field.models.evidence import EvidenceFile, Upload


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served_app(empty_database_url, tmp_path):
    """The app on its own migrated database, served by werkzeug in a background thread.

    Its own database because the server thread commits for real, outside the per-test rollback.
    """
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=empty_database_url, EVIDENCE_DIR=str(tmp_path / "evidence"))
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
    port = _free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def inspector_token(served_app):
    app, _ = served_app
    with app.app_context():
        user = create_user("tus-inspector", "inspector", "correct horse 9", display_name="测试督查员")
        raw, _ = issue_device_token(user, "测试手机")
        db.session.commit()
        db.session.remove()
    return raw


def test_tuspy_uploads_a_jpeg_that_becomes_evidence(served_app, inspector_token, tmp_path):
    app, base = served_app
    image = Image.frombytes("RGB", (640, 480), os.urandom(640 * 480 * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    photo = tmp_path / "现场.jpg"
    photo.write_bytes(buffer.getvalue())
    digest = hashlib.sha256(photo.read_bytes()).hexdigest()

    client = TusClient(base + "/api/v1/uploads/", headers={"Authorization": f"Bearer {inspector_token}"})
    # A stream we close ourselves: tuspy leaves a file it opened from a path unclosed.
    with photo.open("rb") as stream:
        uploader = client.uploader(file_stream=stream, chunk_size=64 * 1024, upload_checksum=True,
                                   metadata={"filename": photo.name, "filetype": "image/jpeg", "sha256": digest})
        uploader.upload()
    assert uploader.offset == photo.stat().st_size

    with app.app_context():
        evidence = db.session.scalar(sa.select(EvidenceFile).where(EvidenceFile.sha256 == digest))
        assert evidence is not None
        stored = os.path.join(app.config["EVIDENCE_DIR"], evidence.stored_path)
        with open(stored, "rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == digest
        upload = db.session.get(Upload, uploader.url.rstrip("/").rsplit("/", 1)[1])
        assert upload.evidence_id == evidence.id and upload.filename == "现场.jpg"
        db.session.remove()


def test_concurrent_uploads_all_succeed(served_app, inspector_token, tmp_path):
    """Six devices uploading at once in small chunks: every PATCH commits an offset, so writers
    collide all the time. Each waits its turn (SQLite: BEGIN IMMEDIATE under busy_timeout);
    none may fail with a 5xx."""
    app, base = served_app
    photos = []
    for number in range(6):
        image = Image.frombytes("RGB", (200, 150), os.urandom(200 * 150 * 3))
        path = tmp_path / f"photo-{number}.png"
        image.save(path, "PNG")
        photos.append(path)
    errors: list[BaseException] = []

    def upload(path):
        client = TusClient(base + "/api/v1/uploads/", headers={"Authorization": f"Bearer {inspector_token}"})
        try:
            with path.open("rb") as stream:
                client.uploader(file_stream=stream, chunk_size=8 * 1024, upload_checksum=True,
                                metadata={"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}).upload()
        except BaseException as error:  # reported below, with the thread's failure
            errors.append(error)

    threads = [threading.Thread(target=upload, args=(path,)) for path in photos]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    with app.app_context():
        stored = set(db.session.scalars(sa.select(EvidenceFile.sha256)))
        db.session.remove()
    assert stored == {hashlib.sha256(path.read_bytes()).hexdigest() for path in photos}


def _start_slow_request(base: str, method: str, path: str, headers: dict, body: bytes) -> socket.socket:
    """Send the headers and half the body, and keep the rest back: a phone on a slow connection."""
    port = int(base.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = "".join(f"{name}: {value}\r\n" for name, value in {**headers, "Content-Length": len(body),
                                                               "Host": "127.0.0.1"}.items())
    sock.sendall(f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode() + body[: len(body) // 2])
    return sock


def _finish_slow_request(sock: socket.socket, body: bytes) -> int:
    sock.sendall(body[len(body) // 2:])
    status = int(sock.recv(1024).split(b" ", 2)[1])
    sock.close()
    return status


@pytest.mark.parametrize("slow", ["photo-chunk", "sync-push"])
def test_a_slow_body_holds_no_database_lock(served_app, inspector_token, slow):
    """While one device's request body trickles in, another device's writes go through: the
    database is not locked for the time a body takes to arrive (on SQLite a writing request
    holds the write lock from its first query)."""
    import requests

    _, base = served_app
    bearer = {"Authorization": f"Bearer {inspector_token}"}
    tus = {**bearer, "Tus-Resumable": "1.0.0"}
    if slow == "photo-chunk":
        data = os.urandom(256 * 1024)
        created = requests.post(base + "/api/v1/uploads/", timeout=30, headers={
            **tus, "Upload-Length": str(2 * len(data)),  # this chunk is the first half
            "Upload-Metadata": "sha256 " + base64.b64encode(hashlib.sha256(data).hexdigest().encode()).decode()})
        assert created.status_code == 201
        sock = _start_slow_request(base, "PATCH", created.headers["Location"], {
            **tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}, data)
    else:
        data = json.dumps({"device_id": str(uuid.uuid4()), "device_time": "2026-11-28T08:00:00+00:00",
                           "operations": []}).encode()
        sock = _start_slow_request(base, "POST", "/api/v1/sync/push", {**bearer, "Content-Type": "application/json"},
                                   data)
    time.sleep(0.5)  # the slow request is in the server, mid-body
    for _ in range(3):  # other devices write meanwhile
        other = requests.post(base + "/api/v1/uploads/", timeout=30, headers={
            **tus, "Upload-Length": "10", "Upload-Metadata": "sha256 " + base64.b64encode(b"0" * 64).decode()})
        assert other.status_code == 201, other.text
    # The slow body ends; its request is answered as usual.
    status = _finish_slow_request(sock, data)
    assert status in (200, 204), status
