"""The audit log is a hash chain: it verifies while intact, and names the first event a direct
database edit broke.

The test database is shared by the whole session and other tests may leave events in it, so
every assertion is relative to the chain head found at the start of the test.
"""

from __future__ import annotations

import hashlib
import math
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from flask_login import login_user

from server.audit import chain as audit
from server.audit.chain import (
    GENESIS_HASH,
    REASONS,
    AuditRecordError,
    canonical_bytes,
    compute_hash,
    event_hash,
    record_event,
    verify_chain,
)
from server.audit.models.audit import AppendOnlyError, AuditChainHead, AuditEvent

AUDIT_TABLES = ("audit_event", "audit_chain_head")


def _head(db) -> tuple[int, str]:
    row = db.session.execute(
        sa.select(AuditChainHead.last_seq, AuditChainHead.last_hash).where(AuditChainHead.id == 1)
    ).one()
    return row.last_seq, row.last_hash


def _record(count: int, prefix: str = "test.event") -> list[AuditEvent]:
    return [record_event(f"{prefix}.{n}", object_type="venue", object_id=n, details={"n": n, "说明": "测试"})
            for n in range(1, count + 1)]


@contextmanager
def _triggers_disabled(db):
    """What a database superuser can do to edit the log by hand: switch the append-only triggers off.

    Runs inside the test's transaction (on both backends the DDL is transactional once a write
    has begun it), and puts the triggers back explicitly as well.
    """
    if db.session.get_bind().dialect.name == "postgresql":
        for table in AUDIT_TABLES:
            db.session.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        try:
            yield
        finally:
            for table in AUDIT_TABLES:
                db.session.execute(sa.text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        return
    # SQLite cannot disable a trigger, only drop it: keep its CREATE statement to restore it.
    triggers = db.session.execute(sa.text(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('audit_event', 'audit_chain_head')"
    )).all()
    assert triggers, "the migrations should have created the append-only triggers"
    for name, _sql in triggers:
        db.session.execute(sa.text(f'DROP TRIGGER "{name}"'))
    try:
        yield
    finally:
        for _name, sql in triggers:
            db.session.execute(sa.text(sql))


def _edit_event(db, seq: int, **values) -> None:
    """A direct SQL UPDATE of one audit row (Core, so the ORM's own guard is not involved)."""
    table = AuditEvent.__table__
    with _triggers_disabled(db):
        db.session.execute(sa.update(table).where(table.c.seq == seq).values(**values))


def _delete_event(db, seq: int) -> None:
    table = AuditEvent.__table__
    with _triggers_disabled(db):
        db.session.execute(sa.delete(table).where(table.c.seq == seq))


# --- appending ---------------------------------------------------------------------------------


def test_events_link_into_a_chain_that_verifies(db):
    start_seq, start_hash = _head(db)

    events = _record(3)

    assert [e.seq for e in events] == [start_seq + 1, start_seq + 2, start_seq + 3]
    assert [e.prev_hash for e in events] == [start_hash, events[0].hash, events[1].hash]
    assert all(e.hash == event_hash(e) and len(e.hash) == 64 for e in events)
    assert _head(db) == (start_seq + 3, events[-1].hash)
    report = verify_chain()
    assert report.ok, report.first_broken
    assert report.count == start_seq + 3


def test_first_event_of_a_chain_links_to_the_genesis_hash(db):
    start_seq, start_hash = _head(db)
    if start_seq == 0:
        assert record_event("test.first").prev_hash == GENESIS_HASH
    else:
        first = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.seq == 1))
        assert first.prev_hash == GENESIS_HASH


def test_record_event_flushes_but_does_not_commit(db):
    start_seq, _ = _head(db)
    event = record_event("test.uncommitted")
    assert event.id is not None
    db.session.rollback()
    assert _head(db)[0] == start_seq
    assert db.session.scalar(sa.select(sa.func.count()).where(AuditEvent.seq > start_seq)) == 0


def test_actor_is_recorded_by_id_and_username(db, make_user):
    user = make_user("office")
    event = record_event("test.actor", actor=user, channel="web")
    assert (event.actor_id, event.actor_label, event.channel) == (user.id, user.username, "web")


def test_no_actor_outside_a_request_is_the_system(db):
    event = record_event("test.system")
    assert (event.actor_id, event.actor_label, event.channel) == (None, "system", "system")


