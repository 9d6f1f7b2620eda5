"""`anfang serve --workers 4` on a fresh PostgreSQL database and Redis, and the devices that load it.

Shared by tests/app/test_serve_processes.py (the soak) and tests/backup/test_backup_under_serve.py
(a backup taken while the soak runs). `serving(directory)` makes the database, seeds the demo, gives
each of `DEVICES` devices a dispatched assignment and a token, starts the server as a subprocess and
stops it (and drops the database) afterwards. `device_run` is one device's record as a phone sends
it: pushed twice at once, its photos uploaded with tuspy in small chunks, then submitted.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from PIL import Image
from postgres_databases import PG_ADMIN_URL, fresh_database, postgres_unreachable
from tusclient.client import TusClient

from server import create_app

BIN = Path(sys.executable).parent
ANFANG = BIN / "anfang"
REDIS_URL = os.environ.get("ANFANG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SECRET = "serve-test-secret-" + "s" * 32
DEVICES = 12
PHOTOS_PER_DEVICE = 2
CHUNK = 16 * 1024
START_SECONDS = 60

# Whatever a test inherits from the shell must not decide what production sees.
_CLEARED = ("SECRET_KEY", "DATABASE_URL", "RATELIMIT_STORAGE_URI", "ALLOW_SQLITE_SINGLE_PROCESS", "PROXY_HOPS",
            "ANFANG_CONFIG", "EVIDENCE_DIR", "DOCUMENT_SIGNING_DIR", "DOCUMENT_TRUST_ROOTS", "REDIS_URL", "DAILY_JOBS",
            "SCHEDULED_JOBS_ACTOR")


def environment(**values) -> dict:
    environment = {key: value for key, value in os.environ.items() if key not in _CLEARED}
    environment.update(COLUMNS="200", **{key: str(value) for key, value in values.items()})
    return environment


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _unavailable() -> str | None:
    reason = postgres_unreachable()
    if reason is not None:
        return f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {reason}"
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:  # any failure to connect
        return f"Redis at {REDIS_URL} is unreachable: {exc}"
    return None


def require_services() -> None:
    """Skip without PostgreSQL and Redis, except under CI, where their absence is a failure."""
    reason = _unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


class Served:
    def __init__(self, url: str, database_url: str, environment: dict, evidence: Path):
        self.url, self.database_url, self.environment, self.evidence = url, database_url, environment, evidence
        self.engine = sa.create_engine(database_url)
        self.devices: list[dict] = []
        self.log: Path | None = None

    def scalar(self, sql: str, **params):
        with self.engine.connect() as connection:
            return connection.execute(sa.text(sql), params).scalar()

    def rows(self, sql: str, **params) -> list:
        with self.engine.connect() as connection:
            return list(connection.execute(sa.text(sql), params))


def _device_world(database_url: str, evidence: Path) -> list[dict]:
    """One dispatched assignment per device at a demo museum (K3: the visitor count is a check),
    each for two demo inspectors, and the leader's device token. Built like tests/assignment_world.py."""
    from assignment_world import _placeholder_draw

    from server.accounts.auth import issue_device_token
    from server.accounts.models.user import User
    from server.columns import utcnow
    from server.draws.assignments import record_created
    from server.draws.models.draw import Assignment, AssignmentMember
    from server.extensions import db
    from server.registry.models.reference import VenueCategory
    from server.registry.models.venue import Venue

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, EVIDENCE_DIR=str(evidence))
    devices = []
    with app.app_context():
        inspectors = db.session.scalars(sa.select(User).where(User.role == "inspector", User.is_active)
                                        .order_by(User.username).limit(2 * DEVICES)).all()
        museums = db.session.scalars(sa.select(Venue).join(VenueCategory).where(VenueCategory.code == "museum")
                                     .order_by(Venue.id).limit(DEVICES)).all()
        office = db.session.scalar(sa.select(User).where(User.role == "office"))
        assert len(inspectors) == 2 * DEVICES and len(museums) == DEVICES
        start = utcnow() - timedelta(hours=1)
        end = start + timedelta(hours=6)
        for number, venue in enumerate(museums):
            team = inspectors[2 * number: 2 * number + 2]
            draw = _placeholder_draw(office, start, end)
            db.session.add(draw)
            db.session.flush()
            assignment = Assignment(draw_id=draw.id, position=1, venue=venue, visit_date=start.date(),
                                    window_start=start, window_end=end, meeting_point="市防指办门口")
            for position, member in enumerate(team, start=1):
                assignment.members.append(AssignmentMember(user_id=member.id, position=position,
                                                           is_leader=position == 1))
            db.session.add(assignment)
            record_created(assignment, office)
            assignment.status = "dispatched"
            raw, _ = issue_device_token(team[0], f"测试手机{number}")
            db.session.flush()
            devices.append({"token": raw, "assignment_uuid": assignment.uuid})
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return devices


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown: no requests are left
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def serving(directory: Path) -> Iterator[Served]:
    """The demo on a fresh PostgreSQL database with the devices' assignments, served by `anfang
    serve --workers 4 --threads 4` until the block ends; evidence and signing keys under `directory`."""
    with fresh_database("anfang_serve") as database_url:
        evidence = directory / "evidence"
        port = free_port()
        settings = environment(
            DATABASE_URL=database_url, SECRET_KEY=SECRET, EVIDENCE_DIR=evidence, RATELIMIT_STORAGE_URI=REDIS_URL,
            # Its own counters in the shared Redis: nothing another run counted applies here.
            RATELIMIT_KEY_PREFIX=f"anfang-test-{uuid.uuid4().hex[:8]}", PROXY_HOPS=1,
            DOCUMENT_SIGNING_DIR=directory / "signing", PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
        seeded = subprocess.run([str(ANFANG), "demo", "seed"], env={**settings, "ANFANG_CONFIG": "development"},
                                capture_output=True, text=True, timeout=120)
        assert seeded.returncode == 0, seeded.stdout + seeded.stderr
        devices = _device_world(database_url, evidence)
        log = directory / "serve.log"
        with log.open("w") as output:
            process = subprocess.Popen([str(ANFANG), "serve", "--workers", "4", "--threads", "4",
                                        "--bind", f"127.0.0.1:{port}"], env=settings,
                                       stdout=output, stderr=subprocess.STDOUT)
        site = Served(f"http://127.0.0.1:{port}", database_url, settings, evidence)
        site.devices, site.log = devices, log
        try:
            deadline = time.monotonic() + START_SECONDS
            while True:
                try:
                    if requests.get(site.url + "/healthz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert process.poll() is None, "anfang serve exited:\n" + log.read_text()
                assert time.monotonic() < deadline, "anfang serve did not answer /healthz:\n" + log.read_text()
                time.sleep(0.3)
            yield site
        finally:
            _stop(process)
            site.engine.dispose()


# --- a device's record -----------------------------------------------------------------------------


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _operation(entity: str, entity_id: str, payload: dict) -> dict:
    from server.field.push import payload_sha256

    return {"op_id": str(uuid.uuid4()), "entity": entity, "entity_id": entity_id, "payload": payload,
            "payload_sha256": payload_sha256(payload)}


def jpeg() -> bytes:
    """Noise, so it compresses badly: about 50 KB, four chunks."""
    image = Image.frombytes("RGB", (240, 180), os.urandom(240 * 180 * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def _record(assignment_uuid: str, photos: list[bytes]) -> tuple[list[dict], list[dict]]:
    """A device's record as the field client queues it: the visit, then its submission."""
    inspection = str(uuid.uuid4())
    finding = str(uuid.uuid4())
    note = str(uuid.uuid4())
    visit = [
        _operation("assignment_reveal", assignment_uuid, {"assignment_uuid": assignment_uuid, "how": "code",
                                                          "revealed_at": now(), "device_time": now()}),
        _operation("inspection", inspection, {"uuid": inspection, "assignment_uuid": assignment_uuid,
                                              "checked_in_at": now(), "latitude": 29.08, "longitude": 119.65,
                                              "device_time": now(), "status": "draft"}),
        _operation("observation", f"{inspection}/k3_visitors", {
            "inspection_uuid": inspection, "item_code": "k3_visitors", "value": 380, "recorded_at": now()}),
        _operation("finding", finding, {"uuid": finding, "inspection_uuid": inspection, "rule_code": "K3",
                                        "check_code": None, "description": "现场人数明显超限", "source": "manual",
                                        "created_at": now()}),
        _operation("note", note, {"uuid": note, "inspection_uuid": inspection, "kind": "positive",
                                  "text": "入口处测温、扫码有序", "created_at": now()}),
    ]
    for data in photos:
        photo = str(uuid.uuid4())
        visit.append(_operation("photo", photo, {
            "uuid": photo, "inspection_uuid": inspection, "finding_uuid": finding,
            "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "filename": f"{photo}.jpg",
            "original_name": "IMG_0001.jpg", "media_type": "image/jpeg", "caption": "入口", "exif_time": None,
            "latitude": None, "longitude": None, "orientation": None, "created_at": now()}))
    submission = [_operation("inspection_submission", inspection, {"inspection_uuid": inspection,
                                                                  "submitted_at": now(), "device_time": now()})]
    return visit, submission


def push(base: str, token: str, device_id: str, operations: list[dict]) -> list[int]:
    response = requests.post(base + "/api/v1/sync/push", timeout=60, headers={"Authorization": f"Bearer {token}"},
                             json={"device_id": device_id, "device_time": now(), "operations": operations})
    assert response.status_code == 200, response.text
    return [result["status"] for result in response.json()["results"]]


def tus(base: str, token: str, data: bytes, **options):
    client = TusClient(base + "/api/v1/uploads/", headers={"Authorization": f"Bearer {token}"})
    return client.uploader(file_stream=io.BytesIO(data), chunk_size=CHUNK, upload_checksum=True,
                           metadata={"sha256": hashlib.sha256(data).hexdigest(), "filetype": "image/jpeg"}, **options)


def device_run(base: str, device: dict) -> dict:
    """Push, replay from a second connection at the same moment, upload, submit (and replay)."""
    photos = [jpeg() for _ in range(PHOTOS_PER_DEVICE)]
    visit, submission = _record(device["assignment_uuid"], photos)
    device_id = str(uuid.uuid4())
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: push(base, device["token"], device_id, visit), range(2)))
    assert answers == [[200] * len(visit)] * 2, answers
    for data in photos:
        tus(base, device["token"], data).upload()
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: push(base, device["token"], device_id, submission), range(2)))
    assert answers == [[200]] * 2, answers
    return {"device_id": device_id, "ops": [op["op_id"] for op in visit + submission],
            "sha256": [hashlib.sha256(data).hexdigest() for data in photos]}
