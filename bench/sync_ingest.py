"""Sync ingest benchmark: push throughput through the real HTTP endpoint, and tus photo upload speed.

1. Push: the app is served by werkzeug (threaded) in a server process of its own on 127.0.0.1, on a scratch
   SQLite database and on a scratch PostgreSQL database (created on 127.0.0.1:5432, dropped after).
   One inspector's team has dispatched assignments to a museum (built with the models and
   `record_created`, as tests/assignment_world.py does). Each request is a batch of 500 operations
   made as the field client makes them (canonical-JSON `payload_sha256`): the assignment's reveal,
   its inspection, an observation, then findings and notes of that inspection. The figure is
   operations / wall time of the HTTP requests (one client, sequential batches, every answer
   checked: 500 results, all 200).
2. tus: a ~50 MB noise PNG (made with Pillow, so the server's completion step — SHA-256 check of the
   whole file against the declared hash, the PNG's chunk CRCs, EXIF facts — runs for real; the
   variants are made on first use, not during the upload) is uploaded by
   the `tuspy` client with 1 MiB and 8 MiB chunks as tuspy sends them by default, the whole upload
   timed from creation to the final 204 (completion processing included), on a server that has
   answered requests before (`warm_up`). A third run at 1 MiB
   turns on tuspy's per-chunk `Upload-Checksum` (sha1, hashed by client and server). Beside it
   the real `sha256sum` command is timed on the same file (warm page cache), and the ratio of the
   two speeds is printed. Also printed for information: the speed of the byte-transfer phase alone
   (every chunk except the last, which carries the completion work), and the speed of the disk
   itself for such a file (`time_durable_write`: 1 MiB writes, then fsync, as the server must do
   before it answers the last chunk) and the speed of the least tus server that keeps uploads safe
   (`FLOOR_RECEIVER`: same werkzeug, same tuspy client, 1 MiB chunks; it only appends, hashes and
   fsyncs), each beside `sha256sum`: where the disk writes slower than `sha256sum` reads from the
   page cache, they bound the ratio whatever the application does.

Run: .venv/bin/python bench/sync_ingest.py [--batches N] [--skip-postgresql] [--postgresql URL]
Prints the headline figures last, one per line, as `name: value unit`. Targets: push ≥ 1,000 ops/s
on both databases; tus_to_sha256sum_ratio_1mib ≥ 0.7.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scratch import scratch_postgresql  # noqa: E402

BATCH = 500
MIB = 1024 * 1024
PNG_SIZE = (4096, 4060)  # RGB noise: ~49.9 MB raw, about the same as PNG (under MAX_UPLOAD_BYTES)


# --- a served app on a scratch database -----------------------------------------------------------




SERVE_IN_PROCESS = """
import logging, sys
from werkzeug.serving import make_server
from server import create_app
logging.getLogger("werkzeug").setLevel(logging.WARNING)
app = create_app("development", SQLALCHEMY_DATABASE_URI=sys.argv[1], EVIDENCE_DIR=sys.argv[2])
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


