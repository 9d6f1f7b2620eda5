"""Observability: request ids in headers, problems and logs; the access line; /healthz; /metrics."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import os
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from assignment_world import make_assignment, world  # noqa: F401  (fixtures)
from PIL import Image
from prometheus_client import REGISTRY

from server import create_app
from server.accounts.auth import issue_device_token
from server.columns import utcnow
from server.config import ConfigError
from server.extensions import db as _db
from server.extensions import limiter
from server.observability.health import FAIL, CheckResult, register_health_check
from server.observability.logging_setup import ACCESS_LOGGER, JsonFormatter, TextFormatter
from server.observability.request_id import incoming_request_id

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def plain_app(tmp_path):
    """An app of its own (routes may be added), on an empty in-memory SQLite database."""
    return create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://", EVIDENCE_DIR=str(tmp_path / "evidence"))


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def bearer(user) -> dict:
    raw, token = issue_device_token(user, "测试手机", channel="api")
    token.last_used_at = utcnow()  # so that requests do not write to the token row
    return {"Authorization": f"Bearer {raw}"}


# --- the request id -------------------------------------------------------------------------------


def test_every_answer_names_its_request_id_and_a_problem_carries_it(plain_app):
    client = plain_app.test_client()
    ok = client.get("/healthz")
    problem = client.get("/api/v1/does-not-exist")
    assert len(ok.headers["X-Request-ID"]) == 32
    assert problem.status_code == 404 and problem.mimetype == "application/problem+json"
    assert problem.json["request_id"] == problem.headers["X-Request-ID"] != ok.headers["X-Request-ID"]
    assert problem.json["title"] == "未找到"  # the Chinese problem answer is as it was


def test_a_sane_incoming_request_id_is_kept_and_a_bad_one_replaced(plain_app):
    client = plain_app.test_client()
    nginx_id = "0f3c5b7d9e1a2b4c6d8e0f1a3b5c7d9e"
    assert client.get("/healthz", headers={"X-Request-ID": nginx_id}).headers["X-Request-ID"] == nginx_id
    for bad in ("short", "x" * 129, "has space 12345", "quote\"1234567", "新的请求编号12345678", "-leading-dash"):
        answered = client.get("/api/v1/nope", headers={"X-Request-ID": bad})
        assert answered.headers["X-Request-ID"] != bad
        assert answered.json["request_id"] == answered.headers["X-Request-ID"]
        assert incoming_request_id(bad) is None


def test_log_records_of_a_request_carry_its_id(plain_app, caplog):
    @plain_app.get("/boom")
    def boom():
        logging.getLogger("server.somewhere").warning("something odd")
        raise RuntimeError("unexpected")

    client = plain_app.test_client()
    with caplog.at_level(logging.INFO):
        response = client.get("/boom", headers={"X-Request-ID": "trace-0001-abcd"})
    assert response.status_code == 500
    records = [record for record in caplog.records if record.name in ("server.somewhere", "server.errors",
                                                                      ACCESS_LOGGER)]
    assert {record.name for record in records} == {"server.somewhere", "server.errors", ACCESS_LOGGER}
    assert {record.request_id for record in records} == {"trace-0001-abcd"}
    # Outside a request (a CLI command, a job) records say so.
    assert logging.getLogRecordFactory()("x", logging.INFO, "f", 1, "m", (), None).request_id == "-"


# --- the access line ------------------------------------------------------------------------------


def test_the_access_line_has_no_query_values_and_no_token(client, db, make_user, caplog):
    user = make_user("inspector")
    headers = bearer(user)
    db.session.commit()
    token = headers["Authorization"].split()[1]
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        response = client.get(f"/api/v1/sync/pull?cursor=0&access_token={token}", headers=headers)
    assert response.status_code in (200, 422)
    lines = [record for record in caplog.records if record.name == ACCESS_LOGGER]
    assert len(lines) == 1
    line = lines[0]
    assert (line.method, line.path, line.status) == ("GET", "/api/v1/sync/pull", response.status_code)
    assert line.query_keys == ["access_token", "cursor"]
    assert line.user_id == user.id
    assert line.request_id == response.headers["X-Request-ID"]
    assert line.duration_ms >= 0
    for record in caplog.records:
        for text in (record.getMessage(), JsonFormatter().format(record), TextFormatter().format(record)):
            assert token not in text


def test_json_and_text_lines(plain_app):
    with plain_app.test_request_context("/x", headers={"X-Request-ID": "line-test-0001"}):
        record = logging.getLogger(ACCESS_LOGGER).makeRecord(
            ACCESS_LOGGER, logging.INFO, "f", 1, "GET %s", ("/x",), None, extra={"status": 200, "user_id": 7})
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "GET /x" and entry["request_id"] == "line-test-0001"
    assert entry["status"] == 200 and entry["user_id"] == 7
    assert entry["time"].endswith("+08:00")  # Beijing time, as everything a person reads
    assert "[line-test-0001] anfang.access: GET /x" in TextFormatter().format(record)


def test_an_unknown_log_format_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://", LOG_FORMAT="xml")


# --- /healthz ---------------------------------------------------------------------------------------


def test_healthz_on_the_suite_database(client):
    """Runs on SQLite and on PostgreSQL (the `app` fixture's backends)."""
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"status": "ok", "detail": "数据库连接正常。",
                                          "duration_ms": body["checks"]["database"]["duration_ms"]}
    assert body["checks"]["queue"]["status"] == "not_configured"
    assert "未配置" in body["checks"]["queue"]["detail"]
    assert body["checks"]["evidence_store"]["status"] == "ok"
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path, caplog):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/none",
                     EVIDENCE_DIR=str(tmp_path))
    with caplog.at_level(logging.WARNING):
        response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["status"] == "fail"
    assert response.json["checks"]["database"]["status"] == "fail"
    assert response.json["checks"]["database"]["detail"] == "数据库无法连接或查询失败。"
    assert response.json["checks"]["evidence_store"]["status"] == "ok"
    warning = next(record for record in caplog.records if "database unreachable" in record.getMessage())
    assert warning.request_id == response.headers["X-Request-ID"]
    assert "nobody" not in response.get_data(as_text=True)  # no address or user in the answer


