"""`create_backup`: the database snapshot first, then the files its rows refer to, then the manifest.

Everything is written under DIR/tmp and moved up into DIR at the end, the manifest last: a
directory holding manifest.json is a finished backup, one holding tmp/ an interrupted one.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from ..audit.chain import GENESIS_HASH, HEAD_ID
from ..audit.models.audit import AuditChainHead
from ..columns import CHINA_STANDARD_TIME, utcnow
from ..enforcement.models.document import Document
from ..extensions import db
from ..field.evidence_backend import fsync_directory
from ..field.models.evidence import EvidenceFile
from ..pdf.signing import CERT_SUFFIX, KEY_SUFFIX, PKCS12_SUFFIXES, TRUST_ROOTS_FILE
from ..publicity.redaction import REDACTED_DIR
from ..publicity.models.material import Bulletin
from . import postgres
from .manifest import (
    MANIFEST_FILE,
    MANIFEST_FORMAT,
    MANIFEST_VERSION,
    BackupError,
    FileEntry,
    Progress,
    copy_file,
    file_sha256,
    safe_relative,
)

WORK_DIR = "tmp"
DATABASE_DIR = "database"
EVIDENCE_DIR = "evidence"
CHECKPOINTS_DIR = "checkpoints"
SIGNING_DIR = "signing"
SQLITE_FILE = "anfang.sqlite3"
PG_DUMP_FILE = "anfang.pgdump"
# Exported heads and signed checkpoints as server/audit/checkpoints.py names them.
CHECKPOINT_FILE = re.compile(r"^(?:head|checkpoint)-(\d{10})(?:-[0-9a-f]+)?\.json$")


@dataclass(frozen=True)
class Referenced:
    """A file a row of the snapshot names, with the hash that row records (None: none recorded)."""

    relative: str  # to EVIDENCE_DIR
    sha256: str | None
    what: str
    read_only: bool = True


@dataclass
class Snapshot:
    """What the database held at the snapshot, read in the snapshot itself."""

    backend: str
    file: str  # relative to the backup directory
    alembic_revision: str | None
    audit_head: dict
    tables: dict[str, int]
    files: list[Referenced]
    server_version: str | None = None


@dataclass(frozen=True)
class BackupResult:
    directory: Path
    manifest: dict
    manifest_sha256: str


def create_backup(directory: str | Path, *, include_signing_keys: bool = False,
                  progress: Progress | None = None) -> BackupResult:
    """Back up into `directory`, which must be empty or absent."""
    progress = progress or Progress()
    target = Path(directory)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"备份目录 {target} 不是空目录：请指定一个新的或空的目录。")
    made_here = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    work = target / WORK_DIR
    work.mkdir()
    try:
        manifest = _write_backup(work, include_signing_keys, progress)
        data = json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8") + b"\n"
        (work / MANIFEST_FILE).write_bytes(data)
        for entry in sorted(work.iterdir(), key=lambda path: path.name == MANIFEST_FILE):
            entry.rename(target / entry.name)
        work.rmdir()
        fsync_directory(target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        if made_here:  # leave no empty directory that looks like a backup
            target.rmdir()
        raise
    return BackupResult(target, manifest, hashlib.sha256(data).hexdigest())


def _write_backup(work: Path, include_signing_keys: bool, progress: Progress) -> dict:
    created_at = utcnow().replace(microsecond=0)
    (work / DATABASE_DIR).mkdir()
    snapshot = take_snapshot(work / DATABASE_DIR)
    entries: list[FileEntry] = []
    entries += _copy_referenced(snapshot.files, work, progress)
    entries += _copy_checkpoints(work, snapshot.audit_head["seq"])
    entries += _copy_signing_material(work, include_signing_keys)
    database_file = work / snapshot.file
    size, sha256 = file_sha256(database_file)
    entries.append(FileEntry(snapshot.file, size, sha256))
    fsync_directory(work / DATABASE_DIR)
    kinds: dict[str, int] = {}
    for referenced in snapshot.files:
        kinds[referenced.what] = kinds.get(referenced.what, 0) + 1
    return {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "created_at": created_at.isoformat().replace("+00:00", "Z"),
        "created_at_beijing": created_at.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%d %H:%M:%S"),
        "database": {"backend": snapshot.backend, "file": snapshot.file, "alembic_revision": snapshot.alembic_revision,
                     "server_version": snapshot.server_version, "tables": snapshot.tables},
        "audit_head": snapshot.audit_head,
        "evidence": kinds,
        "signing_keys_included": include_signing_keys,
        "files": [entry.as_dict() for entry in sorted(entries, key=lambda entry: entry.path)],
    }


# --- the database ------------------------------------------------------------------------------


def take_snapshot(directory: Path) -> Snapshot:
    """Write the snapshot under `directory` and read what it holds (in the snapshot itself)."""
    engine = db.engine
    if engine.dialect.name == "sqlite":
        if engine.url.database in (None, "", ":memory:"):
            raise BackupError("内存中的数据库无法备份：请使用数据库文件或 PostgreSQL。")
        return _sqlite_snapshot(engine, directory)
    if engine.dialect.name == "postgresql":
        return _postgres_snapshot(engine, directory)
    raise BackupError(f"不支持备份该类数据库：{engine.dialect.name}")


def _sqlite_snapshot(engine: sa.Engine, directory: Path) -> Snapshot:
    path = directory / SQLITE_FILE
    raw = engine.raw_connection()
    try:
        destination = sqlite3.connect(path)
        try:
            # pages=-1: all pages in one step, under one read transaction: a consistent copy however
            # much others write meanwhile (WAL lets them go on).
            raw.driver_connection.backup(destination, pages=-1)
            # One self-contained file: the copy inherits WAL mode, which needs its -wal/-shm companions.
            destination.execute("PRAGMA journal_mode=DELETE")
        finally:
            destination.close()
    finally:
        raw.close()
    reader = sa.create_engine("sqlite://", creator=lambda: sqlite3.connect(f"file:{path}?mode=ro", uri=True),
                              poolclass=sa.pool.NullPool)
    try:
        with reader.connect() as connection:
            return _read_snapshot(connection, "sqlite", f"{DATABASE_DIR}/{SQLITE_FILE}")
    finally:
        reader.dispose()


def _postgres_snapshot(engine: sa.Engine, directory: Path) -> Snapshot:
    path = directory / PG_DUMP_FILE
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            snapshot_id = connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
            # pg_dump reads the exported snapshot while this transaction keeps it alive; the rows
            # read below are the same ones it dumps.
            postgres.dump(connection, engine.url, snapshot_id, path)
            snapshot = _read_snapshot(connection, "postgresql", f"{DATABASE_DIR}/{PG_DUMP_FILE}")
            snapshot.server_version = connection.exec_driver_sql("SHOW server_version").scalar()
    return snapshot


def _read_snapshot(connection: sa.Connection, backend: str, file: str) -> Snapshot:
    inspector = sa.inspect(connection)
    present = set(inspector.get_table_names())
    if "alembic_version" not in present or "audit_chain_head" not in present:
        raise BackupError("数据库尚未建表：请先运行 anfang db upgrade，再备份。")
    revision = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    head = connection.execute(sa.select(AuditChainHead.last_seq, AuditChainHead.last_hash)
                              .where(AuditChainHead.id == HEAD_ID)).one_or_none()
    audit_head = {"seq": head.last_seq, "hash": head.last_hash} if head else {"seq": 0, "hash": GENESIS_HASH}
    tables = {table.name: connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()
              for table in db.metadata.sorted_tables if table.name in present}
    files = [Referenced(row.stored_path, row.sha256, "originals") for row in connection.execute(
        sa.select(EvidenceFile.stored_path, EvidenceFile.sha256).order_by(EvidenceFile.id))]
    files += [Referenced(row.pdf_path, row.pdf_sha256, "documents") for row in connection.execute(
        sa.select(Document.pdf_path, Document.pdf_sha256).order_by(Document.issued_at, Document.id))]
    files += [Referenced(row.pdf_path, row.pdf_sha256, "bulletins") for row in connection.execute(
        sa.select(Bulletin.pdf_path, Bulletin.pdf_sha256).where(Bulletin.pdf_path.is_not(None)).order_by(Bulletin.id))]
    files += _redacted_images({reference.sha256 for reference in files if reference.what == "originals"})
    return Snapshot(backend, file, revision, audit_head, tables, files)


def _redacted_images(originals: set[str]) -> list[Referenced]:
    """The redacted images made from the snapshot's photos (one walk, not a look-up per photo)."""
    root = Path(current_app.config["EVIDENCE_DIR"])
    found = []
    for path in sorted((root / REDACTED_DIR).glob("*/*/*.jpg")):
        if path.parent.name in originals:
            found.append(Referenced(path.relative_to(root).as_posix(), None, "redacted", read_only=False))
    return found


