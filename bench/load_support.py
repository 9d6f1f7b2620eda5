"""The world of bench/load.py: a served scratch database, the devices' records, the exactly-once
check, and where the server's time went (its access log, CPU per process, PostgreSQL's activity)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ANFANG = Path(sys.executable).parent / "anfang"
SECRET = "load-bench-secret-" + "s" * 32
START_SECONDS = 90

# Whatever the shell holds must not decide what production sees.
_CLEARED = ("SECRET_KEY", "DATABASE_URL", "RATELIMIT_STORAGE_URI", "ALLOW_SQLITE_SINGLE_PROCESS", "PROXY_HOPS",
            "ANFANG_CONFIG", "EVIDENCE_DIR", "PROMETHEUS_MULTIPROC_DIR", "LOG_FORMAT", "LOG_LEVEL")


JOBS_REDIS = "redis://127.0.0.1:6379/6"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(fraction * len(ordered) + 0.5)) - 1))]


# --- the server -----------------------------------------------------------------------------------


class Server:
    """`anfang serve` (gunicorn, production configuration) on a database seeded with the demo."""

    def __init__(self, database_url: str, workdir: Path, redis_url: str, workers: int | None, threads: int | None):
        self.database_url, self.workdir = database_url, workdir
        self.evidence = workdir / "evidence"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "serve.log"
        self.environment = {key: value for key, value in os.environ.items() if key not in _CLEARED}
        self.environment.update({
            "DATABASE_URL": database_url, "SECRET_KEY": SECRET, "EVIDENCE_DIR": str(self.evidence),
            "RATELIMIT_STORAGE_URI": redis_url,
            # Its own counters in the shared Redis: nothing another run counted applies here.
            "RATELIMIT_KEY_PREFIX": f"anfang-load-{uuid.uuid4().hex[:8]}", "PROXY_HOPS": "1",
            "DOCUMENT_SIGNING_DIR": str(workdir / "signing"), "PUBLIC_BASE_URL": self.url,
            "LOG_FORMAT": "json", "COLUMNS": "200",
            # Slow work (draft PDFs, material collection, photo variants) goes to `anfang worker`
            # through its own Redis database, emptied first: a message of an earlier run names
            # job ids of another database. No daily jobs during a run.
            "REDIS_URL": JOBS_REDIS, "DAILY_JOBS": ""})
        self.command = [str(ANFANG), "serve", "--bind", f"127.0.0.1:{self.port}"]
        if workers:
            self.command += ["--workers", str(workers)]
        if threads:
            self.command += ["--threads", str(threads)]
        self.process = self.worker = None

    def seed(self) -> None:
        # Without the queue: the demo's photos get their variants when first viewed, as before.
        seeding = {key: value for key, value in self.environment.items() if key != "REDIS_URL"}
        done = subprocess.run([str(ANFANG), "demo", "seed"], env={**seeding, "ANFANG_CONFIG": "development"},
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise SystemExit("anfang demo seed failed:\n" + done.stdout + done.stderr)

    def start(self) -> str:
        """Starts the worker and the server and waits for /healthz (which needs the worker);
        returns the server's first line (workers, threads)."""
        import httpx
        import redis

        client = redis.Redis.from_url(JOBS_REDIS)
        client.flushdb()
        client.close()
        with (self.workdir / "worker.log").open("w") as output:
            self.worker = subprocess.Popen([str(ANFANG), "worker"], stdout=output, stderr=subprocess.STDOUT,
                                           env={**self.environment, "ANFANG_CONFIG": "production"})
        with self.log.open("w") as output:
            self.process = subprocess.Popen(self.command, env=self.environment, stdout=output,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("anfang serve did not answer /healthz:\n" + self.log.read_text())
            time.sleep(0.3)
        return self.log.read_text().splitlines()[0]

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.terminate()
            self.worker.wait(timeout=60)
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)  # gunicorn's quick shutdown: no requests are left
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def access_lines(self) -> list[dict]:
        """The server's access lines (logger anfang.access): method, path, status, duration_ms."""
        lines = []
        for line in self.log.read_text().splitlines():
            if '"anfang.access"' in line:
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    continue
        return lines

    def error_lines(self) -> Counter:
        """Logged errors and warnings other than access lines, by first words."""
        causes = Counter()
        for line in self.log.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                if "Traceback" in line or "[ERROR]" in line or "[CRITICAL]" in line:
                    causes[line.strip()[:140]] += 1
                continue
            if entry.get("logger") != "anfang.access" and entry.get("level") in ("WARNING", "ERROR", "CRITICAL"):
                causes[f"{entry.get('level')} {entry.get('logger')}: {str(entry.get('message'))[:120]}"] += 1
        return causes


