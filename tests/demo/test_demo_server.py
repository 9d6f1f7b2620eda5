"""`anfang demo run` from an empty database: migrates, seeds, prints logins, serves on the port asked."""

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from openapi_spec_validator import validate

ANFANG = Path(sys.executable).with_name("anfang")
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def demo_server(empty_database_url, tmp_path):
    port = _free_port()
    log = tmp_path / "demo.log"
    environment = dict(os.environ, DATABASE_URL=empty_database_url, ANFANG_CONFIG="development",
                       EVIDENCE_DIR=str(tmp_path / "evidence"), COLUMNS="200",
                       DOCUMENT_SIGNING_DIR=str(tmp_path / "signing"))
    with log.open("w") as output:
        process = subprocess.Popen([str(ANFANG), "demo", "run", "--port", str(port)], env=environment,
                                   stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "demo server did not answer /healthz: " + log.read_text()
            time.sleep(0.5)
        yield base, log, tmp_path / "signing"
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_demo_serves_health_openapi_and_printed_login(demo_server):
    base, log, signing_dir = demo_server
    with urllib.request.urlopen(base + "/api/openapi.json") as response:
        import json

        validate(json.load(response))

    printed = log.read_text()
    password = re.search(r"密码均为 (\S+?)）", printed).group(1)
    assert re.search(r"\boffice\b", printed)

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    body = urllib.parse.urlencode({"csrf_token": token, "username": "office", "password": password}).encode()
    landing = opener.open(base + "/login", data=body)
    page = landing.read().decode()
    assert landing.status == 200
    assert "退出" in page and "领导小组办公室" in page
    # The demo's local CA and one key per issuing organ, private to the server's user.
    assert "电子签章：已在" in printed
    for organ in ("金华市公安局", "金市疫情防指办"):  # seal names: the office seals in its short form
        assert (signing_dir / f"{organ}.key.pem").stat().st_mode & 0o777 == 0o600
        assert (signing_dir / f"{organ}.cert.pem").exists()
    assert (signing_dir / "trust-roots.pem").exists()


def test_make_demo_honours_port():
    result = subprocess.run(["make", "-n", "demo", "PORT=5077"], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "--port 5077" in result.stdout