def test_logged_in_user_is_the_default_actor(app, db, make_user):
    user = make_user("auditor")
    with app.test_request_context("/"):
        login_user(user)
        event = record_event("test.current_user", channel="web")
    assert (event.actor_id, event.actor_label) == (user.id, user.username)


@pytest.mark.parametrize("details", [
    {"when": datetime(2021, 3, 9)},
    {"ids": {1, 2}},
    {"ratio": math.nan},
    {"ratio": math.inf},
    {"blob": b"\x00"},
    {"obj": object()},
    {"mixed keys": {1: "a", "b": 2}},
    {"surrogate": "\ud800"},
    ["not", "a", "dict"],
], ids=["datetime", "set", "nan", "inf", "bytes", "object", "mixed-keys", "lone-surrogate", "list"])
def test_details_that_are_not_json_are_refused_before_anything_is_written(db, details):
    before = _head(db)
    with pytest.raises(AuditRecordError, match="audit details must be"):
        record_event("test.bad_details", details=details)
    assert _head(db) == before


@pytest.mark.parametrize("fields, message", [
    ({"action": ""}, "action must be a non-empty string"),
    ({"action": "x" * 65}, "action is longer than 64"),
    ({"channel": "email"}, "channel must be one of"),
    ({"object_type": "t" * 33}, "object_type is longer than 32"),
    ({"object_id": "9" * 65}, "object_id is longer than 64"),
    ({"actor": "admin"}, "actor must be a User"),
], ids=["empty-action", "long-action", "bad-channel", "long-object-type", "long-object-id", "actor-not-user"])
def test_malformed_events_are_refused(db, fields, message):
    before = _head(db)
    fields = {"action": "test.malformed", **fields}
    with pytest.raises(AuditRecordError, match=message):
        record_event(fields.pop("action"), **fields)
    assert _head(db) == before


def test_object_id_is_stored_as_text(db):
    assert record_event("test.object_id", object_type="venue", object_id=42).object_id == "42"


# --- canonical serialisation -------------------------------------------------------------------

GOLDEN_FIELDS = dict(
    seq=7, occurred_at=datetime(2021, 3, 9, 8, 30, 1, 250000), actor_id=3, actor_label="office1",
    channel="web", action="assignment.target_read", object_type="assignment", object_id="42",
    details={"venue": "金华KTV", "reasons": ["抽查", 1, 0.5, True, None], "a": {}}, prev_hash="ab" * 32,
)
GOLDEN_BYTES = (
    '{"action":"assignment.target_read","actor_id":3,"actor_label":"office1","channel":"web",'
    '"details":{"a":{},"reasons":["抽查",1,0.5,true,null],"venue":"金华KTV"},"object_id":"42",'
    '"object_type":"assignment","occurred_at":"2021-03-09T08:30:01.250000Z",'
    '"prev_hash":"abababababababababababababababababababababababababababababababab","seq":7,"v":1}'
).encode("utf-8")
GOLDEN_HASH = "3e85ac5e1d4dbf9006125c011834ed13a3b0286fbec5b274258ba219fd87a97f"


@pytest.mark.parametrize("occurred_at", [
    datetime(2021, 3, 9, 8, 30, 1, 250000),  # naive, as SQLite returns it
    datetime(2021, 3, 9, 8, 30, 1, 250000, tzinfo=timezone.utc),  # aware, as PostgreSQL returns it
    datetime(2021, 3, 9, 16, 30, 1, 250000, tzinfo=timezone(timedelta(hours=8))),  # the same instant in Beijing
], ids=["naive-utc", "aware-utc", "aware-plus-8"])
def test_canonical_serialisation_is_fixed(occurred_at):
    """Sorted keys, no whitespace, UTF-8 text, UTC timestamps with microseconds: byte for byte.

    These bytes are what every stored hash covers; changing them invalidates every existing chain.
    """
    fields = dict(GOLDEN_FIELDS, occurred_at=occurred_at)
    assert canonical_bytes(**fields) == GOLDEN_BYTES
    assert compute_hash(**fields) == hashlib.sha256(GOLDEN_BYTES).hexdigest() == GOLDEN_HASH


