"""Fault tests with real processes: the server and the field client run as subprocesses on loopback,
and die or fail at chosen points through small wrapper scripts this module writes (the code under
test is not changed; the wrappers patch it from outside, as a crash or a full disk would strike).

- The server is killed (`os._exit`) after its push transaction committed, before the answer leaves.
- The field client is killed with SIGKILL in the middle of `photo` and of `record`.
- The server's disk is full (ENOSPC) while it writes the chunk that would complete an upload.
"""

from __future__ import annotations

import hashlib
import io
import os
import random
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask_migrate import upgrade
from PIL import Image

from field_client import sync as syncing
from field_client.cli import main
from field_client.photos import TEMPORARY_PREFIX

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHUNK = 64 * 1024
DEMO_PASSWORD = "anfang-demo-2021"

SERVER_WRAPPER = '''
"""The real server, with fault switches: each fault fires once, when its flag file exists."""
import contextlib
import errno
import os
import sys
from pathlib import Path

from flask import request
from werkzeug.serving import make_server

from server import create_app
from server.field import uploads

FLAGS = Path(sys.argv[1])


def take(name):
    try:
        (FLAGS / name).unlink()  # atomic: one request alone fires the fault
    except FileNotFoundError:
        return False
    return True


app = create_app("testing", SQLALCHEMY_DATABASE_URI=os.environ["DATABASE_URL"],
                 EVIDENCE_DIR=os.environ["EVIDENCE_DIR"])


def die_after_commit(response):
    # Registered first in the list, so it runs last: after the app's own commit of the push.
    if request.path == "/api/v1/sync/push" and response.status_code == 200 and take("crash-after-push-commit"):
        sys.stderr.write("fault: exiting after the push commit, before the answer\\n")
        sys.stderr.flush()
        os._exit(1)
    return response


app.after_request_funcs.setdefault(None, []).insert(0, die_after_commit)


class FullDisk:
    """The upload's file, whose write that would complete the file meets a full disk (once)."""

    def __init__(self, handle, length):
        self._handle, self._length = handle, length

    def write(self, block):
        if self._handle.tell() + len(block) >= self._length and take("enospc"):
            self._handle.write(block[: len(block) // 2])  # part of it got out before the disk filled
            self._handle.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self._handle.write(block)

    def __getattr__(self, name):
        return getattr(self._handle, name)


original_lock = uploads.locked_upload_file


@contextlib.contextmanager
def locked_upload_file(upload):
    with original_lock(upload) as handle:
        yield None if handle is None else FullDisk(handle, upload.upload_length)


uploads.locked_upload_file = locked_upload_file

server = make_server("127.0.0.1", int(sys.argv[2]), app, threaded=True)
server.serve_forever()
'''

CLIENT_WRAPPER = '''
"""anfang-field, killed with SIGKILL at a chosen point: argv[1] names the point, the rest is the command."""
import builtins
import contextlib
import os
import signal
import sys

from field_client import photos
from field_client import store as store_module
from field_client.cli import main

POINT = sys.argv[1]


def die():
    os.kill(os.getpid(), signal.SIGKILL)


if POINT == "photo-mid-copy":
    # Half of the second block of the temporary copy reaches the disk, then the battery dies.
    class Dying:
        def __init__(self, handle):
            self._handle, self._writes = handle, 0

        def write(self, data):
            self._writes += 1
            if self._writes == 2:
                self._handle.write(data[: len(data) // 2])
                self._handle.flush()
                die()
            return self._handle.write(data)

        def __getattr__(self, name):
            return getattr(self._handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self._handle.__exit__(*exc)

    def dying_open(path, mode="r", *args, **kwargs):
        handle = builtins.open(path, mode, *args, **kwargs)
        return Dying(handle) if "x" in mode else handle

    photos.CHUNK = 64 * 1024
    photos.open = dying_open
elif POINT == "photo-after-rename":
    # The copy is under its final name; the row and its operation are not yet written.
    photos.fsync_directory = lambda path: die()
elif POINT in ("photo-in-transaction", "record-in-transaction"):
    # Inside the transaction, after some of its rows and operations, before COMMIT.
    calls = {"n": 0}
    kill_at = 2
    name = "insert" if POINT.startswith("photo") else "enqueue"
    original = getattr(store_module.Change, name)

    def dying(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == kill_at:
            die()
        return result

    setattr(store_module.Change, name, dying)
elif POINT == "record-after-commit":
    original_change = store_module.Store.change
    original_enqueue = store_module.Change.enqueue
    queued = {"any": False}

    def enqueue(self, *args, **kwargs):
        queued["any"] = True
        return original_enqueue(self, *args, **kwargs)

    @contextlib.contextmanager
    def change(self):
        with original_change(self) as tx:
            yield tx
        if queued["any"]:
            die()  # committed, and nothing printed yet

    store_module.Change.enqueue = enqueue
    store_module.Store.change = change

sys.argv = ["anfang-field", *sys.argv[2:]]
main()
'''


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(**extra) -> dict:
    path = os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, COLUMNS="200", **extra)