def test_healthz_is_503_when_the_evidence_store_is_short_of_space(tmp_path):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://", EVIDENCE_DIR=str(tmp_path / "not-yet"),
                     HEALTH_MIN_FREE_BYTES=10 ** 18)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    check = response.json["checks"]["evidence_store"]
    assert check["status"] == "fail" and check["detail"].startswith("证据存储剩余空间不足")
    assert response.json["checks"]["database"]["status"] == "ok"


def test_a_queue_registers_its_own_check(plain_app):
    register_health_check(plain_app, "queue", lambda: CheckResult(FAIL, "任务队列无法连接。"))
    response = plain_app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"]["queue"]["detail"] == "任务队列无法连接。"


def test_a_check_that_breaks_is_a_failed_check_not_a_500(plain_app):
    register_health_check(plain_app, "queue", lambda: 1 / 0)
    response = plain_app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"]["queue"]["status"] == "fail"


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def test_healthz_checks_redis_when_configured(tmp_path):
    if not _redis_answers():
        # As for PostgreSQL: CI runs Redis, so there its absence is a failure, not a skip.
        if os.environ.get("CI") == "true":
            pytest.fail("Redis at 127.0.0.1:6379 does not answer")
        pytest.skip("Redis at 127.0.0.1:6379 does not answer")
    up = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://", EVIDENCE_DIR=str(tmp_path),
                    RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0")
    response = up.test_client().get("/healthz")
    assert response.status_code == 200, response.json
    assert response.json["checks"]["redis"] == {"status": "ok", "detail": "Redis 连接正常。",
                                                "duration_ms": response.json["checks"]["redis"]["duration_ms"]}
    # The job queue's Redis (REDIS_URL) is checked even when rate limits stay in memory.
    down = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://", EVIDENCE_DIR=str(tmp_path),
                      REDIS_URL="redis://127.0.0.1:1/0", HEALTH_CHECK_TIMEOUT_SECONDS=1)
    response = down.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.json["checks"]["redis"]["detail"] == "Redis 无法连接或未应答。"


