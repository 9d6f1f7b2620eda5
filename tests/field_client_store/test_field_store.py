"""The field client's local store and photo capture, with no server: durability settings, one
transaction per change and its outbox operation, the token file, crash-safe photo copies."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

import sealing
from field_client import fieldwork, photos
from field_client.cli import main
from field_client.store import (
    SCHEMA_VERSION,
    Store,
    StoreError,
    canonical_json,
    resolve_home,
)

ASSIGNMENT_UUID = "5b0c3a52-0d1e-4b53-9a51-1f6a4c1f0e01"
CODE = "7KQ2M-XW9PA"
TARGET = {"venue_id": 7, "name": "测试博物馆", "category": "博物馆", "category_code": "museum", "county": "义乌市",
          "county_code": "yiwu", "address": "测试路1号", "approved_capacity": 800}
# The rule as the server's reference API serves it (server/reference/rules.yaml, K3).
K3 = {
    "code": "K3", "section": "三.3", "title": "景区、文化场馆、体育馆接待人数不超过核定人数的50%",
    "categories": ["museum", "theatre"],
    "items": [{"code": "k3_visitors", "prompt": "现场接待人数（人）", "value_type": "integer", "choices": None,
               "required": True}],
    "checks": [{"code": "k3_visitors_within_half_capacity", "description": "接待人数不超过核定人数的50%",
                "applies_when": None,
                "expression": {"<=": [{"var": "obs.k3_visitors"},
                                      {"*": [{"var": "venue.approved_capacity"}, "1/2"]}]}}],
}
OTHER = {"code": "K5", "categories": ["restaurant"], "items": [], "checks": []}


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "home") as opened:
        yield opened


def pulled(store: Store, *, may_propose_penalties: bool = True) -> None:
    envelope = sealing.seal(TARGET, b"k" * 32, CODE, ASSIGNMENT_UUID, scrypt_n=2**10)
    fieldwork.store_pull(store, [{"id": 41, "uuid": ASSIGNMENT_UUID, "status": "dispatched", "draw_id": 3,
                                  "window_start": "2026-11-28T01:00:00+00:00", "meeting_point": "北门",
                                  "may_propose_penalties": may_propose_penalties,
                                  "members": [{"username": "inspector01", "display_name": "甲", "is_leader": True}],
                                  "envelope": envelope}],
                         [K3, OTHER], "v1")


def run(home: Path, *args, input=None):
    result = CliRunner().invoke(main, ["--home", str(home), *map(str, args)], input=input)
    return result


def count(store: Store, table: str) -> int:
    return store.query_one(f"SELECT COUNT(*) FROM {table}")[0]


def test_durability_settings_and_schema_version(store):
    assert store.query_one("PRAGMA journal_mode")[0] == "wal"
    assert store.query_one("PRAGMA synchronous")[0] == 2  # FULL
    assert store.query_one("PRAGMA foreign_keys")[0] == 1
    assert store.query_one("PRAGMA user_version")[0] == SCHEMA_VERSION
    assert stat.S_IMODE((store.home / "field.sqlite3").stat().st_mode) == 0o600


def test_reopening_keeps_data_and_a_newer_schema_is_refused(tmp_path):
    home = tmp_path / "home"
    with Store(home) as store:
        store.set_config({"server_url": "http://x"})
    with Store(home) as store:
        assert store.get_config("server_url") == "http://x"
        store.connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="升级"):
        Store(home)


def test_home_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("ANFANG_FIELD_HOME", str(tmp_path / "env"))
    assert resolve_home(None) == tmp_path / "env"
    assert resolve_home(tmp_path / "opt") == tmp_path / "opt"
    monkeypatch.delenv("ANFANG_FIELD_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resolve_home(None) == tmp_path / "xdg" / "anfang-field"


def test_a_change_and_its_operation_commit_together(store):
    pulled(store)
    assignment = fieldwork.find_assignment(store, "41")
    fieldwork.reveal(store, assignment, TARGET, how="code", latitude=None, longitude=None)
    inspection = fieldwork.inspection_of(store, assignment)
    note_uuid = fieldwork.add_note(store, inspection, "positive", "入口测温、扫码规范")
    (operation,) = store.query("SELECT * FROM outbox WHERE entity_id = ?", (note_uuid,))
    assert operation["entity"] == "note" and operation["state"] == "pending"
    assert operation["payload"].encode("utf-8") == canonical_json(json.loads(operation["payload"]))
    assert operation["payload_sha256"] == hashlib.sha256(operation["payload"].encode("utf-8")).hexdigest()
    assert " " not in operation["payload"].replace("入口测温、扫码规范", "")


def test_a_failure_mid_transaction_leaves_neither_row_nor_operation(store):
    pulled(store)
    assignment = fieldwork.find_assignment(store, "41")
    fieldwork.reveal(store, assignment, TARGET, how="code", latitude=None, longitude=None)
    inspection = fieldwork.inspection_of(store, assignment)
    notes, operations = count(store, "notes"), count(store, "outbox")
    # The row is written, then queuing its operation fails (a payload JSON cannot carry).
    with pytest.raises(TypeError), store.change() as tx:
        tx.insert("notes", {"uuid": "n-1", "inspection_uuid": inspection["uuid"], "kind": "negative",
                            "text": "x", "created_at": "2026-11-28T00:00:00+00:00"},
                  entity="note", entity_id="n-1", payload={"bad": {1, 2}})
    assert (count(store, "notes"), count(store, "outbox")) == (notes, operations)


def test_every_verb_queues_exactly_one_operation_per_change(store):
    pulled(store)
    assignment = fieldwork.find_assignment(store, ASSIGNMENT_UUID[:6])
    fieldwork.reveal(store, assignment, TARGET, how="code", latitude=29.1, longitude=119.6)
    assert count(store, "outbox") == 2  # the reveal and the inspection
    inspection = fieldwork.inspection_of(store, assignment)
    venue = fieldwork.venue_facts(TARGET)
    rules = fieldwork.rules_for(store, TARGET)
    assert [rule["code"] for rule in rules] == ["K3"]

    fieldwork.record(store, inspection, rules, venue, {"k3_visitors": 400})
    assert count(store, "findings") == 0 and count(store, "outbox") == 3
    fieldwork.record(store, inspection, rules, venue, {"k3_visitors": 401})
    assert count(store, "findings") == 1 and count(store, "outbox") == 5
    # Corrected before submission: the finding is withdrawn (it may already be on the server).
    fieldwork.record(store, inspection, rules, venue, {"k3_visitors": 300})
    assert store.query_one("SELECT withdrawn_at FROM findings")[0] is not None
    assert count(store, "outbox") == 7
    assert count(store, "observations") == 1


def test_amendments_are_append_only_in_the_database(store):
    pulled(store)
    assignment = fieldwork.find_assignment(store, "41")
    fieldwork.reveal(store, assignment, TARGET, how="code", latitude=None, longitude=None)
    inspection = fieldwork.inspection_of(store, assignment)
    fieldwork.submit(store, inspection)
    inspection = fieldwork.inspection_of(store, assignment)
    fieldwork.amend(store, inspection, "人数复核", {"k3_visitors": 402})
    with pytest.raises(sqlite3.IntegrityError), store.change() as tx:
        tx.execute("UPDATE amendments SET reason = 'x'")
    with pytest.raises(StoreError, match="已提交"):
        fieldwork.submit(store, inspection)


def test_token_file_is_private_and_replaced_atomically(store):
    store.save_token("first")
    store.save_token("second")
    assert store.load_token() == "second"
    assert stat.S_IMODE(store.token_path.stat().st_mode) == 0o600
    assert sorted(path.name for path in store.home.iterdir() if "token" in path.name) == ["token"]


# --- photos --------------------------------------------------------------------------------------


def jpeg_with_exif(path: Path) -> Path:
    image = Image.new("RGB", (40, 30), (120, 60, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    exif.get_ifd(0x8769)[0x9003] = "2026:11:28 09:15:00"  # DateTimeOriginal
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (29.0, 4.0, 43.5)
    gps[3], gps[4] = "E", (119.0, 38.0, 50.0)
    image.save(path, "JPEG", exif=exif)
    return path


def test_photo_bytes_are_kept_identical_with_exif_facts(store, tmp_path):
    source = jpeg_with_exif(tmp_path / "现场.jpg")
    extension, media_type, facts = photos.inspect_image(source)
    assert (extension, media_type) == ("jpg", "image/jpeg")
    assert facts["orientation"] == 6 and facts["exif_time"] == "2026:11:28 09:15:00"
    assert facts["latitude"] == pytest.approx(29.0787500) and facts["longitude"] == pytest.approx(119.6472222)

    sha256, size, filename = photos.copy_into_store(source, store.photos_dir, extension)
    original = source.read_bytes()
    assert sha256 == hashlib.sha256(original).hexdigest() and size == len(original)
    assert (store.photos_dir / filename).read_bytes() == original
    assert filename == f"{sha256}.jpg"
    assert [path.name for path in store.photos_dir.iterdir()] == [filename]


def test_png_without_exif_is_accepted(tmp_path):
    path = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(path, "PNG")
    extension, media_type, facts = photos.inspect_image(path)
    assert (extension, media_type) == ("png", "image/png")
    assert set(facts.values()) == {None}


def _noisy_jpeg() -> bytes:
    import io

    buffer = io.BytesIO()
    Image.effect_noise((64, 64), 60).convert("RGB").save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.mark.parametrize("name, writer", [
    ("notes.jpg", lambda path: path.write_text("不是图片")),
    ("anim.gif", lambda path: Image.new("RGB", (8, 8)).save(path, "GIF")),
    ("header-only.jpg", lambda path: path.write_bytes(b"\xff\xd8\xff")),
    ("truncated.jpg", lambda path: path.write_bytes(_noisy_jpeg()[:-400])),
])
def test_non_photos_are_refused(tmp_path, name, writer):
    path = tmp_path / name
    writer(path)
    with pytest.raises(photos.PhotoError):
        photos.inspect_image(path)


def test_a_crash_before_the_photo_transaction_leaves_only_an_orphan_file(store, tmp_path, monkeypatch):
    pulled(store)
    assignment = fieldwork.find_assignment(store, "41")
    fieldwork.reveal(store, assignment, TARGET, how="code", latitude=None, longitude=None)
    inspection = fieldwork.inspection_of(store, assignment)
    operations = count(store, "outbox")

    class PowerCut(Exception):
        pass

    def cut(*args, **kwargs):
        raise PowerCut

    monkeypatch.setattr(fieldwork, "new_uuid", cut)  # after the file is in place, before the transaction
    with pytest.raises(PowerCut):
        fieldwork.add_photo(store, inspection, jpeg_with_exif(tmp_path / "a.jpg"), finding_uuid=None, caption=None)
    assert count(store, "photos") == 0 and count(store, "outbox") == operations
    (orphan,) = fieldwork.orphans(store, grace_seconds=0)
    assert orphan.read_bytes() == (tmp_path / "a.jpg").read_bytes()
    assert not any(path.name.startswith(photos.TEMPORARY_PREFIX) for path in store.photos_dir.iterdir())


# --- offline commands on a store prepared without a server ----------------------------------------


def test_interactive_record_penalty_rules_and_refusals(tmp_path):
    home = tmp_path / "home"
    with Store(home) as store:
        pulled(store, may_propose_penalties=False)
    assert run(home, "reveal", "41", "--code", "7kq2m xw9pa").exit_code == 0
    result = run(home, "record", "41", input="很多\n401\n")
    assert result.exit_code == 0, result.output
    assert "应填整数" in result.output and "违反规则：K3" in result.output

    with Store(home) as store:
        (finding,) = store.query("SELECT uuid FROM findings")
    result = run(home, "penalty", "41", "--finding", finding["uuid"][:8], "--type", "warning")
    assert result.exit_code == 1 and "不允许提出处罚建议" in result.output
    result = run(home, "note", "41", "--positive", "a", "--negative", "b")
    assert result.exit_code == 1 and result.output.startswith("错误：")
    result = run(home, "amend", "41", "--reason", "x")
    assert result.exit_code == 1 and "尚未提交" in result.output
    result = run(home, "finding", "41", "--rule", "K3", "--description", "出口未设专人引导")
    assert result.exit_code == 0, result.output
    result = run(home, "record", "41", "--file", tmp_path / "missing.json")
    assert result.exit_code == 1 and "无法读取" in result.output
    (tmp_path / "obs.json").write_text(json.dumps({"k3_visitors": 100}))
    result = run(home, "record", "41", "--file", tmp_path / "obs.json")
    assert result.exit_code == 0 and "未发现违规" in result.output
    result = run(home, "show", ASSIGNMENT_UUID[:4])
    assert result.exit_code == 0 and "出口未设专人引导" in result.output and "测试博物馆" in result.output