class ServerProcess:
    """The real server in its own process; `start` again after it died serves on the same port."""

    def __init__(self, database_url: str, tmp_path: Path):
        self.database_url = database_url
        self.evidence_dir = tmp_path / "evidence"
        self.flags = tmp_path / "faults"
        self.flags.mkdir()
        self.script = tmp_path / "fault_server.py"
        self.script.write_text(SERVER_WRAPPER, encoding="utf-8")
        self.log = tmp_path / "server.log"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def arm(self, fault: str) -> None:
        (self.flags / fault).touch()

    def armed(self, fault: str) -> bool:
        return (self.flags / fault).exists()

    def start(self) -> None:
        with self.log.open("a") as output:
            self.process = subprocess.Popen(
                [sys.executable, str(self.script), str(self.flags), str(self.port)],
                env=_environment(DATABASE_URL=self.database_url, EVIDENCE_DIR=str(self.evidence_dir)),
                stdout=output, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, "server did not answer /healthz: " + self.log.read_text()
            time.sleep(0.2)

    def wait_exit(self, timeout: float = 20) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


def photo_file(path: Path, seed: int, size=(640, 400)) -> Path:
    """A JPEG of noise: a few hundred KiB, several 64 KiB chunks."""
    image = Image.frombytes("RGB", size, random.Random(seed).randbytes(size[0] * size[1] * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=95)
    path.write_bytes(buffer.getvalue())
    return path


def run(home: Path, *args, input=None):
    return CliRunner().invoke(main, ["--home", str(home), *map(str, args)], input=input)


def ok(home: Path, *args, input=None) -> str:
    result = run(home, *args, input=input)
    assert result.exit_code == 0, result.output
    return result.output


def sync(home: Path, code: int = 0) -> str:
    result = run(home, "sync", "--chunk-size", CHUNK)
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.output


def rows(home: Path, sql: str, params=()):
    connection = sqlite3.connect(home / "field.sqlite3")
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def server_app(database_url: str, evidence_dir: Path):
    from server import create_app

    return create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, EVIDENCE_DIR=str(evidence_dir))


def read_server(world, query):
    """Run `query(db)` against the server's database from this process, and let go of it."""
    from server.extensions import db

    app = server_app(world.server.database_url, world.server.evidence_dir)
    with app.app_context():
        try:
            return query(db)
        finally:
            db.session.remove()
            db.engine.dispose()


class World:
    server: ServerProcess
    home: Path
    ident: int
    capacity: int


@pytest.fixture
def world(empty_database_url, tmp_path, monkeypatch):
    """A migrated, seeded server in its own process, with one museum assignment dispatched, and a
    device logged in that has pulled and revealed it with the code."""
    from server.accounts.models.user import User
    from server.columns import CHINA_STANDARD_TIME, utcnow
    from server.demo.registry import seed_demo
    from server.draws.assignments import dispatch
    from server.draws.creation import create_draw
    from server.draws.seeding import contribute
    from server.extensions import db
    from server.registry.loader import load_reference

    monkeypatch.setattr(syncing, "RETRY_DELAYS", ())  # a failed request ends the run's upload attempt
    server = ServerProcess(empty_database_url, tmp_path)
    app = server_app(empty_database_url, server.evidence_dir)
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
        ident, username = assignment.id, assignment.members[0].user.username
        capacity = assignment.venue.approved_capacity
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    server.start()
    try:
        home = tmp_path / "device"
        ok(home, "login", "--server", server.url, "--user", username, "--password-stdin", input=DEMO_PASSWORD + "\n")
        ok(home, "pull")
        ok(home, "reveal", ident, "--code", code)
        built = World()
        built.server, built.home, built.ident, built.capacity = server, home, ident, capacity
        yield built
    finally:
        server.stop()


# --- the server dies after its commit, before its answer -----------------------------------------


def test_server_killed_after_commit_before_answer_then_the_retry_makes_no_second_row(world, tmp_path):
    from server.field.models.inspection import Finding, Inspection, Observation, Penalty, Photo, SyncOperation

    home, server = world.home, world.server
    ok(home, "record", world.ident, "--set", f"k3_visitors={world.capacity // 2 + 1}")
    ((finding,),) = rows(home, "SELECT uuid FROM findings")
    photo = photo_file(tmp_path / "现场.jpg", 7)
    ok(home, "photo", world.ident, photo, "--finding", finding[:8])
    ok(home, "penalty", world.ident, "--finding", finding[:8], "--type", "fine", "--amount", "2000")
    ok(home, "submit", world.ident)
    outbox = dict(rows(home, "SELECT op_id, entity FROM outbox"))

    server.arm("crash-after-push-commit")
    output = sync(home, code=1)
    assert server.wait_exit() == 1  # it died, and by our hand
    assert not server.armed("crash-after-push-commit")
    assert f"{len(outbox)} 项操作仍待同步" in output
    assert rows(home, "SELECT DISTINCT state FROM outbox") == [("pending",)]
    assert rows(home, "SELECT COUNT(*) FROM photo_uploads WHERE uploaded_at IS NOT NULL") == [(0,)]

    # The server had committed the whole batch: these are the results it owes the device.
    committed = read_server(world, lambda db: {
        operation.op_id: (operation.id, dict(operation.result))
        for operation in db.session.scalars(sa.select(SyncOperation))})
    assert set(committed) == set(outbox)

    server.start()
    output = sync(home)
    assert f"成功 {len(outbox)} 项，失败 0 项" in output and "上传照片：1 张" in output and "同步完成" in output
    assert rows(home, "SELECT DISTINCT state FROM outbox") == [("done",)]
    for op_id, server_seq in rows(home, "SELECT op_id, server_seq FROM outbox"):
        assert server_seq == committed[op_id][0] == committed[op_id][1]["server_seq"]

    def counts(db):
        inspection = db.session.scalar(sa.select(Inspection))
        return {
            "sync_operations": db.session.scalar(sa.select(sa.func.count(SyncOperation.id))),
            "results": {op.op_id: dict(op.result) for op in db.session.scalars(sa.select(SyncOperation))},
            "inspections": db.session.scalar(sa.select(sa.func.count(Inspection.id))),
            "observations": db.session.scalar(sa.select(sa.func.count()).select_from(Observation)),
            "findings": db.session.scalar(sa.select(sa.func.count(Finding.id))),
            "photos": db.session.scalar(sa.select(sa.func.count(Photo.id))),
            "penalties": db.session.scalar(sa.select(sa.func.count(Penalty.id))),
            "status": inspection.status,
        }

    found = read_server(world, counts)
    assert found["sync_operations"] == len(outbox)
    assert found["results"] == {op_id: result for op_id, (_, result) in committed.items()}
    assert found["inspections"] == found["findings"] == found["photos"] == found["penalties"] == 1
    assert found["observations"] == list(outbox.values()).count("observation") == 1
    assert found["status"] == "complete"
    assert "没有需要同步的内容" in sync(home)


# --- ENOSPC on the server during an upload -------------------------------------------------------


def test_a_full_disk_during_an_upload_is_a_5xx_nothing_completes_and_a_retry_succeeds(world, tmp_path):
    from server.field.models.evidence import EvidenceFile, Upload
    from server.field.models.inspection import Inspection, Photo
    from server.field.uploads import upload_progress

    home, server = world.home, world.server
    photo = photo_file(tmp_path / "现场.jpg", 11)
    digest = hashlib.sha256(photo.read_bytes()).hexdigest()
    size = photo.stat().st_size
    chunks = -(-size // CHUNK)
    assert chunks >= 3
    ok(home, "photo", world.ident, photo)
    ok(home, "submit", world.ident)

    server.arm("enospc")
    output = sync(home, code=1)
    assert not server.armed("enospc")  # the fault fired
    assert server.process.poll() is None  # and the server lives on
    assert "1 张照片尚未上传" in output
    ((offset, uploaded_at, error),) = rows(home, "SELECT upload_offset, uploaded_at, last_error FROM photo_uploads")
    assert uploaded_at is None and offset == (chunks - 1) * CHUNK
    assert "HTTP 5" in error
    assert rows(home, "SELECT DISTINCT state FROM outbox") == [("done",)]
    assert rows(home, "SELECT server_status FROM inspections") != [("complete",)]

    def state(db):
        (upload,) = db.session.scalars(sa.select(Upload)).all()
        return {"offset": upload_progress(upload).offset, "completed": upload.completed_at,
                "evidence": db.session.scalar(sa.select(sa.func.count(EvidenceFile.id))),
                "received": [p.received_at for p in db.session.scalars(sa.select(Photo))],
                "inspection": db.session.scalar(sa.select(Inspection.status)),
                "part": (server.evidence_dir / upload.temp_path).stat().st_size}

    before = read_server(world, state)
    assert before["offset"] == (chunks - 1) * CHUNK and before["completed"] is None
    assert before["evidence"] == 0 and before["received"] == [None]
    assert before["inspection"] == "awaiting_evidence"
    assert before["part"] == before["offset"]  # the half-written bytes were dropped, not counted

    output = sync(home)
    assert "上传照片：1 张" in output and "同步完成" in output
    assert rows(home, "SELECT upload_offset, uploaded_at IS NOT NULL FROM photo_uploads") == [(size, 1)]
    assert rows(home, "SELECT server_status FROM inspections") == [("complete",)]

    def stored(db):
        evidence = db.session.scalar(sa.select(EvidenceFile).where(EvidenceFile.sha256 == digest))
        (upload,) = db.session.scalars(sa.select(Upload)).all()  # the same upload, resumed
        return (hashlib.sha256((server.evidence_dir / evidence.stored_path).read_bytes()).hexdigest(),
                upload.completed_at is not None, db.session.scalar(sa.select(Inspection.status)))

    assert read_server(world, stored) == (digest, True, "complete")


# --- the client dies in the middle of `photo` and of `record` ------------------------------------


def killed(world, tmp_path: Path, point: str, *args) -> None:
    """Run `anfang-field --home HOME ARGS` in its own process, SIGKILLed at `point`."""
    script = tmp_path / "dying_field.py"
    script.write_text(CLIENT_WRAPPER, encoding="utf-8")
    result = subprocess.run([sys.executable, str(script), point, "--home", str(world.home), *map(str, args)], check=False,
                            env=_environment(), capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert result.returncode == -9, (result.returncode, result.stdout, result.stderr)


def assert_consistent(home: Path) -> None:
    """Every local row has its one queued operation and every operation its row; every file under
    a final name is whole (its bytes hash to its name); every photo row's file is there and whole."""
    assert rows(home, "PRAGMA integrity_check") == [("ok",)]
    assert rows(home, "PRAGMA foreign_key_check") == []
    for table, entity in (("photos", "photo"), ("findings", "finding")):
        local = sorted(uuid for (uuid,) in rows(home, f"SELECT uuid FROM {table}"))
        queued = sorted(entity_id for (entity_id,) in rows(home, "SELECT entity_id FROM outbox WHERE entity = ?",
                                                           (entity,)))
        assert local == queued, (table, local, queued)
    observed = sorted(f"{inspection}/{item}" for inspection, item in
                      rows(home, "SELECT inspection_uuid, item_code FROM observations"))
    queued = sorted({entity_id for (entity_id,) in rows(home, "SELECT entity_id FROM outbox WHERE entity = 'observation'")})
    assert observed == queued
    for path in (home / "photos").iterdir():
        if not path.name.startswith(TEMPORARY_PREFIX):
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name.split(".")[0], path.name
    for sha256, filename, size in rows(home, "SELECT sha256, filename, size FROM photos"):
        data = (home / "photos" / filename).read_bytes()
        assert hashlib.sha256(data).hexdigest() == sha256 and len(data) == size


def leftovers_reported(home: Path) -> set[str]:
    """The names `status` reports as leftovers, once they are past the grace period."""
    names = set()
    for path in (home / "photos").iterdir():
        old = path.stat().st_mtime - 3600
        os.utime(path, (old, old))
    output = ok(home, "status")
    for path in (home / "photos").iterdir():
        if path.name in output:
            names.add(path.name)
    return names


@pytest.mark.parametrize("point", ["photo-mid-copy", "photo-after-rename", "photo-in-transaction"])
def test_client_killed_during_photo_leaves_a_consistent_store(world, tmp_path, point):
    home = world.home
    first, second = photo_file(tmp_path / "一.jpg", 21), photo_file(tmp_path / "二.jpg", 22)
    before = rows(home, "SELECT op_id FROM outbox ORDER BY seq")
    killed(world, tmp_path, point, "photo", world.ident, first, second)
    assert_consistent(home)
    stored = {name for (name,) in rows(home, "SELECT filename FROM photos")}
    files = {path.name for path in (home / "photos").iterdir()}
    temporary = {name for name in files if name.startswith(TEMPORARY_PREFIX)}
    first_name = hashlib.sha256(first.read_bytes()).hexdigest() + ".jpg"
    if point == "photo-mid-copy":
        # Killed while copying the first file: a partial temporary copy, nothing under a final name.
        assert stored == set() and len(temporary) == 1 and files == temporary
    elif point == "photo-after-rename":
        # The whole copy under its final name, no row: an orphan, whole.
        assert stored == set() and files == {first_name}
    else:
        # The first photo committed with its operation; the second one's transaction never was.
        assert stored == {first_name} and len(files) == 2 and not temporary
    assert rows(home, "SELECT op_id FROM outbox ORDER BY seq")[:len(before)] == before
    assert leftovers_reported(home) == files - stored  # the orphans, and only they

    ok(home, "photo", world.ident, first, second)
    assert_consistent(home)
    assert rows(home, "SELECT COUNT(*) FROM photos") == [(3 if point == "photo-in-transaction" else 2,)]
    leftovers = leftovers_reported(home)
    assert all(name.startswith(TEMPORARY_PREFIX) for name in leftovers)
    if leftovers:
        assert f"已删除 {len(leftovers)} 个" in ok(home, "status", "--clean")
        assert leftovers_reported(home) == set()


@pytest.mark.parametrize("point", ["record-in-transaction", "record-after-commit"])
def test_client_killed_during_record_leaves_it_whole_or_absent(world, tmp_path, point):
    home = world.home
    before = rows(home, "SELECT op_id FROM outbox ORDER BY seq")
    killed(world, tmp_path, point, "record", world.ident, "--set", f"k3_visitors={world.capacity // 2 + 1}")
    assert_consistent(home)
    observations = rows(home, "SELECT item_code, value FROM observations")
    findings = rows(home, "SELECT COUNT(*) FROM findings")[0][0]
    added = rows(home, "SELECT entity FROM outbox ORDER BY seq")[len(before):]
    if point == "record-in-transaction":
        assert observations == [] and findings == 0 and added == []
        ok(home, "record", world.ident, "--set", f"k3_visitors={world.capacity // 2 + 1}")
        assert_consistent(home)
        observations = rows(home, "SELECT item_code, value FROM observations")
        added = rows(home, "SELECT entity FROM outbox ORDER BY seq")[len(before):]
    assert observations == [("k3_visitors", str(world.capacity // 2 + 1))]
    assert rows(home, "SELECT COUNT(*) FROM findings") == [(1,)]
    assert added == [("observation",), ("finding",)]
    assert rows(home, "SELECT op_id FROM outbox ORDER BY seq")[:len(before)] == before
