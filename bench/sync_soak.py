"""Sync soak: many field devices syncing through a faulty network, then an exactly-once check.

The real server (werkzeug, threaded, in a background thread on 127.0.0.1) runs on a scratch SQLite
database (or a scratch PostgreSQL database with `--postgresql`). N devices (default 20) are each a
field-client store in its own temporary home, built with the field client's own code
(`field_client.fieldwork`): a dispatched assignment of the inspector's team, revealed offline with a
code, an observation, two notes, 2–3 small noise JPEGs, then submitted. Each device talks to the
server only through a fault-injecting TCP proxy on loopback which, per connection and from a fixed
seed, passes it through, cuts it after a random number of bytes in either direction (so some cuts
fall after the server's commit and before its answer), or stalls it for a while (then passes it
or cuts it). Every device runs the real `anfang-field sync` command (a subprocess, 64 KiB tus
chunks) in a loop, all devices at once, until a run exits 0 or the time bound passes.

At the end the server's database is queried: every operation of every device's outbox is there
exactly once (sync_operation by op_id), every inspection, observation, note and photo row exactly
once, every inspection `complete`, every photo's SHA-256 equal to the device's and its evidence
file on disk hashing to it. Then `soak_ok: 1`; otherwise the failures are listed, `soak_ok: 0`,
exit status 1.

Run: .venv/bin/python bench/sync_soak.py [--devices N] [--seconds S] [--seed N] [--postgresql [URL]]
Prints the headline figures last, one per line, as `name: value unit`.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import logging
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from scratch import scratch_postgresql
from sync_ingest import Served, build_team

FIELD = Path(sys.executable).parent / "anfang-field"
CHUNK = 64 * 1024


# --- the faulty network ---------------------------------------------------------------------------


class FaultyProxy:
    """TCP proxy on loopback; each accepted connection gets a fate drawn from a seeded generator."""

    def __init__(self, upstream_port: int, seed: int, *, cut_rate: float = 0.2, stall_rate: float = 0.15):
        self.upstream_port = upstream_port
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.cut_rate, self.stall_rate = cut_rate, stall_rate
        self.fates = Counter()
        self.cuts = 0  # connections actually cut (a planned cut beyond the bytes sent never happens)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _fate(self) -> dict:
        with self.lock:
            draw = self.random.random()
            fate = {"cut": None, "direction": None, "stall": 0.0}
            if draw < self.cut_rate:
                # Half the cuts early (headers, a push's body, an answer), half anywhere in a chunk.
                fate["cut"] = self.random.randrange(0, 2048 if self.random.random() < 0.5 else 96 * 1024)
                fate["direction"] = self.random.choice(("up", "down"))
                self.fates[f"cut_{fate['direction']}"] += 1
            elif draw < self.cut_rate + self.stall_rate:
                fate["stall"] = self.random.uniform(0.2, 2.0)
                if self.random.random() < 0.3:
                    fate["cut"] = self.random.randrange(0, 4096)
                    fate["direction"] = self.random.choice(("up", "down"))
                    self.fates["stall_then_cut"] += 1
                else:
                    self.fates["stall"] += 1
            else:
                self.fates["clean"] += 1
            return fate

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        fate = self._fate()
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            client.close()
            return
        done = threading.Event()

        def close_both() -> None:
            done.set()
            for sock in (client, upstream):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

        def pump(source: socket.socket, target: socket.socket, direction: str) -> None:
            passed = 0
            stalled = False
            limit = fate["cut"] if fate["direction"] == direction else None
            try:
                while not done.is_set():
                    data = source.recv(65536)
                    if not data:
                        try:
                            target.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        return
                    if fate["stall"] and not stalled and direction == "up":
                        stalled = True
                        time.sleep(fate["stall"])
                    if limit is not None and passed + len(data) > limit:
                        target.sendall(data[:limit - passed])
                        with self.lock:
                            self.cuts += 1
                        close_both()
                        return
                    target.sendall(data)
                    passed += len(data)
            except OSError:
                close_both()

        up = threading.Thread(target=pump, args=(client, upstream, "up"), daemon=True)
        down = threading.Thread(target=pump, args=(upstream, client, "down"), daemon=True)
        up.start()
        down.start()
        up.join()
        down.join()
        if not done.is_set():
            close_both()

    def stop(self) -> None:
        self.running = False
        self.listener.close()


class Collector(logging.Handler):
    """Counts the server's logged errors by exception (type and first line), and its answers of
    503 to a locked database (logged as warnings: retried, not faults)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.causes = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            self.causes[f"{type(error).__name__}: {str(error).splitlines()[0][:120]}"] += 1
        elif record.name == "server.errors":
            self.causes[f"503: {record.getMessage().split(' on ')[0]}"] += 1


# --- devices --------------------------------------------------------------------------------------