# --- files ---------------------------------------------------------------------------------------

WHAT_LABELS = {"originals": "证据照片", "documents": "已出具文书", "bulletins": "已发布简报", "redacted": "遮挡后图片"}


def _copy_referenced(files: list[Referenced], work: Path, progress: Progress) -> list[FileEntry]:
    root = Path(current_app.config["EVIDENCE_DIR"])
    entries = []
    seen: set[str] = set()
    progress.start("复制证据文件", len(files))
    for referenced in files:
        relative = safe_relative(referenced.relative).as_posix()
        if relative in seen:  # the same photo under two rows cannot happen; a path twice is copied once
            progress.advance()
            continue
        seen.add(relative)
        backup_path = f"{EVIDENCE_DIR}/{relative}"
        try:
            size, sha256 = copy_file(root / relative, work / backup_path)
        except FileNotFoundError:
            raise BackupError(f"{WHAT_LABELS[referenced.what]}文件缺失：{relative}（数据库中有记录）；"
                              "备份中止，请先核查证据目录。") from None
        if referenced.sha256 is not None and sha256 != referenced.sha256:
            raise BackupError(f"{WHAT_LABELS[referenced.what]}文件 {relative} 与数据库记录的 SHA-256 不符："
                              "文件已损坏或被改动；备份中止，请先核查证据目录。")
        entries.append(FileEntry(backup_path, size, sha256))
        progress.advance()
    return entries


