"""Concurrent writers cannot fork the audit chain.

Each writer thread has its own application context, hence its own session and connection, and
commits real transactions against the session's test database (not through the rolled-back `db`
fixture). PostgreSQL serialises the appends on the locked head row; SQLite on its database write
lock, with a busy timeout long enough for eight writers to queue. Afterwards the test removes its
events and resets the head, as a database superuser would, so the database is as it was.
"""

from __future__ import annotations

import threading
from collections import defaultdict

import sqlalchemy as sa

from server.audit.chain import record_event, verify_chain
from server.audit.models.audit import AuditChainHead, AuditEvent
from server.extensions import db

WRITERS = 8
EVENTS_PER_WRITER = 25
SQLITE_BUSY_TIMEOUT_MS = 30_000


def test_concurrent_writers_append_one_unbroken_chain(app):
    with app.app_context():
        start_seq, start_hash = _head()
        dialect = db.engine.dialect.name
        busy_timeout = _sqlite_busy_timeout(db.engine) if dialect == "sqlite" else None
    try:
        errors = _run_writers(app)
        assert errors == []

        with app.app_context():
            report = verify_chain()
            assert report.ok, report.first_broken
            rows = db.session.execute(
                sa.select(AuditEvent.seq, AuditEvent.prev_hash, AuditEvent.hash, AuditEvent.details)
                .where(AuditEvent.seq > start_seq).order_by(AuditEvent.seq)
            ).all()
            db.session.remove()
    finally:
        with app.app_context():
            _remove_events_after(start_seq, start_hash)
            if busy_timeout is not None:
                sa.event.remove(db.engine, "connect", busy_timeout)

    total = WRITERS * EVENTS_PER_WRITER
    assert [r.seq for r in rows] == list(range(start_seq + 1, start_seq + total + 1))
    assert len({r.prev_hash for r in rows}) == total, "two events share a predecessor: the chain forked"
    assert [r.prev_hash for r in rows] == [start_hash] + [r.hash for r in rows[:-1]]
    # Each writer's events keep the order in which that writer committed them.
    by_writer = defaultdict(list)
    for r in rows:
        by_writer[r.details["writer"]].append(r.details["n"])
    assert by_writer == {w: list(range(EVENTS_PER_WRITER)) for w in range(WRITERS)}


def _run_writers(app) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def write(writer: int) -> None:
        try:
            with app.app_context():
                try:
                    start.wait(timeout=30)
                    for n in range(EVENTS_PER_WRITER):
                        record_event("test.concurrent", object_type="writer", object_id=writer,
                                     details={"writer": writer, "n": n})
                        db.session.commit()
                finally:
                    db.session.remove()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,), name=f"audit-writer-{w}") for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    return errors


def _head() -> tuple[int, str]:
    row = db.session.execute(
        sa.select(AuditChainHead.last_seq, AuditChainHead.last_hash).where(AuditChainHead.id == 1)
    ).one()
    db.session.remove()
    return row.last_seq, row.last_hash


def _sqlite_busy_timeout(engine):
    """Let waiting SQLite writers queue instead of failing with "database is locked".

    The pool is emptied first so that every writer's connection is a new one that gets it.
    """
    def on_connect(dbapi_connection, _record):
        dbapi_connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")

    sa.event.listen(engine, "connect", on_connect)
    engine.dispose()
    return on_connect


def _remove_events_after(seq: int, last_hash: str) -> None:
    """Undo this test's commits; the append-only triggers must be off for that."""
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            _reset_postgresql(connection, seq, last_hash)
        else:
            _reset_sqlite(connection, seq, last_hash)
        connection.commit()


def _reset_postgresql(connection, seq: int, last_hash: str) -> None:
    for table in ("audit_event", "audit_chain_head"):
        connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    _delete_and_rewind(connection, seq, last_hash)
    for table in ("audit_event", "audit_chain_head"):
        connection.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def _reset_sqlite(connection, seq: int, last_hash: str) -> None:
    # A write first, so that the Python driver opens the transaction before the DDL below, and the
    # triggers come back in the same commit that removes the events.
    connection.execute(sa.update(AuditChainHead.__table__).values(last_seq=AuditChainHead.last_seq))
    triggers = connection.execute(sa.text(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('audit_event', 'audit_chain_head')"
    )).all()
    for name, _sql in triggers:
        connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
    _delete_and_rewind(connection, seq, last_hash)
    for _name, sql in triggers:
        connection.exec_driver_sql(sql)


def _delete_and_rewind(connection, seq: int, last_hash: str) -> None:
    events, head = AuditEvent.__table__, AuditChainHead.__table__
    connection.execute(sa.delete(events).where(events.c.seq > seq))
    connection.execute(sa.update(head).where(head.c.id == 1).values(last_seq=seq, last_hash=last_hash))