def noise_jpeg(path: Path, rng: random.Random) -> None:
    from PIL import Image

    size = (rng.randrange(400, 720), rng.randrange(300, 540))
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    path.write_bytes(buffer.getvalue())


def make_device(home: Path, number: int, assignment_uuid: str, token: str, url: str, rng: random.Random) -> None:
    from field_client import fieldwork
    from field_client.store import Store

    with Store(home) as store:
        store.save_token(token)
        store.set_config({"server_url": url})
        fieldwork.store_pull(store, [{"id": number, "uuid": assignment_uuid, "status": "dispatched"}], [], "bench")
        row = fieldwork.find_assignment(store, str(number))
        fieldwork.reveal(store, row, {"name": "基准博物馆", "category_code": "museum"}, how="code",
                         latitude=29.08, longitude=119.65)
        inspection = fieldwork.inspection_of(store, row)
        fieldwork.record(store, inspection, [], {}, {"k3_visitors": rng.randrange(100, 900)})
        fieldwork.add_note(store, inspection, "positive", f"入口秩序良好（设备 {number}）")
        fieldwork.add_note(store, inspection, "negative", f"消防通道堆放杂物（设备 {number}）")
        for photo in range(rng.choice((2, 3))):
            source = home.parent / f"device{number}-现场{photo}.jpg"
            noise_jpeg(source, rng)
            fieldwork.add_photo(store, inspection, source, finding_uuid=None, caption=f"现场 {photo + 1}")
        fieldwork.submit(store, inspection)


def device_facts(home: Path) -> dict:
    import sqlite3

    connection = sqlite3.connect(home / "field.sqlite3")
    try:
        return {
            "ops": [row[0] for row in connection.execute("SELECT op_id FROM outbox")],
            "pending": connection.execute("SELECT COUNT(*) FROM outbox WHERE state != 'done'").fetchone()[0],
            "inspections": [row[0] for row in connection.execute("SELECT uuid FROM inspections")],
            "notes": [row[0] for row in connection.execute("SELECT uuid FROM notes")],
            "photos": {row[0]: (row[1], row[2]) for row in connection.execute("SELECT uuid, sha256, size FROM photos")},
            "observations": connection.execute("SELECT COUNT(*) FROM observations").fetchone()[0],
        }
    finally:
        connection.close()


