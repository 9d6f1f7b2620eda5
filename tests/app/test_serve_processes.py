"""`anfang serve`: what production refuses, and four worker processes on PostgreSQL and Redis.

The soak: a fresh PostgreSQL database, migrated and seeded with the demo, served by `anfang serve
--workers 4` (a real subprocess); devices push their records at once (each batch also replayed
from a second connection, as a phone does when an answer is lost) and upload their photos with
tuspy in small chunks, so consecutive requests of one upload land on different processes; two
clients PATCH one upload at the same moment; an upload cut off mid-chunk is resumed. Afterwards the
database holds every record once, every photo's bytes hash to their name, every inspection is
complete and `anfang audit verify` passes. The login limit is counted in Redis, across processes.
The server, its database and the devices come from tests/serve_soak.py.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import re
import socket
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from serve_soak import (
    ANFANG,
    CHUNK,
    DEVICES,
    PHOTOS_PER_DEVICE,
    REDIS_URL,
    SECRET,
    device_run,
    environment,
    free_port,
    jpeg,
    require_services,
    serving,
    tus,
)

from server import create_app
from server.config import ConfigError


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("settings, workers, words", [
    ({"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none", "RATELIMIT_STORAGE_URI": REDIS_URL},
     2, "SECRET_KEY"),
    ({"SECRET_KEY": SECRET, "DATABASE_URL": "sqlite:///{tmp}/p.sqlite3"}, 1, "SQLite"),
    ({"SECRET_KEY": SECRET, "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}, 2,
     "RATELIMIT_STORAGE_URI"),
], ids=["no-secret", "sqlite", "memory-rate-limits"])
def test_production_refuses_to_start_in_one_chinese_line(settings, workers, words, tmp_path):
    settings = {key: value.format(tmp=tmp_path) for key, value in settings.items()}
    done = subprocess.run([str(ANFANG), "serve", "--workers", str(workers), "--bind", f"127.0.0.1:{free_port()}"],
                          env=environment(**settings), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("错误："), done.stderr
    assert words in lines[0] and re.search(r"[\u4e00-\u9fff]{4}", lines[0])
    assert "Traceback" not in done.stdout + done.stderr


def test_sqlite_when_allowed_runs_one_process(tmp_path):
    port = free_port()
    process = subprocess.Popen(
        [str(ANFANG), "serve", "--workers", "3", "--bind", f"127.0.0.1:{port}"],
        env=environment(SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{tmp_path / 'one.sqlite3'}",
                         ALLOW_SQLITE_SINGLE_PROCESS="1", EVIDENCE_DIR=tmp_path / "evidence"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "1 个进程" in process.stdout.readline() + process.stdout.readline()
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_the_factory_refuses_per_process_state_for_several_processes(tmp_path):
    database = f"sqlite:///{tmp_path / 'p.sqlite3'}"
    with pytest.raises(ConfigError, match="RATELIMIT_STORAGE_URI"):
        create_app("production", SECRET_KEY=SECRET, SQLALCHEMY_DATABASE_URI="postgresql+psycopg://x/y",
                   SERVER_PROCESSES=4, RATELIMIT_STORAGE_URI="memory://")
    with pytest.raises(ConfigError, match="SQLite"):
        create_app("production", SECRET_KEY=SECRET, SQLALCHEMY_DATABASE_URI=database, SERVER_PROCESSES=2,
                   ALLOW_SQLITE_SINGLE_PROCESS=True, RATELIMIT_STORAGE_URI=REDIS_URL)
    app = create_app("production", SECRET_KEY=SECRET, SQLALCHEMY_DATABASE_URI="postgresql+psycopg://x/y",
                     SERVER_PROCESSES=4, RATELIMIT_STORAGE_URI=REDIS_URL, PROXY_HOPS=1)
    assert type(app.wsgi_app).__name__ == "ProxyFix"


def test_proxy_headers_count_only_behind_a_configured_proxy(tmp_path):
    def remote_address(hops: int) -> str:
        app = create_app("testing", PROXY_HOPS=hops)
        seen = {}

        @app.get("/_address")
        def _address():
            from flask import request

            seen["address"], seen["scheme"] = request.remote_addr, request.scheme
            return ""

        app.test_client().get("/_address", headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"})
        return f"{seen['address']} {seen['scheme']}"

    assert remote_address(0) == "127.0.0.1 http"
    assert remote_address(1) == "203.0.113.9 https"


# --- four processes on PostgreSQL and Redis ------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    require_services()
    with serving(tmp_path_factory.mktemp("serve")) as site:
        yield site


def _create_upload(base: str, token: str, data: bytes) -> str:
    response = requests.post(base + "/api/v1/uploads/", timeout=30, headers={
        "Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)),
        "Upload-Metadata": "sha256 " + base64.b64encode(hashlib.sha256(data).hexdigest().encode()).decode()})
    assert response.status_code == 201, response.text
    return urljoin(base + "/api/v1/uploads/", response.headers["Location"])


def _patch_headers(token: str, offset: int = 0) -> dict:
    return {"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream"}


def _slow_patch(base: str, location: str, token: str, data: bytes, pause: float, *, cut: bool = False) -> int | None:
    """PATCH the whole body, holding the second half back for `pause` seconds; with `cut` the
    connection closes instead (a phone losing its signal mid-chunk)."""
    port = int(base.rsplit(":", 1)[1])
    path = urlsplit(location).path
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.putrequest("PATCH", path)
    for header, value in {**_patch_headers(token), "Content-Length": str(len(data))}.items():
        connection.putheader(header, value)
    connection.endheaders()
    connection.send(data[: len(data) // 2])
    time.sleep(pause)
    if cut:
        connection.sock.shutdown(socket.SHUT_RDWR)
        connection.close()
        return None
    try:
        connection.send(data[len(data) // 2:])
    except OSError:  # answered (409) before the body was all read, and closed
        pass
    status = connection.getresponse().status
    connection.close()
    return status


def _same_upload_twice(base: str, token: str) -> str:
    """Two clients PATCH one upload at once: one writer at a time, whichever processes they reach.
    Usually the slow one holds the upload and the other is refused (423); on a busy machine the
    other may come first and the slow one meets a complete upload (409). Never both."""
    data = jpeg()
    location = _create_upload(base, token, data)
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(_slow_patch, base, location, token, data, 1.0)
        time.sleep(0.4)
        other = requests.patch(location, data=data, headers=_patch_headers(token), timeout=30).status_code
        statuses = sorted([slow.result(), other])
    assert statuses in ([204, 409], [204, 423]), statuses
    head = requests.head(location, headers={"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"}, timeout=30)
    assert int(head.headers["Upload-Offset"]) == len(data)
    return hashlib.sha256(data).hexdigest()


def _resumed(base: str, token: str) -> str:
    """An upload stopped after some chunks and another cut off mid-chunk, both resumed by a new
    tuspy client from the server's offset (HEAD), on whichever process answers."""
    data = jpeg()
    assert len(data) > 2 * CHUNK
    first = tus(base, token, data)
    first.upload(stop_at=CHUNK)  # tuspy sends empty chunks forever when stop_at passes the end
    tus(base, token, data, url=first.url).upload()
    assert requests.head(first.url, headers={"Authorization": f"Bearer {token}", "Tus-Resumable": "1.0.0"},
                         timeout=30).headers["Upload-Offset"] == str(len(data))
    cut = jpeg()
    location = _create_upload(base, token, cut)
    _slow_patch(base, location, token, cut, 0.3, cut=True)
    tus(base, token, cut, url=location).upload()
    return [hashlib.sha256(data).hexdigest(), hashlib.sha256(cut).hexdigest()]


