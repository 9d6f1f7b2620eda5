"""PostgreSQL's own tools: pg_dump of an exported snapshot, pg_restore into an empty database.

The client must be of the server's major version: an older pg_dump refuses a newer server, and a
dump made by a newer one may not restore into the server it came from. The connection is handed
over in libpq's environment variables, so that the password never appears in a process list.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import sqlalchemy as sa

from .manifest import BackupError

VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


def libpq_environment(url: sa.engine.URL) -> dict[str, str]:
    """The environment that points pg_dump / pg_restore at the database of a SQLAlchemy URL."""
    environment = dict(os.environ)
    values = {"PGHOST": url.host, "PGPORT": url.port, "PGUSER": url.username, "PGPASSWORD": url.password,
              "PGDATABASE": url.database}
    for name, value in values.items():
        if value is not None:
            environment[name] = str(value)
    for key, value in url.query.items():  # sslmode=require and the like
        if key.startswith("ssl") and isinstance(value, str):
            environment[f"PG{key.upper()}"] = value
    return environment


def client_major(tool: str) -> tuple[str, int]:
    """The tool's path and major version; BackupError when it is missing or says nothing usable."""
    path = shutil.which(tool)
    if path is None:
        raise BackupError(f"未找到 {tool}：请安装与数据库服务器主版本相同的 PostgreSQL 客户端后再试。")
    try:
        output = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BackupError(f"无法运行 {tool}：{exc}") from None
    match = VERSION.search(output)
    if match is None:
        raise BackupError(f"无法识别 {tool} 的版本：{output.strip()}")
    return path, int(match.group(1))


def server_major(connection: sa.Connection) -> int:
    return int(connection.exec_driver_sql("SHOW server_version_num").scalar()) // 10000


def checked_tool(tool: str, connection: sa.Connection) -> str:
    """The tool's path, once its major version is the server's."""
    path, client = client_major(tool)
    server = server_major(connection)
    if client != server:
        raise BackupError(f"{tool} 的主版本（{client}）与数据库服务器的主版本（{server}）不同："
                          f"请安装 PostgreSQL {server} 的客户端（如 postgresql-client-{server}）后再试。")
    return path


def run_tool(arguments: list[str], url: sa.engine.URL, what: str) -> None:
    try:
        result = subprocess.run(arguments, env=libpq_environment(url), capture_output=True, text=True)
    except OSError as exc:
        raise BackupError(f"{what}失败：无法运行 {arguments[0]}（{exc.strerror}）。") from None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["（无输出）"])[-1]
        raise BackupError(f"{what}失败（退出码 {result.returncode}）：{last}")


def dump(connection: sa.Connection, url: sa.engine.URL, snapshot: str, destination: Path) -> None:
    """pg_dump of exactly the snapshot `connection`'s transaction exported."""
    tool = checked_tool("pg_dump", connection)
    run_tool([tool, "--format=custom", f"--snapshot={snapshot}", "--no-password", f"--file={destination}"],
             url, "数据库导出（pg_dump）")


def restore(connection: sa.Connection, url: sa.engine.URL, source: Path) -> None:
    """pg_restore into the (empty) database, all or nothing; objects owned by the restoring user."""
    tool = checked_tool("pg_restore", connection)
    run_tool([tool, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--no-password",
              f"--dbname={url.database}", str(source)], url, "数据库恢复（pg_restore）")


def relation_count(connection: sa.Connection) -> int:
    """Tables, views and sequences outside PostgreSQL's own schemas: 0 for an empty database."""
    return connection.exec_driver_sql(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%%' "
        "AND n.nspname NOT LIKE 'pg_temp%%' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')").scalar()
