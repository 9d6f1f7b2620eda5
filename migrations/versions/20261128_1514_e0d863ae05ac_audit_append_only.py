"""audit log append-only: database triggers, and the chain head's genesis row

The application only ever INSERTs audit events (server/audit/chain.py); these triggers make
the database refuse UPDATE, DELETE and TRUNCATE of audit_event, and refuse moving the chain head
backwards or deleting it, whoever connects. A superuser can still disable them: that is what the
hash chain and `anfang audit verify` are for.

On SQLite, a later `batch_alter_table` on audit_event or audit_chain_head copies the table and
loses these triggers: such a migration must create them again.

Revision ID: e0d863ae05ac
Revises: 30bd0178f807
Create Date: 2026-11-28 15:14:47.106524

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'e0d863ae05ac'
down_revision = '30bd0178f807'
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64

POSTGRESQL_UPGRADE = [
    """
    CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP
            USING ERRCODE = 'restrict_violation';
    END;
    $$
    """,
    """
    CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()
    """,
    """
    CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()
    """,
    """
    CREATE FUNCTION audit_chain_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            IF NEW.id = OLD.id AND NEW.last_seq >= OLD.last_seq THEN
                RETURN NEW;
            END IF;
        END IF;
        RAISE EXCEPTION 'audit_chain_head only moves forward: % refused', TG_OP
            USING ERRCODE = 'restrict_violation';
    END;
    $$
    """,
    """
    CREATE TRIGGER audit_chain_head_forward_only BEFORE UPDATE OR DELETE ON audit_chain_head
    FOR EACH ROW EXECUTE FUNCTION audit_chain_head_forward_only()
    """,
    """
    CREATE TRIGGER audit_chain_head_no_truncate BEFORE TRUNCATE ON audit_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_head_forward_only()
    """,
]

POSTGRESQL_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS audit_chain_head_no_truncate ON audit_chain_head",
    "DROP TRIGGER IF EXISTS audit_chain_head_forward_only ON audit_chain_head",
    "DROP FUNCTION IF EXISTS audit_chain_head_forward_only()",
    "DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event",
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
    "DROP FUNCTION IF EXISTS audit_event_append_only()",
]

# RAISE(ABORT) fails the statement with SQLITE_CONSTRAINT: an IntegrityError, as on PostgreSQL.
SQLITE_UPGRADE = [
    """
    CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
    BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: UPDATE refused'); END
    """,
    """
    CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
    BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: DELETE refused'); END
    """,
    """
    CREATE TRIGGER audit_chain_head_forward_only BEFORE UPDATE ON audit_chain_head
    WHEN NEW.id <> OLD.id OR NEW.last_seq < OLD.last_seq
    BEGIN SELECT RAISE(ABORT, 'audit_chain_head only moves forward: UPDATE refused'); END
    """,
    """
    CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head
    BEGIN SELECT RAISE(ABORT, 'audit_chain_head only moves forward: DELETE refused'); END
    """,
]

SQLITE_DOWNGRADE = [
    "DROP TRIGGER IF EXISTS audit_chain_head_no_delete",
    "DROP TRIGGER IF EXISTS audit_chain_head_forward_only",
    "DROP TRIGGER IF EXISTS audit_event_no_delete",
    "DROP TRIGGER IF EXISTS audit_event_no_update",
]


def _statements(postgresql, sqlite):
    dialect = op.get_context().dialect.name
    if dialect == "postgresql":
        return postgresql
    if dialect == "sqlite":
        return sqlite
    # anfang supports SQLite and PostgreSQL only; refusing beats an audit log without its guard.
    raise RuntimeError(f"unsupported database {dialect!r}: anfang runs on SQLite or PostgreSQL")


def upgrade():
    # The one head row every writer locks; present from the start so that the first append
    # needs no insert race.
    op.execute(
        "INSERT INTO audit_chain_head (id, last_seq, last_hash) "
        f"SELECT 1, 0, '{GENESIS_HASH}' WHERE NOT EXISTS (SELECT 1 FROM audit_chain_head WHERE id = 1)"
    )
    for statement in _statements(POSTGRESQL_UPGRADE, SQLITE_UPGRADE):
        op.execute(statement)


def downgrade():
    for statement in _statements(POSTGRESQL_DOWNGRADE, SQLITE_DOWNGRADE):
        op.execute(statement)
    # Only the untouched genesis head goes: a used head is the anchor of an existing chain.
    op.execute("DELETE FROM audit_chain_head WHERE id = 1 AND last_seq = 0")