# The least a tus server that keeps uploads safe must do, and nothing else: no authentication,
# database, image check or audit. It appends each chunk, hashes it, and fsyncs the complete file
# before answering its last chunk. Served by the same werkzeug server to the same tuspy client.
FLOOR_RECEIVER = """
import hashlib, logging, os, sys
from werkzeug.serving import make_server
logging.getLogger("werkzeug").setLevel(logging.WARNING)
folder, uploads = sys.argv[1], {}
def app(environ, start_response):
    if environ["REQUEST_METHOD"] == "POST":
        name = str(len(uploads))
        uploads[name] = (open(os.path.join(folder, name), "wb"), hashlib.sha256(), int(environ["HTTP_UPLOAD_LENGTH"]))
        start_response("201 Created", [("Location", "/files/" + name), ("Upload-Offset", "0"), ("Tus-Resumable", "1.0.0")])
        return [b""]
    handle, digest, length = uploads[environ["PATH_INFO"].rsplit("/", 1)[1]]
    stream, left = environ["wsgi.input"], int(environ["CONTENT_LENGTH"])
    while left and (block := stream.read(min(left, 1 << 20))):
        handle.write(block)
        digest.update(block)
        left -= len(block)
    handle.flush()
    if handle.tell() == length:
        os.fsync(handle.fileno())
        digest.hexdigest()
    start_response("204 No Content", [("Upload-Offset", str(handle.tell())), ("Tus-Resumable", "1.0.0")])
    return [b""]
server = make_server("127.0.0.1", 0, app, threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


class Served:
    """The real app, migrated and with reference data, served on loopback: in a thread of this
    process, or (`own_process`) by a server process of its own as in a deployment, so that the
    client measured and the server do not share one interpreter lock."""

    def __init__(self, url: str, workdir: Path, *, own_process: bool = False):
        from flask_migrate import upgrade
        from werkzeug.serving import make_server

        from server import create_app
        from server.extensions import db
        from server.registry.loader import load_reference

        self.db = db
        self.app = create_app("development", SQLALCHEMY_DATABASE_URI=url, EVIDENCE_DIR=str(workdir / "evidence"))
        for name in ("werkzeug", "alembic"):  # one line per request would drown the figures
            logging.getLogger(name).setLevel(logging.WARNING)
        with self.app.app_context():
            logging.disable(logging.INFO)  # the migrations' log lines
            try:
                upgrade(directory=self.app.config["MIGRATIONS_DIR"])
            finally:
                logging.disable(logging.NOTSET)
            load_reference()
            db.session.commit()
            db.session.remove()
        self.process = self.server = None
        if own_process:
            self.process = subprocess.Popen(
                [sys.executable, "-c", SERVE_IN_PROCESS, url, self.app.config["EVIDENCE_DIR"]],
                stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent)
            self.port = int(self.process.stdout.readline())
        else:
            self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
            self.port = self.server.server_port
            self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
            self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
        else:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(timeout=10)
        with self.app.app_context():
            self.db.session.remove()
            self.db.engine.dispose()


def build_team(served: Served, assignments: int) -> tuple[str, list[str], str]:
    """An office user, a two-inspector team (leader certified), `assignments` dispatched assignments
    to a museum; returns (leader's bearer token, assignment UUIDs, leader username)."""
    import sqlalchemy as sa

    from server.accounts.auth import issue_device_token
    from server.accounts.models.user import User
    from server.accounts.passwords import hash_password
    from server.columns import utcnow
    from server.draws.assignments import record_created
    from server.draws.models.draw import Assignment, AssignmentMember, Draw
    from server.draws.server_keys import wrap_secret
    from server.registry.models.reference import County, VenueCategory
    from server.registry.models.venue import Venue

    db = served.db
    with served.app.app_context():
        password = hash_password("correct horse 9")
        office = User(username="bench-office", display_name="督查办", role="office", password_hash=password)
        leader = User(username="bench-leader", display_name="组长", role="inspector", password_hash=password,
                      enforcement_certificate_no="ZBENCH1")
        member = User(username="bench-member", display_name="组员", role="inspector", password_hash=password)
        db.session.add_all([office, leader, member])
        category = db.session.scalar(sa.select(VenueCategory).where(VenueCategory.code == "museum"))
        county = db.session.scalar(sa.select(County).where(County.code == "wucheng"))
        venue = Venue(name="基准博物馆", address="基准路1号", town="基准街道", approved_capacity=800,
                      operator_name="张三", contact_phone="13800000000", category=category, county=county)
        db.session.add(venue)
        db.session.flush()
        start = utcnow() - timedelta(hours=1)
        end = start + timedelta(hours=8)
        seed = os.urandom(32)
        digest = hashlib.sha256(b"placeholder").hexdigest()
        draw = Draw(created_by_id=office.id, parameters={"placeholder": True}, window_start=start, window_end=end,
                    commitment=hashlib.sha256(seed).hexdigest(), sealed_seed=wrap_secret(seed, "draw-seed"),
                    parameters_digest=digest, venues_digest=digest, inspectors_digest=digest,
                    result_digest=digest, venues_snapshot=b"x", inspectors_snapshot=b"x")
        db.session.add(draw)
        db.session.flush()
        uuids = []
        for position in range(1, assignments + 1):
            assignment = Assignment(draw_id=draw.id, position=position, venue=venue,
                                    visit_date=date.fromordinal(start.toordinal()), window_start=start,
                                    window_end=end, meeting_point="市防指办门口")
            assignment.members.append(AssignmentMember(user_id=leader.id, position=1, is_leader=True))
            assignment.members.append(AssignmentMember(user_id=member.id, position=2, is_leader=False))
            db.session.add(assignment)
            record_created(assignment, office)
            assignment.status = "dispatched"
            db.session.flush()
            uuids.append(assignment.uuid)
        raw, token = issue_device_token(leader, "基准手机", channel="api")
        token.last_used_at = utcnow()
        db.session.commit()
        db.session.remove()
    return raw, uuids, "bench-leader"


# --- operations as the field client makes them ----------------------------------------------------


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def operation(entity: str, entity_id: str, payload: dict) -> dict:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return {"op_id": str(uuid.uuid4()), "entity": entity, "entity_id": entity_id, "payload": payload,
            "payload_sha256": hashlib.sha256(body).hexdigest()}


def record_batch(assignment_uuid: str, size: int = BATCH) -> list[dict]:
    """Reveal, inspection, one observation, then findings and notes: `size` operations."""
    inspection_uuid = str(uuid.uuid4())
    moment = now_text()
    ops = [
        operation("assignment_reveal", assignment_uuid, {"assignment_uuid": assignment_uuid, "how": "code",
                                                         "revealed_at": moment, "device_time": moment}),
        operation("inspection", inspection_uuid, {"uuid": inspection_uuid, "assignment_uuid": assignment_uuid,
                                                  "checked_in_at": moment, "latitude": 29.08, "longitude": 119.65,
                                                  "device_time": moment, "status": "draft"}),
        operation("observation", f"{inspection_uuid}/k3_visitors", {
            "inspection_uuid": inspection_uuid, "item_code": "k3_visitors", "value": 380, "recorded_at": moment}),
    ]
    number = 0
    while len(ops) < size:
        number += 1
        item_uuid = str(uuid.uuid4())
        if number % 2:
            ops.append(operation("finding", item_uuid, {
                "uuid": item_uuid, "inspection_uuid": inspection_uuid, "rule_code": "K3", "check_code": None,
                "description": f"现场人数明显超限（第 {number} 处）", "source": "manual", "created_at": now_text()}))
        else:
            ops.append(operation("note", item_uuid, {
                "uuid": item_uuid, "inspection_uuid": inspection_uuid, "kind": "positive" if number % 4 else "negative",
                "text": f"入口处测温、扫码有序（第 {number} 条）", "created_at": now_text()}))
    return ops


def bench_push(url: str, label: str, batches: int) -> float:
    import requests

    with tempfile.TemporaryDirectory() as workdir:
        served = Served(url, Path(workdir), own_process=True)
        try:
            token, assignments, _ = build_team(served, batches + 1)
            prepared = [record_batch(uuid_) for uuid_ in assignments]
            session = requests.Session()
            headers = {"Authorization": f"Bearer {token}"}
            device_id = str(uuid.uuid4())

            def send(ops: list[dict]) -> None:
                answer = session.post(f"{served.url}/api/v1/sync/push", headers=headers, timeout=120,
                                      json={"device_id": device_id, "device_time": now_text(), "operations": ops})
                assert answer.status_code == 200, answer.text[:500]
                results = answer.json()["results"]
                bad = [result for result in results if result["status"] != 200]
                assert len(results) == len(ops) and not bad, bad[:3]

            send(prepared[0])  # warm-up (first connections, caches): not timed
            started = time.perf_counter()
            for ops in prepared[1:]:
                send(ops)
            seconds = time.perf_counter() - started
            count = BATCH * batches
            print(f"push {label}: {batches} batches of {BATCH} operations = {count} in {seconds:.2f} s")
            return count / seconds
        finally:
            served.stop()


# --- tus ------------------------------------------------------------------------------------------


def noise_png(path: Path) -> None:
    from PIL import Image

    width, height = PNG_SIZE
    image = Image.frombytes("RGB", PNG_SIZE, random.Random(20261128).randbytes(width * height * 3))
    image.save(path, "PNG", compress_level=1)


def time_sha256sum(path: Path) -> tuple[float, str]:
    subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)  # warm the page cache
    best = None
    for _ in range(3):
        started = time.perf_counter()
        done = subprocess.run(["sha256sum", str(path)], check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        best = seconds if best is None else min(best, seconds)
    return best, done.stdout.split()[0]


def time_floor_upload(photo: Path, folder: Path) -> float:
    """Seconds for tuspy to upload the file at 1 MiB chunks to `FLOOR_RECEIVER`."""
    from tusclient.client import TusClient

    folder.mkdir()
    process = subprocess.Popen([sys.executable, "-c", FLOOR_RECEIVER, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        client = TusClient(f"http://127.0.0.1:{int(process.stdout.readline())}/files/")
        with photo.open("rb") as stream:
            started = time.perf_counter()
            client.uploader(file_stream=stream, chunk_size=MIB, metadata={"filename": "floor.png"}).upload()
            return time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=10)


def time_durable_write(photo: Path, folder: Path) -> float:
    """Seconds to copy the file to a new one in 1 MiB blocks and fsync it: what any server that
    keeps the upload safe must do, without HTTP, database or checks. On a machine whose disk
    writes slower than `sha256sum` reads from the page cache, this bounds the ratio."""
    data = photo.read_bytes()
    target = folder / "durable-write.bin"
    started = time.perf_counter()
    with target.open("wb") as handle:
        for offset in range(0, len(data), MIB):
            handle.write(data[offset:offset + MIB])
        handle.flush()
        os.fsync(handle.fileno())
    seconds = time.perf_counter() - started
    target.unlink()
    return seconds


def warm_up(url: str, token: str) -> None:
    """One upload created and terminated first: the figure is a running server's, not the cost of
    its first request (SQLAlchemy configures its mappers then, about 0.15 s)."""
    import base64
    import urllib.request

    headers = {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0", "Upload-Length": "1",
               "Upload-Metadata": "sha256 " + base64.b64encode(hashlib.sha256(b"x").hexdigest().encode()).decode()}
    created = urllib.request.urlopen(urllib.request.Request(url + "/api/v1/uploads/", method="POST", headers=headers))
    location = created.headers["Location"]
    urllib.request.urlopen(urllib.request.Request(url + location, method="DELETE", headers={
        "Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}))


def bench_tus(photo: Path, digest: str, chunk_size: int, served: Served, token: str,
              checksum: bool) -> tuple[float, float]:
    """(whole upload seconds, seconds of all chunks but the last); checks the stored evidence."""
    import sqlalchemy as sa
    from tusclient.client import TusClient

    from server.field.models.evidence import EvidenceFile

    size = photo.stat().st_size
    warm_up(served.url, token)
    client = TusClient(served.url + "/api/v1/uploads/", headers={"Authorization": f"Bearer {token}"})
    with photo.open("rb") as stream:
        started = time.perf_counter()
        uploader = client.uploader(file_stream=stream, chunk_size=chunk_size, upload_checksum=checksum,
                                   metadata={"filename": f"bench-{chunk_size}.png", "filetype": "image/png",
                                             "sha256": digest})
        before_last = None
        while uploader.offset < size:
            if uploader.offset + chunk_size >= size:
                before_last = time.perf_counter() - started
            uploader.upload_chunk()
        seconds = time.perf_counter() - started
    assert uploader.offset == size
    with served.app.app_context():
        evidence = served.db.session.scalar(sa.select(EvidenceFile).where(EvidenceFile.sha256 == digest))
        assert evidence is not None, "the upload did not become evidence"
        stored = Path(served.app.config["EVIDENCE_DIR"]) / evidence.stored_path
        assert hashlib.sha256(stored.read_bytes()).hexdigest() == digest
        served.db.session.remove()
    return seconds, before_last or seconds


def bench_uploads() -> dict[str, float]:
    figures = {}
    with tempfile.TemporaryDirectory() as workdir:
        workdir = Path(workdir)
        photo = workdir / "noise.png"
        started = time.perf_counter()
        noise_png(photo)
        size = photo.stat().st_size
        print(f"tus: noise PNG {PNG_SIZE[0]}x{PNG_SIZE[1]}, {size / 1e6:.1f} MB, made in "
              f"{time.perf_counter() - started:.1f} s")
        sha_seconds, digest = time_sha256sum(photo)
        assert digest == hashlib.sha256(photo.read_bytes()).hexdigest()
        figures["sha256sum_mb_per_second"] = size / 1e6 / sha_seconds
        for chunk, name, checksum in ((MIB, "1mib", False), (MIB, "1mib_checksummed", True), (8 * MIB, "8mib", False)):
            # A fresh server and database each time, so the file is new to it (content-addressed).
            served = Served(f"sqlite:///{workdir / f'tus-{name}.sqlite3'}", workdir / name, own_process=True)
            try:
                token, _, _ = build_team(served, 0)
                seconds, before_last = bench_tus(photo, digest, chunk, served, token, checksum)
            finally:
                served.stop()
            transferred = size - (size - 1) // chunk * chunk  # bytes of the last chunk
            print(f"tus {name} chunks: whole upload {seconds:.2f} s (last chunk incl. completion "
                  f"{seconds - before_last:.2f} s); bytes phase {(size - transferred) / 1e6 / before_last:.0f} MB/s")
            figures[f"tus_upload_mb_per_second_{name}"] = size / 1e6 / seconds
        # After the uploads above, so that the disk is as busy as it was for the later of them.
        figures["tus_floor_mb_per_second_1mib"] = size / 1e6 / time_floor_upload(photo, workdir / "floor")
        figures["durable_write_mb_per_second"] = size / 1e6 / time_durable_write(photo, workdir)
    figures["tus_to_floor_ratio_1mib"] = (figures["tus_upload_mb_per_second_1mib"]
                                          / figures["tus_floor_mb_per_second_1mib"])
    figures["tus_floor_to_sha256sum_ratio_1mib"] = (figures["tus_floor_mb_per_second_1mib"]
                                                    / figures["sha256sum_mb_per_second"])
    figures["tus_to_sha256sum_ratio_1mib"] = figures["tus_upload_mb_per_second_1mib"] / figures["sha256sum_mb_per_second"]
    figures["durable_write_to_sha256sum_ratio"] = (figures["durable_write_mb_per_second"]
                                                   / figures["sha256sum_mb_per_second"])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10, help="timed batches of 500 per database")
    parser.add_argument("--postgresql", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="server URL on which a scratch database is created and dropped")
    parser.add_argument("--skip-postgresql", action="store_true")
    parser.add_argument("--skip-tus", action="store_true")
    args = parser.parse_args()

    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as workdir:
        figures["push_ops_per_second_sqlite"] = bench_push(f"sqlite:///{Path(workdir) / 'push.sqlite3'}", "sqlite",
                                                           args.batches)
    if not args.skip_postgresql:
        url, drop = scratch_postgresql(args.postgresql)
        try:
            figures["push_ops_per_second_postgresql"] = bench_push(url, "postgresql", args.batches)
        finally:
            drop()
    if not args.skip_tus:
        figures.update(bench_uploads())

    units = {"push_ops_per_second_sqlite": "ops/s", "push_ops_per_second_postgresql": "ops/s",
             "tus_upload_mb_per_second_1mib": "MB/s", "tus_upload_mb_per_second_1mib_checksummed": "MB/s",
             "tus_upload_mb_per_second_8mib": "MB/s",
             "tus_floor_mb_per_second_1mib": "MB/s", "sha256sum_mb_per_second": "MB/s",
             "durable_write_mb_per_second": "MB/s", "durable_write_to_sha256sum_ratio": "",
             "tus_floor_to_sha256sum_ratio_1mib": "", "tus_to_floor_ratio_1mib": "",
             "tus_to_sha256sum_ratio_1mib": ""}
    for name, unit in units.items():
        if name in figures:
            value = figures[name]
            print(f"{name}: {value:.2f}" if "_ratio" in name else f"{name}: {value:.0f} {unit}")


if __name__ == "__main__":
    main()