def _copy_checkpoints(work: Path, head_seq: int) -> list[FileEntry]:
    """The exported heads and signed checkpoints up to the snapshot's head: a later one names an
    event the restored chain does not hold."""
    directory = current_app.config.get("AUDIT_CHECKPOINT_DIR")
    if not directory or not Path(directory).is_dir():
        return []
    entries = []
    for path in sorted(Path(directory).iterdir()):
        match = CHECKPOINT_FILE.match(path.name)
        if match is None or not path.is_file() or int(match.group(1)) > head_seq:
            continue
        backup_path = f"{CHECKPOINTS_DIR}/{path.name}"
        size, sha256 = copy_file(path, work / backup_path)
        entries.append(FileEntry(backup_path, size, sha256))
    return entries


def _copy_signing_material(work: Path, include_keys: bool) -> list[FileEntry]:
    """Trust roots and certificates always; the organs' private keys only when asked for."""
    config = current_app.config
    # (source, name in the backup): the configured trust roots go under the name restore looks for.
    sources: list[tuple[Path, str]] = []
    if config.get("DOCUMENT_TRUST_ROOTS"):
        sources.append((Path(config["DOCUMENT_TRUST_ROOTS"]), TRUST_ROOTS_FILE))
    directory = config.get("DOCUMENT_SIGNING_DIR")
    if directory and Path(directory).is_dir():
        for path in sorted(Path(directory).iterdir()):
            if not path.is_file():
                continue  # local-ca/ of the demo holds the CA's own key: never copied
            public = path.name == TRUST_ROOTS_FILE or path.name.endswith(CERT_SUFFIX)
            private = path.name.endswith(KEY_SUFFIX) or path.name.endswith(PKCS12_SUFFIXES)
            if public or (private and include_keys):
                sources.append((path, path.name))
    entries = []
    names: set[str] = set()
    for path, name in sources:
        if not path.is_file() or name in names:
            continue
        names.add(name)
        backup_path = f"{SIGNING_DIR}/{name}"
        size, sha256 = copy_file(path, work / backup_path)
        entries.append(FileEntry(backup_path, size, sha256))
    return entries
