"""The migration to penalty combinations (b8c9d0e1f2a3) converts the rows it finds, and back.

Run on an empty database of each backend: rows are written with only the columns that matter
here and placeholders for the other required ones, the rows their required foreign keys point to
made first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import sqlalchemy as sa

ANFANG = Path(sys.executable).with_name("anfang")
BEFORE, AFTER = "a7b8c9d0e1f2", "b8c9d0e1f2a3"


def migrate(url: str, command: str, revision: str) -> None:
    environment = dict(os.environ, DATABASE_URL=url, ANFANG_CONFIG="development")
    result = subprocess.run([str(ANFANG), "db", command, revision], env=environment, capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stderr


def placeholder(column: sa.Column):
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer):
        return 1
    if isinstance(kind, sa.DateTime):
        return datetime(2026, 1, 1, tzinfo=timezone.utc)
    if isinstance(kind, sa.Date):
        return date(2026, 1, 1)
    if isinstance(kind, sa.JSON):
        return []
    if isinstance(kind, sa.Numeric):
        return 0
    return "x"


def insert(connection, table: sa.Table, **values) -> None:
    """A row with placeholders for the required columns; the rows its required foreign keys point
    to (id 1) are made first, since SQLite's batch migrations copy tables with the keys checked."""
    row = {c.name: placeholder(c) for c in table.columns if not c.nullable and not c.primary_key}
    for column in table.columns:
        for key in column.foreign_keys:
            if column.name in row and column.name not in values:
                parent = key.column.table
                if parent is not table and connection.execute(
                        sa.select(sa.func.count()).select_from(parent).where(key.column == 1)).scalar_one() == 0:
                    insert(connection, parent, **{key.column.name: 1})
    connection.execute(table.insert().values(**{**row, **values}))


def test_existing_rows_are_converted_and_back(empty_database_url):
    url = empty_database_url
    migrate(url, "upgrade", BEFORE)
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    metadata.reflect(engine)
    tables = metadata.tables
    with engine.begin() as connection:
        insert(connection, tables["legal_basis"], id=1, code="psapl2025_art61_1_1", law="中华人民共和国治安管理处罚法")
        insert(connection, tables["legal_basis"], id=2, code="idpl2025_art111_1_1", law="中华人民共和国传染病防治法")
        insert(connection, tables["discretion_benchmark"], id=1, legal_basis_id=1, code="b1",
               penalty_types=["warning", "fine"])
        insert(connection, tables["hearing_threshold"], id=1, code="h1")
        insert(connection, tables["enforcement_case"], id=1, proposed_penalty_type="fine", proposed_amount=300,
               decided_penalty_type="warning")
        insert(connection, tables["enforcement_case"], id=2)
    engine.dispose()

    migrate(url, "upgrade", AFTER)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        bases = dict(connection.execute(sa.text("SELECT code, authority_kind FROM legal_basis")).all())
        assert bases == {"psapl2025_art61_1_1": "公安机关", "idpl2025_art111_1_1": "疾病预防控制部门"}
        combinations = connection.execute(sa.select(sa.column("combinations", sa.JSON())).select_from(
            sa.table("discretion_benchmark"))).scalar_one()
        # "one of these types" as it meant before: each type a combination of its own.
        assert combinations == [["warning"], ["fine"]]
        assert connection.execute(sa.text("SELECT minors_only FROM hearing_threshold")).scalar_one() in (0, False)
        case = sa.table("enforcement_case", sa.column("id"), sa.column("proposed_penalty_types", sa.JSON()),
                        sa.column("decided_penalty_types", sa.JSON()), sa.column("proposed_amount"),
                        sa.column("proposed_detention_days"))
        rows = {row.id: row for row in connection.execute(sa.select(case))}
        assert (rows[1].proposed_penalty_types, rows[1].decided_penalty_types, rows[1].proposed_amount,
                rows[1].proposed_detention_days) == (["fine"], ["warning"], 300, None)
        assert (rows[2].proposed_penalty_types, rows[2].decided_penalty_types) == (None, None)
        connection.execute(case.update().where(case.c.id == 2).values(proposed_penalty_types=["detention", "fine"]))
        connection.commit()
    engine.dispose()

    migrate(url, "downgrade", BEFORE)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        back = dict(connection.execute(sa.text("SELECT id, proposed_penalty_type FROM enforcement_case")).all())
        assert back == {1: "fine", 2: "detention"}
        types = connection.execute(sa.select(sa.column("penalty_types", sa.JSON())).select_from(
            sa.table("discretion_benchmark"))).scalar_one()
        assert types == ["warning", "fine"]
    engine.dispose()