def run_device(home: Path, deadline: float, stats: dict, lock: threading.Lock) -> None:
    runs = 0
    while time.monotonic() < deadline:
        runs += 1
        try:
            done = subprocess.run([str(FIELD), "--home", str(home), "sync", "--chunk-size", str(CHUNK)],
                                  check=False, capture_output=True, text=True,
                                  timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            break
        if done.returncode == 0:
            with lock:
                stats["runs"] += runs
                stats["finished"] += 1
            return
        time.sleep(0.2)
    with lock:
        stats["runs"] += runs


# --- the check ------------------------------------------------------------------------------------


def check(served: Served, devices: list[Path]) -> list[str]:
    import sqlalchemy as sa

    from server.field.models.evidence import EvidenceFile
    from server.field.models.inspection import ExampleNote, Inspection, Observation, Photo, SyncOperation

    problems = []
    db = served.db
    with served.app.app_context():
        def count(model, *where) -> int:
            return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))

        for home in devices:
            facts = device_facts(home)
            name = home.name
            if facts["pending"]:
                problems.append(f"{name}: {facts['pending']} operations not done on the device")
            for op_id in facts["ops"]:
                if (n := count(SyncOperation, SyncOperation.op_id == op_id)) != 1:
                    problems.append(f"{name}: operation {op_id} on the server {n} times")
            for inspection_uuid in facts["inspections"]:
                rows = db.session.scalars(sa.select(Inspection).where(Inspection.uuid == inspection_uuid)).all()
                if len(rows) != 1:
                    problems.append(f"{name}: inspection {inspection_uuid} on the server {len(rows)} times")
                    continue
                inspection = rows[0]
                if inspection.status != "complete":
                    problems.append(f"{name}: inspection {inspection_uuid} is {inspection.status}")
                if (n := count(Observation, Observation.inspection_id == inspection.id)) != facts["observations"]:
                    problems.append(f"{name}: {n} observations on the server, {facts['observations']} on the device")
                if (n := count(Photo, Photo.inspection_id == inspection.id)) != len(facts["photos"]):
                    problems.append(f"{name}: {n} photos on the server, {len(facts['photos'])} on the device")
            for note_uuid in facts["notes"]:
                if (n := count(ExampleNote, ExampleNote.uuid == note_uuid)) != 1:
                    problems.append(f"{name}: note {note_uuid} on the server {n} times")
            for photo_uuid, (sha256, size) in facts["photos"].items():
                rows = db.session.scalars(sa.select(Photo).where(Photo.uuid == photo_uuid)).all()
                if len(rows) != 1 or rows[0].sha256 != sha256:
                    problems.append(f"{name}: photo {photo_uuid} on the server {len(rows)} times or another hash")
                evidence = db.session.scalars(sa.select(EvidenceFile).where(EvidenceFile.sha256 == sha256)).all()
                if len(evidence) != 1:
                    problems.append(f"{name}: evidence {sha256[:12]} stored {len(evidence)} times")
                    continue
                stored = Path(served.app.config["EVIDENCE_DIR"]) / evidence[0].stored_path
                data = stored.read_bytes() if stored.is_file() else b""
                if hashlib.sha256(data).hexdigest() != sha256 or len(data) != size:
                    problems.append(f"{name}: evidence file of photo {photo_uuid} does not hash to {sha256[:12]}")
        db.session.remove()
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=75.0, help="time bound for the sync loops")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--postgresql", nargs="?", const="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        help="run the server on a scratch PostgreSQL database created on this server")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    drop = None
    with tempfile.TemporaryDirectory() as workdir:
        workdir = Path(workdir)
        if args.postgresql:
            url, drop = scratch_postgresql(args.postgresql)
        else:
            url = f"sqlite:///{workdir / 'soak.sqlite3'}"
        served = Served(url, workdir)
        server_errors = Counter()
        inner = served.app.wsgi_app

        def counting(environ, start_response):
            def start(status, headers, *rest):
                if status.startswith("5"):
                    server_errors[status] += 1
                return start_response(status, headers, *rest)
            return inner(environ, start)

        served.app.wsgi_app = counting
        proxy = FaultyProxy(served.port, args.seed)
        try:
            from server.accounts.auth import issue_device_token
            from server.accounts.models.user import User
            from server.columns import utcnow

            _, assignments, username = build_team(served, args.devices)
            tokens = []
            with served.app.app_context():
                leader = served.db.session.scalar(served.db.select(User).where(User.username == username))
                for number in range(args.devices):
                    raw, token = issue_device_token(leader, f"基准手机{number}", channel="api")
                    token.last_used_at = utcnow()
                    tokens.append(raw)
                served.db.session.commit()
                served.db.session.remove()
            homes = []
            for number, (assignment_uuid, token) in enumerate(zip(assignments, tokens), start=1):
                home = workdir / f"device{number:02d}" / "home"
                home.parent.mkdir()
                make_device(home, number, assignment_uuid, token, proxy.url, rng)
                homes.append(home)
            facts = [device_facts(home) for home in homes]
            total_ops = sum(len(f["ops"]) for f in facts)
            total_photos = sum(len(f["photos"]) for f in facts)
            total_bytes = sum(size for f in facts for _, size in f["photos"].values())
            print(f"soak: {args.devices} devices, {total_ops} operations, {total_photos} photos "
                  f"({total_bytes / 1e6:.1f} MB), through a faulty proxy, bound {args.seconds:.0f} s")

            stats = {"runs": 0, "finished": 0}
            lock = threading.Lock()
            started = time.monotonic()
            deadline = started + args.seconds
            threads = [threading.Thread(target=run_device, args=(home, deadline, stats, lock)) for home in homes]
            # Server tracebacks of the requests that fail (5xx) are counted by cause, not printed.
            collector = Collector()
            saved = {logger: (logger.handlers[:], logger.propagate)
                     for logger in (logging.getLogger(), served.app.logger, logging.getLogger("werkzeug"))}
            for logger in saved:
                logger.handlers[:] = [collector] if logger is logging.getLogger() else []
                logger.propagate = logger is not logging.getLogger() and True
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            for logger, (handlers, propagate) in saved.items():
                logger.handlers[:] = handlers
                logger.propagate = propagate
            seconds = time.monotonic() - started
            print(f"soak: {stats['finished']}/{args.devices} devices finished in {seconds:.1f} s; "
                  f"connections {dict(proxy.fates)}; server 5xx answers {dict(server_errors) or 0}")
            for cause, n in collector.causes.most_common(5):
                print(f"soak: server error logged {n}×: {cause}")

            problems = check(served, homes)
        finally:
            proxy.stop()
            served.stop()
            if drop:
                drop()
    for problem in problems[:30]:
        print("FAIL", problem)
    if len(problems) > 30:
        print(f"FAIL … and {len(problems) - 30} more")
    ok = not problems and stats["finished"] == args.devices
    print(f"soak_seconds: {seconds:.1f} s")
    print(f"soak_ops_per_second: {total_ops / seconds:.1f} ops/s")
    print(f"soak_upload_mb_per_second: {total_bytes / 1e6 / seconds:.2f} MB/s")
    print(f"soak_sync_reruns: {stats['runs'] - stats['finished']} runs")
    print(f"soak_connections_cut: {proxy.cuts} connections")
    print(f"soak_connections_stalled: {proxy.fates['stall'] + proxy.fates['stall_then_cut']} connections")
    print(f"soak_server_5xx: {sum(server_errors.values())} answers")
    print(f"soak_ok: {1 if ok else 0}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
