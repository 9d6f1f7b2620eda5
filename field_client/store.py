"""The device's local store: one SQLite file under the field home, plus the token file and photos.

Durability first: an inspector's battery may die at any moment. The database runs in WAL mode
with `synchronous=FULL` (a committed change survives power loss, not only a crash), foreign keys
are enforced, and every change is written together with its outbox operation in one transaction
(`Store.change()`), so that the outbox can never miss a change nor carry one that did not happen.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import sqlite3
import uuid
from pathlib import Path
from typing import Self

DB_NAME = "field.sqlite3"
TOKEN_NAME = "token"
PHOTOS_DIR = "photos"
HOME_ENV = "ANFANG_FIELD_HOME"
# The server serves no envelope of an assignment that will not be visited; the device drops its
# copy (and any key) when it hears of either status, by the assignment list or the change pull.
DROPPED_ENVELOPE_STATUSES = ("cancelled", "expired")
# The offline reveal clock tolerance (seconds) the server's change pull last gave (config key).
REVEAL_TOLERANCE_KEY = "reveal_clock_tolerance_s"

# Each entry upgrades the schema from version N to N + 1 (PRAGMA user_version).
MIGRATIONS = [
    """
    CREATE TABLE config (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE assignments (
        id INTEGER PRIMARY KEY,                 -- the server's id
        uuid TEXT NOT NULL UNIQUE,
        draw_id INTEGER,
        position INTEGER,
        status TEXT NOT NULL,
        status_label TEXT,
        visit_date TEXT,
        window_start TEXT,
        window_end TEXT,
        meeting_point TEXT,
        may_propose_penalties INTEGER NOT NULL DEFAULT 0,
        members TEXT NOT NULL DEFAULT '[]',
        envelope BLOB,
        target TEXT,
        revealed_at TEXT,
        revealed_how TEXT CHECK (revealed_how IN ('code', 'online')),
        pulled_at TEXT NOT NULL
    );
    CREATE TABLE rules (
        id INTEGER PRIMARY KEY CHECK (id = 1),  -- one bundle: the latest pulled
        version TEXT NOT NULL,
        bundle TEXT NOT NULL,
        pulled_at TEXT NOT NULL
    );
    CREATE TABLE inspections (
        uuid TEXT PRIMARY KEY,
        assignment_uuid TEXT NOT NULL UNIQUE REFERENCES assignments (uuid),
        checked_in_at TEXT NOT NULL,
        latitude REAL,
        longitude REAL,
        device_time TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'submitted')),
        submitted_at TEXT
    );
    CREATE TABLE observations (
        inspection_uuid TEXT NOT NULL REFERENCES inspections (uuid),
        item_code TEXT NOT NULL,
        value TEXT NOT NULL,
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (inspection_uuid, item_code)
    );
    CREATE TABLE findings (
        uuid TEXT PRIMARY KEY,
        inspection_uuid TEXT NOT NULL REFERENCES inspections (uuid),
        rule_code TEXT NOT NULL,
        check_code TEXT,
        description TEXT NOT NULL,
        source TEXT NOT NULL CHECK (source IN ('evaluator', 'manual')),
        created_at TEXT NOT NULL,
        withdrawn_at TEXT
    );
    CREATE TABLE photos (
        uuid TEXT PRIMARY KEY,
        inspection_uuid TEXT NOT NULL REFERENCES inspections (uuid),
        finding_uuid TEXT REFERENCES findings (uuid),
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        filename TEXT NOT NULL,
        original_name TEXT NOT NULL,
        media_type TEXT NOT NULL,
        caption TEXT,
        exif_time TEXT,
        latitude REAL,
        longitude REAL,
        orientation INTEGER,
        created_at TEXT NOT NULL
    );
    CREATE TABLE penalties (
        uuid TEXT PRIMARY KEY,
        finding_uuid TEXT NOT NULL REFERENCES findings (uuid),
        type TEXT NOT NULL CHECK (type IN ('warning', 'fine', 'suspend')),
        amount INTEGER CHECK (amount IS NULL OR amount > 0),
        basis_code TEXT,
        created_at TEXT NOT NULL,
        CHECK (type != 'fine' OR amount IS NOT NULL)
    );
    CREATE TABLE notes (
        uuid TEXT PRIMARY KEY,
        inspection_uuid TEXT NOT NULL REFERENCES inspections (uuid),
        kind TEXT NOT NULL CHECK (kind IN ('positive', 'negative')),
        text TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE amendments (
        uuid TEXT PRIMARY KEY,
        inspection_uuid TEXT NOT NULL REFERENCES inspections (uuid),
        reason TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    -- Append-only, enforced by the database as well as by the commands.
    CREATE TRIGGER amendments_no_update BEFORE UPDATE ON amendments
        BEGIN SELECT RAISE(ABORT, 'amendments are append-only'); END;
    CREATE TRIGGER amendments_no_delete BEFORE DELETE ON amendments
        BEGIN SELECT RAISE(ABORT, 'amendments are append-only'); END;
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- the order the operations must be pushed in
        op_id TEXT NOT NULL UNIQUE,
        entity TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        payload TEXT NOT NULL,
        payload_sha256 TEXT NOT NULL,
        created_at TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
        last_error TEXT
    );
    CREATE INDEX ix_outbox_state ON outbox (state, seq);
    """,
    # 2: sync. What the server answered for each operation; the resumable state of each photo's
    # tus upload (its URL and the offset last confirmed, so a cut connection resumes rather than
    # restarts); every change pulled from the server, kept as received; the server's view of an
    # inspection (awaiting_evidence, complete) beside the device's own draft/submitted.
    """
    ALTER TABLE outbox ADD COLUMN server_seq INTEGER;
    ALTER TABLE outbox ADD COLUMN synced_at TEXT;
    CREATE TABLE photo_uploads (
        photo_uuid TEXT PRIMARY KEY REFERENCES photos (uuid),
        upload_url TEXT,
        upload_offset INTEGER NOT NULL DEFAULT 0,
        uploaded_at TEXT,
        last_error TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE server_changes (
        seq INTEGER PRIMARY KEY,                -- the server's sequence number
        entity TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        data TEXT NOT NULL,
        received_at TEXT NOT NULL
    );
    ALTER TABLE inspections ADD COLUMN server_status TEXT;
    ALTER TABLE inspections ADD COLUMN server_status_at TEXT;
    """,
    # 3: a refused operation stays outstanding until it is settled: by a later operation on the
    # same record that the server accepts (a corrected resend), or by an amendment that names it
    # (`settled_by`, the amendment's op_id) once the server accepts that amendment.
    """
    ALTER TABLE outbox ADD COLUMN settled_by TEXT;
    ALTER TABLE outbox ADD COLUMN settled_at TEXT;
    """,
    # 4: signatures on site. Each inspector and the venue's person in charge signs (a PNG of the
    # handwriting, kept as the bytes the server receives), or refuses with a witness note.
    """
    CREATE TABLE signatures (
        uuid TEXT PRIMARY KEY,
        inspection_uuid TEXT NOT NULL REFERENCES inspections (uuid),
        role TEXT NOT NULL CHECK (role IN ('inspector', 'venue_person')),
        signer_name TEXT NOT NULL CHECK (length(signer_name) BETWEEN 1 AND 64),
        signed_at TEXT NOT NULL,
        refused INTEGER NOT NULL CHECK (refused IN (0, 1)),
        witness_note TEXT CHECK (witness_note IS NULL OR length(witness_note) <= 500),
        png BLOB,
        png_sha256 TEXT,
        CHECK (CASE WHEN refused THEN png IS NULL AND png_sha256 IS NULL AND witness_note IS NOT NULL
                    ELSE png IS NOT NULL AND png_sha256 IS NOT NULL END)
    );
    CREATE INDEX ix_signatures_inspection ON signatures (inspection_uuid);
    """,
    # 5: amendments reach findings, penalties and notes. A row an amendment added names it
    # (`amendment_uuid`); a row it withdrew keeps everything and gets `withdrawn_at` and the
    # amendment (`withdrawn_by`), as on the server: nothing is deleted.
    """
    ALTER TABLE findings ADD COLUMN amendment_uuid TEXT REFERENCES amendments (uuid);
    ALTER TABLE findings ADD COLUMN withdrawn_by TEXT REFERENCES amendments (uuid);
    ALTER TABLE penalties ADD COLUMN amendment_uuid TEXT REFERENCES amendments (uuid);
    ALTER TABLE penalties ADD COLUMN withdrawn_at TEXT;
    ALTER TABLE penalties ADD COLUMN withdrawn_by TEXT REFERENCES amendments (uuid);
    ALTER TABLE notes ADD COLUMN amendment_uuid TEXT REFERENCES amendments (uuid);
    ALTER TABLE notes ADD COLUMN withdrawn_at TEXT;
    ALTER TABLE notes ADD COLUMN withdrawn_by TEXT REFERENCES amendments (uuid);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def default_home() -> Path:
    """The per-user data directory (XDG layout, as platformdirs would give on Linux)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "anfang-field"


def resolve_home(option: str | os.PathLike | None) -> Path:
    if option:
        return Path(option)
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV])
    return default_home()


def now_utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def new_uuid() -> str:
    return str(uuid.uuid4())


def canonical_json(value) -> bytes:
    """The bytes an operation's hash covers: sorted keys, no whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def fsync_directory(path: Path) -> None:
    # A rename is durable only once the directory entry itself is on disk.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StoreError(Exception):
    """A local store problem, with a message for the inspector (Chinese)."""


class Change:
    """One transaction: rows written here are queued for the server in the same commit."""

    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection

    def execute(self, sql: str, params=()) -> sqlite3.Cursor:
        return self.connection.execute(sql, params)

    def enqueue(self, entity: str, entity_id: str, payload: dict) -> str:
        body = canonical_json(payload)
        op_id = new_uuid()
        self.connection.execute(
            "INSERT INTO outbox (op_id, entity, entity_id, payload, payload_sha256, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (op_id, entity, entity_id, body.decode("utf-8"), hashlib.sha256(body).hexdigest(), now_utc()),
        )
        return op_id

    def insert(self, table: str, row: dict, *, entity: str, entity_id: str, payload: dict | None = None) -> str:
        """Insert `row` and queue it (or `payload`) as one operation on `entity`."""
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        self.connection.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(row.values()))
        return self.enqueue(entity, entity_id, payload if payload is not None else row)


class Store:
    """The open local store. Use as a context manager: the connection is always closed."""

    def __init__(self, home: Path):
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.photos_dir.mkdir(exist_ok=True, mode=0o700)
        path = self.home / DB_NAME
        if not path.exists():
            # The database holds revealed targets: readable by this user only.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        # Autocommit mode: transactions are opened explicitly by `change()`.
        self.connection = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            self.connection.row_factory = sqlite3.Row
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute("PRAGMA synchronous=FULL")
            self.connection.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except BaseException:
            self.connection.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    @property
    def photos_dir(self) -> Path:
        return self.home / PHOTOS_DIR

    def _migrate(self) -> None:
        version = self.connection.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"本地数据库版本（{version}）比客户端新，请升级 anfang-field。")
        for number in range(version, SCHEMA_VERSION):
            with self.change() as tx:
                for statement in _statements(MIGRATIONS[number]):
                    tx.execute(statement)
                tx.execute(f"PRAGMA user_version = {number + 1}")

    @contextlib.contextmanager
    def change(self):
        """A write transaction: committed on success, rolled back entirely on any exception."""
        # IMMEDIATE takes the write lock now, so two commands never interleave half-changes.
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield Change(self.connection)
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    def query(self, sql: str, params=()) -> list[sqlite3.Row]:
        return self.connection.execute(sql, params).fetchall()

    def query_one(self, sql: str, params=()) -> sqlite3.Row | None:
        return self.connection.execute(sql, params).fetchone()

    # --- configuration and token ---------------------------------------------------------------

    def get_config(self, key: str) -> str | None:
        row = self.query_one("SELECT value FROM config WHERE key = ?", (key,))
        return row["value"] if row else None

    def set_config(self, values: dict[str, str]) -> None:
        with self.change() as tx:
            for key, value in values.items():
                tx.execute("INSERT INTO config (key, value) VALUES (?, ?)"
                           " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def device_id(self) -> str:
        """This store's device UUID, made once (the first time it is asked for) and kept."""
        with self.change() as tx:
            tx.execute("INSERT INTO config (key, value) VALUES ('device_id', ?) ON CONFLICT (key) DO NOTHING",
                       (new_uuid(),))
            return tx.execute("SELECT value FROM config WHERE key = 'device_id'").fetchone()[0]

    @property
    def token_path(self) -> Path:
        return self.home / TOKEN_NAME

    def save_token(self, token: str) -> None:
        """Write the device token readable by this user only, replacing any previous one atomically."""
        temporary = self.home / f".{TOKEN_NAME}.tmp"
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        # Created with 0600 from the start: there is no moment at which others could read it.
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(token)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.token_path)
        fsync_directory(self.home)

    def load_token(self) -> str | None:
        try:
            return self.token_path.read_text(encoding="utf-8").strip() or None
        except FileNotFoundError:
            return None


def _statements(script: str) -> list[str]:
    """Split a migration into statements; trigger bodies keep their inner semicolons."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        if line.strip().startswith("--") and not buffer.strip():
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    return [statement for statement in statements if statement]