def test_healthz_and_metrics_need_no_login_and_are_not_rate_limited(tmp_path):
    try:
        app = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://", EVIDENCE_DIR=str(tmp_path),
                         RATELIMIT_DEFAULT="2 per minute")
        client = app.test_client()
        limited = [client.get("/api/openapi.json") for _ in range(3)][-1]
        assert limited.status_code == 429
        # Refused by a before_request hook, the answer still names its request.
        assert limited.json["request_id"] == limited.headers["X-Request-ID"]
        assert [client.get("/healthz").status_code for _ in range(5)] == [200] * 5
        assert [client.get("/metrics").status_code for _ in range(5)] == [200] * 5
    finally:
        limiter.limit_manager.set_default_limits([])  # the limiter is shared by every app of the process


# --- /metrics ---------------------------------------------------------------------------------------


def test_metrics_count_requests_by_endpoint_and_status_class(plain_app):
    client = plain_app.test_client()
    before = sample("anfang_http_requests_total", endpoint="health.healthz", status_class="2xx")
    unmatched = sample("anfang_http_requests_total", endpoint="unmatched", status_class="4xx")
    client.get("/healthz")
    client.get("/no/such/page/1")
    text = client.get("/metrics").get_data(as_text=True)
    assert sample("anfang_http_requests_total", endpoint="health.healthz", status_class="2xx") == before + 1
    assert sample("anfang_http_requests_total", endpoint="unmatched", status_class="4xx") == unmatched + 1
    assert 'anfang_http_request_duration_seconds_bucket{endpoint="health.healthz",le="0.1",status_class="2xx"}' \
        in text
    assert "/no/such/page" not in text  # raw paths never become labels


@pytest.mark.parametrize(("remote", "networks", "allowed"), [
    ("127.0.0.1", "127.0.0.1/32,::1/128", True),
    ("::1", "127.0.0.1/32,::1/128", True),
    ("::ffff:127.0.0.1", "127.0.0.1/32,::1/128", True),
    ("10.1.2.3", "127.0.0.1/32,::1/128", False),
    ("10.1.2.3", "10.0.0.0/8", True),
    ("192.168.0.9", "10.0.0.0/8", False),
])
def test_metrics_are_for_the_monitoring_networks_only(plain_app, remote, networks, allowed):
    plain_app.config["METRICS_ALLOWED_NETWORKS"] = networks
    response = plain_app.test_client().get("/metrics", environ_base={"REMOTE_ADDR": remote})
    if allowed:
        assert response.status_code == 200
        assert response.content_type.startswith("text/plain")
        assert "anfang_http_requests_total" in response.get_data(as_text=True)
    else:
        assert response.status_code == 403
        assert response.mimetype == "application/problem+json"
        assert response.json["detail"] == "运行指标只对监控网络开放，当前地址无权访问。"
        assert response.json["request_id"] == response.headers["X-Request-ID"]


def test_metrics_behind_a_proxy_use_the_client_address(tmp_path):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://", EVIDENCE_DIR=str(tmp_path), PROXY_HOPS=1)
    client = app.test_client()
    forwarded = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert forwarded.status_code == 403  # the proxy itself is on loopback; the client is not


def _operation(entity: str, entity_id: str, payload: dict) -> dict:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return {"op_id": str(uuid.uuid4()), "entity": entity, "entity_id": entity_id, "payload": payload,
            "payload_sha256": hashlib.sha256(body).hexdigest()}


def _push(client, headers, operations):
    _db.session.commit()
    moment = datetime.now(UTC).isoformat(timespec="seconds")
    response = client.post("/api/v1/sync/push", headers=headers,
                           json={"device_id": str(uuid.uuid4()), "device_time": moment, "operations": operations})
    assert response.status_code == 200, response.get_data(as_text=True)
    return [result["status"] for result in response.json["results"]]


