"""`anfang-field` end to end: login, pull and online reveal against the real Flask app on loopback;
everything after the reveal with the server stopped."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from PIL import Image
from werkzeug.serving import make_server

from field_client.cli import main

DEMO_PASSWORD = "anfang-demo-2021"
BEIJING = timedelta(hours=8)


@dataclass
class Dispatched:
    id: int
    uuid: str
    code: str
    username: str
    capacity: int
    open_now: bool


class LiveServer:
    """The app served by werkzeug in a thread on 127.0.0.1; `stop()` makes the network go away."""

    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join()
            self.server.server_close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A fresh server database: migrations, reference data, demo registry, two dispatched museum
    assignments (rule K3 applies to museums) whose windows are open now."""
    from flask_migrate import upgrade

    from server import create_app
    from server.accounts.models.user import User
    from server.columns import utcnow
    from server.demo.registry import seed_demo
    from server.draws.assignments import dispatch
    from server.draws.creation import create_draw
    from server.draws.seeding import contribute
    from server.extensions import db
    from server.registry.loader import load_reference

    directory = tmp_path_factory.mktemp("field-server")
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{directory / 'server.sqlite3'}",
                     EVIDENCE_DIR=str(directory / "evidence"))
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
        load_reference()
        seed_demo()
        office = db.session.scalar(sa.select(User).where(User.username == "office"))
        # Open now and inside one Beijing day, so that both assignments' windows are open: the
        # clients reveal offline only inside the window.
        now = utcnow()
        day_start = datetime.combine((now + BEIJING).date(), time(), tzinfo=UTC) - BEIJING
        start = max(now - timedelta(minutes=30), day_start + timedelta(minutes=1))
        end = min(now + timedelta(hours=1), day_start + timedelta(days=1) - timedelta(minutes=1))
        draw = create_draw(office, counties=["yiwu", "dongyang", "wucheng"], categories=["museum"], sample_size=2,
                           window_start=start, window_end=end)
        contribute(draw, db.session.scalar(sa.select(User).where(User.username == "auditor")),
                   "5b8e2c1f9a7d4e3b6c0a1f2e3d4c5b6a", channel="cli")
        dispatched = []
        for assignment in draw.assignments:
            code = dispatch(assignment, office, channel="api")
            dispatched.append(Dispatched(assignment.id, assignment.uuid, code, assignment.members[0].user.username,
                                         assignment.venue.approved_capacity,
                                         assignment.window_start.replace(tzinfo=None) <= utcnow().replace(tzinfo=None)))
        # The online reveal needs an open window; the offline one takes the other assignment.
        dispatched.sort(key=lambda item: not item.open_now)
        db.session.commit()
        db.session.remove()
    server = LiveServer(app)
    try:
        yield server, dispatched
    finally:
        server.stop()
        with app.app_context():
            db.engine.dispose()


def run(home: Path, *args, input=None):
    return CliRunner().invoke(main, ["--home", str(home), *map(str, args)], input=input)


def ok(home: Path, *args, input=None):
    result = run(home, *args, input=input)
    assert result.exit_code == 0, result.output
    return result.output


def refused(home: Path, *args, input=None) -> str:
    result = run(home, *args, input=input)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.output.startswith("错误："), result.output
    return result.output


def rows(home: Path, sql: str, params=()):
    connection = sqlite3.connect(home / "field.sqlite3")
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def outbox_entities(home: Path) -> list[str]:
    return [entity for (entity,) in rows(home, "SELECT entity FROM outbox ORDER BY seq")]


def login_and_pull(home: Path, url: str, username: str) -> None:
    ok(home, "login", "--server", url, "--user", username, "--password-stdin", input=DEMO_PASSWORD + "\n")
    assert "已下载" in ok(home, "pull")


def jpeg(path: Path, color=(200, 30, 30)) -> Path:
    Image.new("RGB", (64, 48), color).save(path, "JPEG", quality=90)
    return path


def test_online_reveal_uses_the_server_key(world, tmp_path):
    server, dispatched = world
    assignment = dispatched[0]
    home = tmp_path / "device"
    login_and_pull(home, server.url, assignment.username)
    assert "已揭封并签到" in ok(home, "reveal", assignment.id)
    ((how,),) = rows(home, "SELECT revealed_how FROM assignments WHERE id = ?", (assignment.id,))
    assert how == "online"