# --- the devices' world ---------------------------------------------------------------------------


def build_devices(database_url: str, evidence: Path, devices: int, records: int) -> list[dict]:
    """Per device: the leader of a two-inspector team of the demo's inspectors (cycled: the demo has
    64) with its own device token, and `records` dispatched assignments at demo museums, made as
    tests/assignment_world.py makes them (a placeholder draw per device, `record_created`)."""
    from server import create_app
    from server.accounts.auth import issue_device_token
    from server.accounts.models.user import User
    from server.columns import utcnow
    from server.draws.assignments import record_created
    from server.draws.models.draw import Assignment, AssignmentMember, Draw
    from server.draws.server_keys import wrap_secret
    from server.extensions import db
    from server.registry.models.reference import VenueCategory
    from server.registry.models.venue import Venue

    app = create_app("development", SQLALCHEMY_DATABASE_URI=database_url, EVIDENCE_DIR=str(evidence))
    world = []
    with app.app_context():
        inspectors = db.session.scalars(sa.select(User).where(User.role == "inspector", User.is_active)
                                        .order_by(User.username)).all()
        museums = db.session.scalars(sa.select(Venue).join(VenueCategory).where(VenueCategory.code == "museum")
                                     .order_by(Venue.id)).all()
        office = db.session.scalar(sa.select(User).where(User.username == "office"))
        start = utcnow() - timedelta(hours=1)
        end = start + timedelta(hours=8)
        for number in range(devices):
            leader = inspectors[number % len(inspectors)]
            member = inspectors[(number + 1) % len(inspectors)]
            seed = os.urandom(32)
            digest = hashlib.sha256(b"placeholder").hexdigest()
            draw = Draw(created_by_id=office.id, status="committed", parameters={"placeholder": True},
                        window_start=start, window_end=end, commitment=hashlib.sha256(seed).hexdigest(),
                        sealed_seed=wrap_secret(seed, "draw-seed"), parameters_digest=digest, venues_digest=digest,
                        inspectors_digest=digest, result_digest=digest, venues_snapshot=b"x",
                        inspectors_snapshot=b"x")
            db.session.add(draw)
            db.session.flush()
            assignments = []
            for position in range(1, records + 1):
                venue = museums[(number * records + position) % len(museums)]
                assignment = Assignment(draw_id=draw.id, position=position, venue=venue, visit_date=start.date(),
                                        window_start=start, window_end=end, meeting_point="市防指办门口")
                assignment.members.append(AssignmentMember(user_id=leader.id, position=1, is_leader=True))
                assignment.members.append(AssignmentMember(user_id=member.id, position=2, is_leader=False))
                db.session.add(assignment)
                record_created(assignment, office)
                assignment.status = "dispatched"
                assignments.append(assignment)
            raw, _ = issue_device_token(leader, f"压测手机{number}")
            db.session.flush()
            world.append({"token": raw, "device_id": str(uuid.uuid4()),
                          "assignments": [assignment.uuid for assignment in assignments]})
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return world


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def operation(entity: str, entity_id: str, payload: dict) -> dict:
    from server.field.push import payload_sha256

    return {"op_id": str(uuid.uuid4()), "entity": entity, "entity_id": entity_id, "payload": payload,
            "payload_sha256": payload_sha256(payload)}