def test_four_workers_on_postgresql_lose_and_duplicate_nothing(served):
    base = served.url
    before_events = served.scalar("SELECT count(*) FROM audit_event")
    started = time.monotonic()
    with ThreadPoolExecutor(DEVICES + 2) as pool:
        runs = [pool.submit(device_run, base, device) for device in served.devices]
        races = [pool.submit(_same_upload_twice, base, served.devices[number]["token"]) for number in range(3)]
        resumed = pool.submit(_resumed, base, served.devices[0]["token"])
        results = [run.result(timeout=120) for run in runs]
        raced = [race.result(timeout=120) for race in races]
        resumed_sha = resumed.result(timeout=120)
    elapsed = time.monotonic() - started

    ops = [op for result in results for op in result["ops"]]
    assert served.scalar("SELECT count(*) FROM sync_operation WHERE op_id = ANY(:ops)", ops=ops) == len(ops)
    assert served.scalar("SELECT count(DISTINCT op_id) FROM sync_operation WHERE device_id = ANY(:devices)",
                         devices=[result["device_id"] for result in results]) == len(ops)
    uuids = [device["assignment_uuid"] for device in served.devices]
    inspections = served.rows("SELECT i.status FROM inspection i JOIN assignment a ON a.id = i.assignment_id "
                              "WHERE a.uuid = ANY(:uuids)", uuids=uuids)
    # Every record once, and complete: each of its photos arrived, whichever process took it.
    assert sorted(row.status for row in inspections) == ["complete"] * DEVICES
    for table in ("finding", "example_note", "photo"):
        count = served.scalar(f"SELECT count(*) FROM {table} t JOIN inspection i ON i.id = t.inspection_id "
                              "JOIN assignment a ON a.id = i.assignment_id WHERE a.uuid = ANY(:uuids)", uuids=uuids)
        assert count == DEVICES * (PHOTOS_PER_DEVICE if table == "photo" else 1), table

    expected = {sha for result in results for sha in result["sha256"]} | set(raced) | set(resumed_sha)
    stored = served.rows("SELECT sha256, stored_path FROM evidence_file WHERE sha256 = ANY(:shas)", shas=list(expected))
    assert len(stored) == len(expected) == DEVICES * PHOTOS_PER_DEVICE + 3 + 2
    for sha256, stored_path in stored:
        assert hashlib.sha256((served.evidence / stored_path).read_bytes()).hexdigest() == sha256
    assert served.scalar("SELECT count(*) FROM evidence_file") == served.scalar(
        "SELECT count(DISTINCT sha256) FROM evidence_file")
    assert served.scalar("SELECT count(*) FROM audit_event") > before_events

    verified = subprocess.run([str(ANFANG), "audit", "verify"], env=served.environment, capture_output=True,
                              text=True, timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "审计链完整" in verified.stdout

    # The requests really were spread over the worker processes.
    workers = set(re.findall(r"Booting worker with pid: (\d+)", served.log.read_text()))
    assert len(workers) == 4
    assert elapsed < 60, f"the soak took {elapsed:.1f} s"


def test_the_login_limit_is_counted_in_redis_across_processes_on_postgresql(served):
    """Failed logins from one address, each on a new connection (any worker): the limit holds
    after ten, because the count is in Redis; the proxy's X-Forwarded-For names the address."""
    def attempt(address: str) -> int:
        return requests.post(served.url + "/api/v1/auth/tokens", timeout=30, headers={"X-Forwarded-For": address},
                             json={"username": f"nobody-{uuid.uuid4().hex[:6]}", "password": "wrong password",
                                   "label": "测试"}).status_code

    statuses = [attempt("203.0.113.7") for _ in range(11)]
    assert statuses == [401] * 10 + [429], statuses
    assert attempt("203.0.113.8") == 401  # another address has its own budget


def test_a_web_session_holds_on_every_process_on_postgresql(served):
    """A signed session cookie: signed in through one process, recognised by all (new connections)."""
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.20"}
    page = requests.get(served.url + "/login", headers=https, timeout=30)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text) or re.search(
        r'name="csrf_token" value="([^"]+)"', page.text)
    cookie = page.headers["Set-Cookie"].split(";", 1)[0]
    # Over HTTPS the CSRF check also wants a same-origin Referer, as a browser sends it.
    referer = "https://" + served.url.split("://", 1)[1] + "/login"
    signed_in = requests.post(served.url + "/login", allow_redirects=False, timeout=30,
                              headers={**https, "Cookie": cookie, "Referer": referer},
                              data={"csrf_token": token.group(1), "username": "office", "password": "anfang-demo-2021"})
    assert signed_in.status_code == 302, signed_in.text
    cookie = signed_in.headers["Set-Cookie"].split(";", 1)[0]
    for _ in range(8):
        home = requests.get(served.url + "/", allow_redirects=False, timeout=30, headers={**https, "Cookie": cookie})
        assert home.status_code == 200, home.headers.get("Location")