def test_events_hash_the_same_after_a_round_trip_through_the_database(db, make_user):
    """Whatever the backend hands back (naive or aware times, JSON re-parsed), the hash still holds."""
    tricky = {
        "中文": "金华市婺城区", "nested": {"list": [1, 2.5, -0.0, 1e-7, 2**53 + 1], "empty": []},
        "tuple": (1, "two"), "by_id": {3: "int key"}, "flag": False, "nothing": None, "quote": "\"'\\\n\t",
        "emoji": "🙂", "nul": "\u0000",
    }
    event = record_event("test.round_trip", actor=make_user(), channel="api", object_type="venue",
                         object_id="v-1", details=tricky)
    event_id, stored_hash = event.id, event.hash
    assert event.details["tuple"] == [1, "two"] and event.details["by_id"] == {"3": "int key"}
    db.session.expire_all()

    reloaded = db.session.get(AuditEvent, event_id)
    assert reloaded.hash == stored_hash
    assert event_hash(reloaded) == stored_hash
    assert reloaded.details == event.details


# --- tampering ---------------------------------------------------------------------------------

TAMPERED_VALUES = {
    "details": ({"n": 999}, "hash_mismatch"),
    "action": ("test.forged", "hash_mismatch"),
    "actor_label": ("mallory", "hash_mismatch"),
    "channel": ("api", "hash_mismatch"),
    "object_id": ("other", "hash_mismatch"),
    "occurred_at": (datetime(2020, 1, 1, tzinfo=timezone.utc), "hash_mismatch"),
    "prev_hash": ("f" * 64, "prev_hash_mismatch"),
    "hash": ("e" * 64, "hash_mismatch"),
}


@pytest.mark.parametrize("position", [0, 2, 4], ids=["first", "middle", "last"])
@pytest.mark.parametrize("column", list(TAMPERED_VALUES))
def test_editing_any_field_breaks_the_chain_at_that_event(db, column, position):
    events = _record(5)
    target = events[position]
    value, reason = TAMPERED_VALUES[column]

    _edit_event(db, target.seq, **{column: value})

    report = verify_chain()
    assert not report.ok
    broken = report.first_broken
    assert (broken.seq, broken.event_id, broken.reason) == (target.seq, target.id, reason)
    assert broken.action == ("test.forged" if column == "action" else target.action)
    assert report.count == target.seq - 1


@pytest.mark.parametrize("column, garbage", [("occurred_at", "not a time"), ("details", "{not json")])
def test_a_field_edited_to_garbage_is_named_not_crashed_on(db, column, garbage):
    target = _record(3)[1]
    statement = sa.text(f"UPDATE audit_event SET {column} = :garbage WHERE seq = :seq")
    parameters = {"garbage": garbage, "seq": target.seq}
    if db.session.get_bind().dialect.name == "postgresql":
        # PostgreSQL checks the value against the column type (before any trigger): it never lands.
        with pytest.raises(sa.exc.DataError):
            db.session.execute(statement, parameters)
        db.session.rollback()
        return
    # SQLite stores any text in any column; verification must still name the row.
    with _triggers_disabled(db):
        db.session.execute(statement, parameters)

    broken = verify_chain().first_broken
    assert (broken.seq, broken.event_id, broken.reason) == (target.seq, target.id, "unreadable")


def test_an_edit_with_a_recomputed_hash_breaks_the_link_to_the_next_event(db):
    """Rewriting one event consistently still leaves the next event pointing at the old hash."""
    events = _record(4)
    target = events[1]
    forged = {name: getattr(target, name) for name in (
        "seq", "occurred_at", "actor_id", "actor_label", "channel", "action", "object_type",
        "object_id", "prev_hash")}
    forged["details"] = {"n": "rewritten"}

    _edit_event(db, target.seq, details=forged["details"], hash=compute_hash(**forged))

    broken = verify_chain().first_broken
    assert (broken.seq, broken.event_id, broken.reason) == (events[2].seq, events[2].id, "prev_hash_mismatch")


def test_deleting_a_middle_event_breaks_the_chain_at_the_next_one(db):
    events = _record(5)

    _delete_event(db, events[2].seq)

    report = verify_chain()
    broken = report.first_broken
    assert (broken.seq, broken.event_id, broken.reason) == (events[3].seq, events[3].id, "seq_gap")
    assert report.count == events[1].seq


def test_deleting_the_last_event_is_caught_by_the_head(db):
    events = _record(3)

    _delete_event(db, events[-1].seq)

    broken = verify_chain().first_broken
    assert (broken.seq, broken.event_id, broken.reason) == (events[-1].seq, None, "head_mismatch")


