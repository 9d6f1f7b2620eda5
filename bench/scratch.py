"""Scratch PostgreSQL databases for the benchmarks (created per run, dropped afterwards)."""

from __future__ import annotations

import os
import random


def scratch_postgresql(server_url: str, prefix: str = "anfang_bench"):
    """Create a scratch database on the server; returns (its URL, a function that drops it)."""
    import sqlalchemy as sa

    name = f"{prefix}_{os.getpid()}_{random.randrange(16**6):06x}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False), drop
