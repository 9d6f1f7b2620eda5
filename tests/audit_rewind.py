"""For tests that commit for real (concurrency): take the audit log back to where it was."""

from __future__ import annotations

from contextlib import contextmanager

import sqlalchemy as sa

from server.audit.models.audit import AuditChainHead, AuditEvent
from server.extensions import db


@contextmanager
def append_only_triggers_off(connection):
    """What a database administrator can do on `connection`: the audit log's append-only triggers
    off for the block (disabled on PostgreSQL, dropped on SQLite) and restored after it."""
    if connection.dialect.name == "postgresql":
        for table in ("audit_event", "audit_chain_head"):
            connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        triggers = []
    else:
        head = AuditChainHead.__table__
        connection.execute(sa.update(head).values(last_seq=head.c.last_seq))  # take the write lock
        triggers = connection.execute(sa.text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name IN ('audit_event', 'audit_chain_head')")).all()
        assert triggers, "the migrations should have created the append-only triggers"
        for name, _sql in triggers:
            connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
    yield
    if connection.dialect.name == "postgresql":
        for table in ("audit_event", "audit_chain_head"):
            connection.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    else:
        for _name, sql in triggers:
            connection.exec_driver_sql(sql)


@contextmanager
def audit_log_rewound(seq: int, last_hash: str):
    """A connection on which the audit events after `seq` are gone and the chain head points
    at `seq` again; the block deletes the test's other rows on it. The append-only triggers are
    off meanwhile and restored before the commit."""
    with db.engine.connect() as connection:
        events, head = AuditEvent.__table__, AuditChainHead.__table__
        with append_only_triggers_off(connection):
            connection.execute(sa.delete(events).where(events.c.seq > seq))
            connection.execute(sa.update(head).where(head.c.id == 1).values(last_seq=seq, last_hash=last_hash))
            yield connection
        connection.commit()
