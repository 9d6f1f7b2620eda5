"""Backups that restore: `anfang backup create` while writes go on, `anfang backup restore` into
empty stores, and the checks a restore must pass (audit chain, every evidence hash, every issued
document's verification, row counts as at the snapshot); a damaged backup or a store that holds
anything is refused before anything is restored.

The source is `separate_app` (its own migrated database, real commits); the restore target a
second empty database on the same backend and an evidence directory not yet made.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask_migrate import downgrade
from inspection_world import store_photo

from checkpoint_signer.format import public_key_text, sign_head
from server import create_app
from server.accounts.models.user import User
from server.audit import checkpoints
from server.audit.chain import record_event, verify_chain
from server.backup import postgres
from server.demo.rectification import seed_demo_rectification
from server.demo.registry import seed_demo
from server.demo.week import seed_week_inspections
from server.enforcement.documents import document_path, issue_inspection_record, record_document_of, verify_pdf
from server.enforcement.models.document import Document
from server.enforcement.organs import seal_of
from server.extensions import db as _db
from server.field.evidence_store import variant_file
from server.field.models.evidence import EvidenceFile
from server.field.models.inspection import Inspection
from server.pdf.signing import check as check_signature
from server.pdf.signing import load_trust_roots
from server.registry.loader import load_reference

WATCHED = ("evidence_file", "document", "audit_event")


@pytest.fixture
def restore_target(database_url, tmp_path_factory):
    """The app on a second, empty database (not even migrated) and an evidence directory not yet made."""
    place = tmp_path_factory.mktemp("restored")
    admin, name = None, None
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{place / 'restored.sqlite3'}"
    else:
        base = sa.engine.make_url(database_url)
        name = f"{base.database}_restore_{uuid.uuid4().hex[:6]}"
        admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name).render_as_string(hide_password=False)
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, EVIDENCE_DIR=str(place / "evidence"))
    try:
        yield app
    finally:
        with app.app_context():
            _db.engine.dispose()
        if admin is not None:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def table_counts(app, names=WATCHED) -> dict[str, int]:
    with app.app_context():
        tables = {table.name: table for table in _db.metadata.sorted_tables}
        counts = {name: _db.session.scalar(sa.select(sa.func.count()).select_from(tables[name])) for name in names}
        _db.session.remove()
    return counts


def relation_count(app) -> int:
    with app.app_context():
        with _db.engine.connect() as connection:
            if _db.engine.dialect.name == "sqlite":
                return connection.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
            return postgres.relation_count(connection)


def backup(app, directory: Path):
    return app.test_cli_runner().invoke(args=["backup", "create", str(directory)])


def restore(app, directory: Path):
    return app.test_cli_runner().invoke(args=["backup", "restore", str(directory)])


def output_of(result) -> str:
    return result.output + (result.stderr if result.stderr_bytes is not None else "")


class Writer(threading.Thread):
    """Keeps writing as the server would while a backup is taken: a photo stored (file, then its
    row and audit event) every round, and every third round an inspection's 检查记录 issued."""

    def __init__(self, app):
        super().__init__(name="backup-writer", daemon=True)
        self.app = app
        self.stop = threading.Event()
        self.rounds = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with self.app.app_context():
                try:
                    self._write()
                finally:
                    _db.session.rollback()
                    _db.session.remove()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def _write(self) -> None:
        office = _db.session.scalar(sa.select(User).where(User.username == "office"))
        inspections = [inspection for inspection in _db.session.scalars(
            sa.select(Inspection).where(Inspection.status == "complete", Inspection.is_primary.is_(True))
            .order_by(Inspection.id)) if record_document_of(inspection) is None]
        while not self.stop.is_set():
            digest = store_photo(self.app, office)
            record_event("evidence.stored", actor=office, channel="api", object_type="evidence_file",
                         object_id=digest, details={"sha256": digest})
            if self.rounds % 3 == 0 and inspections:
                issue_inspection_record(inspections.pop(0), office, channel="cli")
            _db.session.commit()
            self.rounds += 1

    def wait_for(self, rounds: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.rounds < rounds and self.error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.error is None, self.error
        assert self.rounds >= rounds, f"the writer made {self.rounds} rounds in {timeout} s"


def seed_city(app, checkpoint_dir: Path) -> None:
    """The demo registry, two days of inspections with photos, a rectification order (an issued,
    signed document), an auditor's signed checkpoint exported to the write-once place."""
    with app.app_context():
        load_reference()
        _db.session.commit()
        seed_demo()
        _db.session.commit()
        seed_week_inspections(2)
        _db.session.commit()
        assert seed_demo_rectification() is not None
        _db.session.commit()
        auditor_key = Ed25519PrivateKey.generate()
        checkpoints.register_key(public_key_text(auditor_key.public_key()), "纪检审计")
        _db.session.commit()
        checkpoints.add_checkpoint(sign_head(checkpoints.export_head(), auditor_key).file_bytes())
        _db.session.commit()
        checkpoints.export_checkpoints(checkpoint_dir)
        _db.session.remove()
    # A head exported after the snapshot (by the name; the content does not matter): left out.
    (checkpoint_dir / "head-9999999999.json").write_text("{}")


def test_a_backup_taken_under_writes_restores_into_empty_stores_and_verifies(
        separate_app, restore_target, organ_keys_dir, tmp_path_factory):
    checkpoint_dir = tmp_path_factory.mktemp("checkpoints")
    separate_app.config.update(DOCUMENT_SIGNING_DIR=str(organ_keys_dir), AUDIT_CHECKPOINT_DIR=str(checkpoint_dir))
    seed_city(separate_app, checkpoint_dir)
    before = table_counts(separate_app)
    directory = tmp_path_factory.mktemp("backups") / "daily"

    writer = Writer(separate_app)
    writer.start()
    try:
        writer.wait_for(2)
        created = backup(separate_app, directory)
        writer.wait_for(writer.rounds + 2)
    finally:
        writer.stop.set()
        writer.join(timeout=120)
    assert writer.error is None, writer.error
    assert created.exit_code == 0, output_of(created)
    assert "备份完成" in created.output
    after = table_counts(separate_app)

    manifest = json.loads((directory / "manifest.json").read_text("utf-8"))
    tables = manifest["database"]["tables"]
    # The snapshot holds what was written before the backup began and not what came after it.
    assert before["evidence_file"] < tables["evidence_file"] < after["evidence_file"]
    assert before["audit_event"] < tables["audit_event"] < after["audit_event"]
    assert before["document"] < tables["document"] <= after["document"]
    assert manifest["audit_head"]["seq"] == tables["audit_event"]
    assert sorted(path.name for path in directory.iterdir()) == ["checkpoints", "database", "evidence", "manifest.json",
                                                                 "signing"]
    listed = {entry["path"] for entry in manifest["files"]}
    assert sum(path.startswith("evidence/sha256/") for path in listed) == tables["evidence_file"]
    assert sum(path.startswith("evidence/documents/") for path in listed) == tables["document"]
    assert not any(path.startswith(("evidence/variants/", "evidence/incoming/")) for path in listed)
    assert "checkpoints/head-9999999999.json" not in listed
    assert any(path.startswith("checkpoints/checkpoint-") for path in listed)
    # Certificates and trust roots, never an organ's private key unless asked for.
    assert "signing/trust-roots.pem" in listed
    assert not any(path.endswith(".key.pem") for path in listed)
    for entry in manifest["files"]:
        data = (directory / entry["path"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["size"], entry["sha256"])

    restored = restore(restore_target, directory)
    text = output_of(restored)
    assert restored.exit_code == 0, text
    assert "审计链完整" in text and "恢复后校验全部通过" in text
    assert f"{tables['document']} 份全部核验为真实有效，其中 {tables['document']} 份电子签章有效" in text

    roots = load_trust_roots(directory / "signing" / "trust-roots.pem")
    with restore_target.app_context():
        report = verify_chain()
        assert report.ok, report.first_broken
        assert report.count == manifest["audit_head"]["seq"]
        evidence = _db.session.scalars(sa.select(EvidenceFile)).all()
        assert len(evidence) == tables["evidence_file"]
        root = Path(restore_target.config["EVIDENCE_DIR"])
        for row in evidence:
            assert hashlib.sha256((root / row.stored_path).read_bytes()).hexdigest() == row.sha256
        documents = _db.session.scalars(sa.select(Document)).all()
        assert len(documents) == tables["document"]
        for document in documents:
            data = document_path(document).read_bytes()
            result = verify_pdf(data)
            assert result.genuine and result.document.id == document.id
            assert check_signature(data, roots, expected_signer=seal_of(document.organ)).valid
        # Variants were left out because they are made again from the original when asked for.
        assert variant_file(evidence[0], "thumbnail").is_file()
        _db.session.remove()
    assert table_counts(restore_target, tables) == tables


def light_seed(app) -> None:
    with app.app_context():
        office = User(username="office-backup", display_name="测试办公室", role="office", password_hash="x")
        _db.session.add(office)
        _db.session.flush()
        digest = store_photo(app, office)
        record_event("evidence.stored", actor=office, channel="api", object_type="evidence_file",
                     object_id=digest, details={"sha256": digest})
        _db.session.commit()
        _db.session.remove()


def _flip_a_photo_byte(directory: Path) -> None:
    photo = next((directory / "evidence" / "sha256").rglob("*"), None)
    while photo is not None and photo.is_dir():
        photo = next(photo.iterdir())
    data = bytearray(photo.read_bytes())
    data[len(data) // 2] ^= 0x01
    photo.write_bytes(bytes(data))


def _change_the_database(directory: Path) -> None:
    database = next((directory / "database").iterdir())
    with open(database, "ab") as handle:
        handle.write(b"\0")


def _remove_the_database(directory: Path) -> None:
    next((directory / "database").iterdir()).unlink()


def _remove_the_manifest(directory: Path) -> None:
    (directory / "manifest.json").unlink()


@pytest.mark.parametrize(("damage", "message"), [
    (_flip_a_photo_byte, "SHA-256 不符"),
    (_change_the_database, "SHA-256 不符"),
    (_remove_the_database, "备份文件缺失"),
    (_remove_the_manifest, "没有 manifest.json"),
])
def test_a_damaged_backup_is_refused_before_anything_is_restored(separate_app, restore_target, tmp_path, damage,
                                                                  message):
    light_seed(separate_app)
    directory = tmp_path / "backup"
    assert backup(separate_app, directory).exit_code == 0
    damage(directory)

    result = restore(restore_target, directory)
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert relation_count(restore_target) == 0
    assert not Path(restore_target.config["EVIDENCE_DIR"]).exists()


def test_restore_refuses_a_database_or_evidence_directory_that_holds_anything(separate_app, restore_target,
                                                                               tmp_path):
    light_seed(separate_app)
    directory = tmp_path / "backup"
    assert backup(separate_app, directory).exit_code == 0
    before = table_counts(separate_app)

    into_the_source = restore(separate_app, directory)
    assert into_the_source.exit_code == 1
    assert into_the_source.stderr.strip() == "错误：目标数据库不是空数据库：只能恢复到新建的空数据库，未恢复任何内容。"
    assert table_counts(separate_app) == before

    evidence = Path(restore_target.config["EVIDENCE_DIR"])
    evidence.mkdir()
    (evidence / "left-over.jpg").write_bytes(b"x")
    into_used_evidence = restore(restore_target, directory)
    assert into_used_evidence.exit_code == 1
    assert "证据目录" in into_used_evidence.stderr and "不是空目录" in into_used_evidence.stderr
    assert relation_count(restore_target) == 0


def test_a_backup_of_an_older_revision_is_restored_and_brought_up_to_date(separate_app, restore_target, tmp_path):
    with separate_app.app_context():
        downgrade(directory=separate_app.config["MIGRATIONS_DIR"], revision="-1")
        older = _db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        _db.session.remove()
    light_seed(separate_app)
    directory = tmp_path / "backup"
    assert backup(separate_app, directory).exit_code == 0
    assert json.loads((directory / "manifest.json").read_text("utf-8"))["database"]["alembic_revision"] == older

    result = restore(restore_target, directory)
    assert result.exit_code == 0, output_of(result)
    assert f"备份的数据库结构版本 {older} 较旧" in result.output and "恢复后校验全部通过" in result.output
    with restore_target.app_context():
        head = ScriptDirectory(restore_target.config["MIGRATIONS_DIR"]).get_current_head()
        assert _db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == head
        _db.session.remove()


def test_create_refuses_a_directory_that_holds_anything(separate_app, tmp_path):
    light_seed(separate_app)
    directory = tmp_path / "used"
    directory.mkdir()
    (directory / "notes.txt").write_text("旧文件")
    result = backup(separate_app, directory)
    assert result.exit_code == 1
    assert "不是空目录" in result.stderr
    assert [path.name for path in directory.iterdir()] == ["notes.txt"]


def test_a_pg_dump_of_another_major_version_is_refused_in_words(separate_app, tmp_path, monkeypatch):
    with separate_app.app_context():
        on_postgresql = _db.engine.dialect.name == "postgresql"
    monkeypatch.setattr(postgres, "client_major", lambda tool: (tool, 99))
    result = backup(separate_app, tmp_path / "backup")
    if not on_postgresql:
        # SQLite is copied with its own online backup API: no PostgreSQL client is asked.
        assert result.exit_code == 0, result.stderr
        return
    assert result.exit_code == 1
    assert "pg_dump 的主版本（99）与数据库服务器的主版本" in result.stderr
    assert not (tmp_path / "backup").exists()