def noise_jpeg() -> bytes:
    """Noise, so it compresses badly: about 50 KB, a phone photo's order of magnitude after resizing."""
    from PIL import Image

    image = Image.frombytes("RGB", (240, 180), os.urandom(240 * 180 * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


def make_record(assignment_uuid: str, photos: list[bytes]) -> dict:
    """A record as the field client queues it (the visit, then its submission), and what the
    server must end up holding for it."""
    inspection, finding, note = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    visit = [
        operation("assignment_reveal", assignment_uuid, {"assignment_uuid": assignment_uuid, "how": "code",
                                                         "revealed_at": _now(), "device_time": _now()}),
        operation("inspection", inspection, {"uuid": inspection, "assignment_uuid": assignment_uuid,
                                             "checked_in_at": _now(), "latitude": 29.08, "longitude": 119.65,
                                             "device_time": _now(), "status": "draft"}),
        operation("observation", f"{inspection}/k3_visitors", {
            "inspection_uuid": inspection, "item_code": "k3_visitors", "value": 380, "recorded_at": _now()}),
        operation("finding", finding, {"uuid": finding, "inspection_uuid": inspection, "rule_code": "K3",
                                       "check_code": None, "description": "现场人数明显超限", "source": "manual",
                                       "created_at": _now()}),
        operation("note", note, {"uuid": note, "inspection_uuid": inspection, "kind": "positive",
                                 "text": "入口处测温、扫码有序", "created_at": _now()}),
    ]
    photo_uuids = []
    for data in photos:
        photo = str(uuid.uuid4())
        photo_uuids.append(photo)
        visit.append(operation("photo", photo, {
            "uuid": photo, "inspection_uuid": inspection, "finding_uuid": finding,
            "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "filename": f"{photo}.jpg",
            "original_name": "IMG_0001.jpg", "media_type": "image/jpeg", "caption": "入口", "exif_time": None,
            "latitude": None, "longitude": None, "orientation": None, "created_at": _now()}))
    submission = [operation("inspection_submission", inspection, {"inspection_uuid": inspection,
                                                                 "submitted_at": _now(), "device_time": _now()})]
    return {"visit": visit, "submission": submission, "photos": photos, "inspection": inspection,
            "finding": finding, "note": note, "photo_uuids": photo_uuids}


# --- exactly once ---------------------------------------------------------------------------------


def check_exactly_once(database_url: str, evidence: Path, records: list[dict]) -> dict:
    """Every record the devices sent, in the database: counts of what is missing, what is there more
    than once, inspections not complete, and stored photos whose bytes do not hash to their name."""
    ops = [op["op_id"] for record in records for op in record["visit"] + record["submission"]]
    expected = {
        "sync_operation": ("op_id", ops),
        "inspection": ("uuid", [record["inspection"] for record in records]),
        "finding": ("uuid", [record["finding"] for record in records]),
        "example_note": ("uuid", [record["note"] for record in records]),
        "photo": ("uuid", [photo for record in records for photo in record["photo_uuids"]]),
    }
    result = {"lost": 0, "duplicated": 0, "incomplete": 0, "bad_photo_files": 0, "by_table": {}}
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            for table, (column, keys) in expected.items():
                found = Counter(dict(connection.execute(sa.text(
                    f"SELECT {column}, count(*) FROM {table} WHERE {column} = ANY(:keys) GROUP BY {column}"),
                    {"keys": keys}).all()))
                lost = sum(1 for key in keys if found[key] == 0)
                duplicated = sum(count - 1 for count in found.values() if count > 1)
                result["by_table"][table] = (len(keys), lost, duplicated)
                result["lost"] += lost
                result["duplicated"] += duplicated
            observations = Counter(dict(connection.execute(sa.text(
                "SELECT i.uuid, count(*) FROM observation o JOIN inspection i ON i.id = o.inspection_id "
                "WHERE i.uuid = ANY(:keys) GROUP BY i.uuid"), {"keys": expected["inspection"][1]}).all()))
            for key in expected["inspection"][1]:
                result["lost"] += observations[key] == 0
                result["duplicated"] += max(0, observations[key] - 1)
            statuses = Counter(dict(connection.execute(sa.text(
                "SELECT status, count(*) FROM inspection WHERE uuid = ANY(:keys) GROUP BY status"),
                {"keys": expected["inspection"][1]}).all()))
            result["incomplete"] = sum(count for status, count in statuses.items() if status != "complete")
            result["statuses"] = dict(statuses)
            shas = sorted({hashlib.sha256(data).hexdigest() for record in records for data in record["photos"]})
            stored = connection.execute(sa.text(
                "SELECT sha256, stored_path FROM evidence_file WHERE sha256 = ANY(:shas)"), {"shas": shas}).all()
            per_sha = Counter(sha for sha, _ in stored)
            result["lost"] += sum(1 for sha in shas if per_sha[sha] == 0)
            result["duplicated"] += sum(count - 1 for count in per_sha.values() if count > 1)
            for sha256, stored_path in stored:
                path = evidence / stored_path
                if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
                    result["bad_photo_files"] += 1
            result["by_table"]["evidence_file"] = (len(shas), sum(1 for sha in shas if per_sha[sha] == 0),
                                                   sum(count - 1 for count in per_sha.values() if count > 1))
    finally:
        engine.dispose()
    return result


# --- where the time goes --------------------------------------------------------------------------


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _machine_busy() -> tuple[int, int]:
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class Sampler:
    """Samples every second, while the load runs: CPU seconds of the gunicorn master and workers,
    of this database's PostgreSQL backends (pg_stat_activity) and of the load generator itself;
    the machine's busy share; and what the database's backends were doing (active, waiting on a
    lock, idle in a transaction)."""

    def __init__(self, server: Server, database_name: str, admin_url: str):
        self.server, self.database_name = server, database_name
        self.engine = sa.create_engine(admin_url, pool_size=1)
        self.first: dict[tuple[str, int], float] = {}
        self.last: dict[tuple[str, int], float] = {}
        self.activity = Counter()
        self.samples = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        pids = [("gunicorn", self.server.process.pid)]
        pids += [("gunicorn", pid) for pid in _children(self.server.process.pid)]
        pids.append(("load generator", os.getpid()))
        with self.engine.connect() as connection:
            rows = connection.execute(sa.text(
                "SELECT pid, state, wait_event_type, wait_event FROM pg_stat_activity WHERE datname = :name"
                " AND pid <> pg_backend_pid()"), {"name": self.database_name}).all()
        for pid, state, wait_type, wait_event in rows:
            pids.append(("postgresql", pid))
            if state == "active":
                self.activity["active: " + (f"waiting {wait_type}/{wait_event}" if wait_type else "on CPU")] += 1
            else:
                self.activity[state or "?"] += 1
        for key in pids:
            seconds = _cpu_seconds(key[1])
            if seconds is None:
                continue
            self.first.setdefault(key, seconds)
            self.last[key] = seconds
        self.samples += 1

    def _run(self) -> None:
        while not self.stopped.wait(1.0):
            try:
                self._sample()
            except Exception as exc:  # a sample lost is no reason to stop the run
                self.activity[f"sample failed: {type(exc).__name__}"] += 1

    def start(self) -> None:
        self.started = time.monotonic()
        self.busy_start = _machine_busy()
        self._sample()
        self.thread.start()

    def stop(self) -> dict:
        self.stopped.set()
        self.thread.join()
        self._sample()
        seconds = time.monotonic() - self.started
        busy, total = _machine_busy()
        self.engine.dispose()
        cpu = defaultdict(float)
        for key, last in self.last.items():
            cpu[key[0]] += last - self.first[key]
        return {"seconds": seconds, "cpu": dict(cpu), "activity": dict(self.activity), "samples": self.samples,
                "machine_busy": (busy - self.busy_start[0]) / max(1, total - self.busy_start[1])}
