"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from server.extensions import db as _db

ANFANG = Path(sys.executable).with_name("anfang")


def test_models_equal_migrations(app, db):
    """The session database was built by the migrations alone; autogenerate must find no difference."""
    with _db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, _db.metadata)
    assert differences == [], f"models and migrations disagree: {differences}"


def test_revision_files_are_date_prefixed(app):
    versions = Path(app.config["MIGRATIONS_DIR"]) / "versions"
    files = sorted(p.name for p in versions.glob("*.py"))
    assert files
    for name in files:
        assert name[:8].isdigit() and name[8] == "_", name


def test_db_upgrade_builds_schema_from_empty(empty_database_url):
    """`anfang db upgrade` (the console script) on an empty database."""
    environment = dict(os.environ, DATABASE_URL=empty_database_url, ANFANG_CONFIG="development")
    result = subprocess.run([str(ANFANG), "db", "upgrade"], env=environment, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    engine = sa.create_engine(empty_database_url)
    tables = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    assert {"venue", "user_account", "audit_event", "rule", "roster_member", "device_token"} <= tables