def test_offline_reveal_before_the_window_is_refused_in_one_line(world, tmp_path):
    """The issue's attack: an envelope opened offline hours before its window. The CLI refuses it
    by the device's clock, says the window in Beijing time, and queues nothing."""
    from server.accounts.models.user import User
    from server.columns import utcnow
    from server.draws.assignments import dispatch
    from server.draws.creation import create_draw
    from server.draws.seeding import contribute
    from server.extensions import db

    server, _ = world
    with server.app.app_context():
        office = db.session.scalar(sa.select(User).where(User.username == "office"))
        start = utcnow() + timedelta(hours=2)
        draw = create_draw(office, counties=["yiwu", "dongyang", "wucheng"], categories=["museum"], sample_size=1,
                           window_start=start, window_end=start + timedelta(hours=1))
        contribute(draw, db.session.scalar(sa.select(User).where(User.username == "auditor")),
                   "0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f", channel="cli")
        (assignment,) = draw.assignments
        code = dispatch(assignment, office, channel="api")
        ident, username = assignment.id, assignment.members[0].user.username
        db.session.commit()
        db.session.remove()
    home = tmp_path / "device"
    login_and_pull(home, server.url, username)
    assert rows(home, "SELECT value FROM config WHERE key = 'reveal_clock_tolerance_s'") == [("600",)]

    result = run(home, "reveal", ident, "--code", code)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"错误：任务 {ident} 的时间窗口尚未开始，不能离线揭封：时间窗口为 ")
    assert "（北京时间）" in lines[0]
    assert outbox_entities(home) == []
    assert rows(home, "SELECT target FROM assignments WHERE id = ?", (ident,)) == [(None,)]


def test_wrong_password_and_unreachable_server_are_one_line_errors(world, tmp_path):
    server, dispatched = world
    home = tmp_path / "device"
    output = refused(home, "login", "--server", server.url, "--user", dispatched[0].username,
                     "--password-stdin", input="wrong\n")
    assert "401" in output
    assert not (home / "token").exists()
    assert "无法连接服务器" in refused(home, "login", "--server", "http://127.0.0.1:9", "--user", "x",
                                       "--password-stdin", input="pw\n")
    assert "尚未登录" in refused(home, "pull")
    assert "服务器地址不正确" in refused(home, "login", "--server", "ftp://x", "--user", "x", "--password-stdin",
                                         input="pw\n")