def test_metrics_count_sync_pushes_by_outcome_and_pulls(client, db, world, make_assignment):  # noqa: F811
    assignment = make_assignment("dispatched")
    headers = bearer(world.users["team_leader"])
    moment = datetime.now(UTC).isoformat(timespec="seconds")
    reveal = _operation("assignment_reveal", assignment.uuid, {
        "assignment_uuid": assignment.uuid, "how": "code", "revealed_at": moment, "device_time": moment})
    tampered = {**_operation("note", str(uuid.uuid4()), {"text": "x"}), "payload_sha256": "0" * 64}
    outcomes = ("accepted", "duplicate", "rejected")
    before = {outcome: sample("anfang_sync_operations_total", outcome=outcome) for outcome in outcomes}
    pushes, pulls = sample("anfang_sync_pushes_total"), sample("anfang_sync_pulls_total")

    assert _push(client, headers, [reveal, tampered]) == [200, 422]
    assert _push(client, headers, [reveal]) == [200]  # the phone did not hear the answer: a replay
    assert client.get("/api/v1/sync/pull?cursor=0", headers=headers).status_code == 200

    after = {outcome: sample("anfang_sync_operations_total", outcome=outcome) for outcome in outcomes}
    assert {outcome: after[outcome] - before[outcome] for outcome in outcomes} == {
        "accepted": 1, "duplicate": 1, "rejected": 1}
    assert sample("anfang_sync_pushes_total") == pushes + 2
    assert sample("anfang_sync_pulls_total") == pulls + 1
    text = client.get("/metrics").get_data(as_text=True)
    assert 'anfang_sync_operations_total{outcome="duplicate"}' in text
    assert 'anfang_http_requests_total{endpoint="sync.push",status_class="2xx"}' in text


def test_metrics_count_uploads(app, client, db, make_user, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(tmp_path / "evidence"))
    headers = {"Tus-Resumable": "1.0.0", **bearer(make_user("inspector"))}
    image = Image.frombytes("RGB", (48, 32), os.urandom(48 * 32 * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    data = buffer.getvalue()
    metadata = f"sha256 {base64.b64encode(hashlib.sha256(data).hexdigest().encode()).decode()}"
    counts = [sample(name) for name in ("anfang_upload_creations_total", "anfang_upload_bytes_total",
                                        "anfang_upload_completions_total")]
    db.session.commit()
    created = client.post("/api/v1/uploads/", headers={**headers, "Upload-Length": str(len(data)),
                                                       "Upload-Metadata": metadata})
    assert created.status_code == 201, created.get_data(as_text=True)
    patched = client.patch(created.headers["Location"], data=data, headers={
        **headers, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert patched.status_code == 204, patched.get_data(as_text=True)
    assert [sample(name) for name in ("anfang_upload_creations_total", "anfang_upload_bytes_total",
                                      "anfang_upload_completions_total")] == [
        counts[0] + 1, counts[1] + len(data), counts[2] + 1]


MULTIPROCESS_WORKER = """
import sys
from server import create_app
app = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://", EVIDENCE_DIR=sys.argv[1])
client = app.test_client()
assert client.get("/healthz").status_code == 200
if sys.argv[2] == "read":
    sys.stdout.write(client.get("/metrics").get_data(as_text=True))
"""


def test_metrics_add_up_the_worker_processes_in_multiprocess_mode(tmp_path):
    """Two processes (as two gunicorn workers) each answer a request; either one's /metrics counts both."""
    directory = tmp_path / "prometheus"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    for role in ("count", "read"):
        done = subprocess.run([sys.executable, "-c", MULTIPROCESS_WORKER, str(tmp_path), role], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert 'anfang_http_requests_total{endpoint="health.healthz",status_class="2xx"} 2.0' in done.stdout
    assert list(directory.glob("*.db")), "each process writes its values to the shared directory"