def test_an_event_appended_behind_the_heads_back_is_caught(db):
    """A row inserted by hand, even with a valid hash, is not covered by the head."""
    last = _record(2)[-1]
    forged = dict(seq=last.seq + 1, occurred_at=datetime.now(timezone.utc), actor_id=None,
                  actor_label="system", channel="system", action="test.forged", object_type=None,
                  object_id=None, details={}, prev_hash=last.hash)
    db.session.execute(sa.insert(AuditEvent.__table__).values(**forged, hash=compute_hash(**forged)))

    report = verify_chain()
    broken = report.first_broken
    assert (broken.seq, broken.action, broken.reason) == (last.seq + 1, "test.forged", "head_mismatch")
    assert report.count == last.seq


def test_a_head_edited_by_hand_is_caught(db):
    last = _record(2)[-1]
    db.session.execute(sa.update(AuditChainHead.__table__).values(last_hash="d" * 64))

    broken = verify_chain().first_broken
    assert (broken.seq, broken.event_id, broken.reason) == (last.seq, last.id, "head_mismatch")


def test_verification_streams_in_batches(db, monkeypatch):
    """Small batches exercise the streaming path that a long log takes."""
    monkeypatch.setattr(audit, "_VERIFY_BATCH", 2)
    events = _record(5)
    assert verify_chain().ok

    _edit_event(db, events[3].seq, action="test.forged")

    assert verify_chain().first_broken.seq == events[3].seq


def test_every_reason_has_a_chinese_label():
    assert set(REASONS) == {"seq_gap", "prev_hash_mismatch", "hash_mismatch", "unreadable", "head_mismatch"}


# --- append-only enforcement -------------------------------------------------------------------

REFUSED_STATEMENTS = {
    "update-event": "UPDATE audit_event SET action = 'test.forged' WHERE seq = :seq",
    "delete-event": "DELETE FROM audit_event WHERE seq = :seq",
    # SQLite has no TRUNCATE; its unqualified DELETE is the same wholesale removal.
    "truncate-events": {"postgresql": "TRUNCATE audit_event", "sqlite": "DELETE FROM audit_event"},
    "rewind-head": "UPDATE audit_chain_head SET last_seq = last_seq - 1, last_hash = :hash",
    "delete-head": "DELETE FROM audit_chain_head",
}


@pytest.mark.parametrize("statement", list(REFUSED_STATEMENTS.values()), ids=list(REFUSED_STATEMENTS))
def test_database_triggers_refuse_changing_the_log(db, statement):
    event = record_event("test.protected")
    if isinstance(statement, dict):
        statement = statement[db.session.get_bind().dialect.name]

    with pytest.raises(sa.exc.IntegrityError, match="append-only|only moves forward"):
        db.session.execute(sa.text(statement), {"seq": event.seq, "hash": event.prev_hash})
    db.session.rollback()


def test_the_orm_refuses_changing_or_deleting_an_event(db):
    event = record_event("test.protected")
    event.action = "test.forged"
    with pytest.raises(AppendOnlyError, match="append-only"):
        db.session.flush()
    db.session.rollback()

    event = record_event("test.protected")
    db.session.delete(event)
    with pytest.raises(AppendOnlyError, match="append-only"):
        db.session.flush()
    db.session.rollback()


# --- command line ------------------------------------------------------------------------------


def test_cli_verify_reports_the_count_of_an_intact_chain(cli, db):
    _record(2)
    total = _head(db)[0]

    result = cli.invoke(args=["audit", "verify"])

    assert result.exit_code == 0, result.output
    assert result.output == f"审计链完整：共 {total} 条事件\n"


def test_cli_verify_names_the_first_broken_event_and_fails(cli, db):
    events = _record(4, prefix="test.cli")
    target = events[1]
    _edit_event(db, target.seq, details={"n": "changed"})

    result = cli.invoke(args=["audit", "verify"])

    assert result.exit_code == 1
    assert f"第一个异常事件为第 {target.seq} 条（编号 {target.id}，操作：其他操作）" in result.stderr
    assert REASONS["hash_mismatch"] in result.stderr
    assert result.stdout == ""


def test_cli_tail_lists_the_latest_events(cli, db):
    events = _record(3, prefix="test.tail")
    login = record_event("auth.login", object_type="user", object_id=7)

    result = cli.invoke(args=["audit", "tail", "-n", "2"])

    assert result.exit_code == 0, result.output
    # The codes read in Chinese, and times in Beijing time.
    assert "登录" in result.output and "用户 7" in result.output and "系统" in result.output
    assert "其他操作" in result.output and "北京时间" in result.output
    assert "auth.login" not in result.output and events[2].action not in result.output
    assert str(login.seq) in result.output and str(events[2].seq) in result.output