class CaptivePortal:
    """Any request gets a 200 HTML login page, as hotel Wi-Fi answers."""

    def __init__(self):
        def portal(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [b"<html><body>Please log in to the Wi-Fi</body></html>"]

        self.live = LiveServer(portal)


def test_captive_portal_answer_on_pull_stores_nothing(tmp_path):
    portal = CaptivePortal()
    home = tmp_path / "device"
    try:
        assert "不是 JSON" in refused(home, "login", "--server", portal.live.url, "--user", "x", "--password-stdin",
                                      input="pw\n")
        assert not (home / "token").exists()
        # A device that logged in earlier, now behind the portal.
        from field_client.store import Store

        with Store(home) as store:
            store.save_token("earlier-token")
            store.set_config({"server_url": portal.live.url})
        assert "不是 JSON" in refused(home, "pull")
    finally:
        portal.live.stop()
    assert rows(home, "SELECT COUNT(*) FROM assignments") == [(0,)]
    assert rows(home, "SELECT COUNT(*) FROM rules") == [(0,)]
    assert rows(home, "SELECT COUNT(*) FROM outbox") == [(0,)]


def test_status_reports_and_cleans_orphan_photo_files(tmp_path):
    home = tmp_path / "device"
    ok(home, "status")
    orphan = home / "photos" / ("0" * 64 + ".jpg")
    orphan.write_bytes(b"left by a crash")
    old = orphan.stat().st_mtime - 3600
    os.utime(orphan, (old, old))
    assert orphan.name in ok(home, "status")
    assert "已删除 1 个" in ok(home, "status", "--clean")
    assert not orphan.exists()


def test_commands_need_a_pulled_assignment(tmp_path):
    home = tmp_path / "device"
    assert "pull" in refused(home, "show", "12")
    assert "pull" in refused(home, "record", "abc", "--set", "x=1")
    assert "--lat 和 --lon" in refused(home, "reveal", "1", "--code", "x", "--lat", "1")


# Last in the module: it stops the shared server.
def test_offline_inspection_from_pull_to_amendment(world, tmp_path):
    server, dispatched = world
    assignment = dispatched[1]
    assert assignment.capacity
    home = tmp_path / "device"

    ok(home, "login", "--server", server.url, "--user", assignment.username, "--password-stdin",
       input=DEMO_PASSWORD + "\n")
    token_file = home / "token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "field.sqlite3").stat().st_mode) == 0o600
    assert len(token_file.read_text()) > 20

    assert "已下载" in ok(home, "pull")
    ((envelope, target),) = rows(home, "SELECT envelope, target FROM assignments WHERE id = ?", (assignment.id,))
    assert json.loads(envelope)["format"] == "anfang.envelope" and target is None
    (bundle,) = rows(home, "SELECT bundle FROM rules")[0]
    assert "K3" in {rule["code"] for rule in json.loads(bundle)}
    assert outbox_entities(home) == []  # pulled server data is not a change to push

    listing = ok(home, "list")
    assert str(assignment.id) in listing
    before = ok(home, "show", assignment.uuid[:8])
    assert "未揭封" in before

    # Everything from here on works with no network at all.
    server.stop()
    assert "错误" in refused(home, "reveal", assignment.id, "--code", "00000-00000")
    output = ok(home, "reveal", assignment.id, "--code", assignment.code.lower(), "--lat", "29.1", "--lon", "119.6")
    assert "已揭封并签到" in output
    assert "地址" in ok(home, "show", assignment.id)
    assert outbox_entities(home) == ["assignment_reveal", "inspection"]
    refused(home, "reveal", assignment.id, "--code", assignment.code)

    capacity = assignment.capacity
    half = capacity // 2
    output = ok(home, "record", assignment.id, "--set", f"k3_visitors={half}")
    assert "未发现违规" in output
    output = ok(home, "record", assignment.id, "--set", f"k3_visitors={half + 1}")
    assert "违规" in output and "K3" in output
    ((finding_uuid, rule_code, check_code),) = rows(
        home, "SELECT uuid, rule_code, check_code FROM findings WHERE withdrawn_at IS NULL")
    assert (rule_code, check_code) == ("K3", "k3_visitors_within_half_capacity")
    refused(home, "record", assignment.id, "--set", "k3_visitors=很多")
    refused(home, "record", assignment.id, "--set", "no_such_item=1")

    first, second = jpeg(tmp_path / "a.jpg"), jpeg(tmp_path / "b.jpg", (10, 90, 200))
    ok(home, "photo", assignment.id, first, second, "--finding", finding_uuid[:8], "--caption", "入口人流")
    stored = rows(home, "SELECT sha256, filename, finding_uuid FROM photos ORDER BY original_name")
    for source, (sha256, filename, linked) in zip((first, second), stored):
        assert sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
        assert (home / "photos" / filename).read_bytes() == source.read_bytes()
        assert linked == finding_uuid
    text = tmp_path / "notes.jpg"
    text.write_text("这不是图片")
    assert "不是可识别的图片" in refused(home, "photo", assignment.id, text)

    assert "罚款须" in refused(home, "penalty", assignment.id, "--finding", finding_uuid[:8], "--type", "fine")
    ok(home, "penalty", assignment.id, "--finding", finding_uuid[:8], "--type", "fine", "--amount", "2000",
       "--basis", "LB-01")
    ok(home, "note", assignment.id, "--negative", "入口未限流，排队人员密集")
    ok(home, "submit", assignment.id)

    for args in (("record", assignment.id, "--set", "k3_visitors=1"), ("photo", assignment.id, first),
                 ("penalty", assignment.id, "--finding", finding_uuid[:8], "--type", "warning"),
                 ("note", assignment.id, "--positive", "好")):
        assert "amend" in refused(home, *args)

    ok(home, "amend", assignment.id, "--reason", "复核人数有误", "--set", f"k3_visitors={half + 2}")
    ok(home, "amend", assignment.id, "--reason", "补充说明")
    assert rows(home, "SELECT COUNT(*) FROM amendments") == [(2,)]
    with pytest.raises(sqlite3.IntegrityError):
        rows(home, "DELETE FROM amendments")

    assert outbox_entities(home) == [
        "assignment_reveal", "inspection", "observation", "observation", "finding", "photo", "photo", "penalty",
        "note", "inspection_submission", "amendment", "amendment"]
    status = ok(home, "status")
    assert "待同步操作：12 项" in status
