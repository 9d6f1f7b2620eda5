"""`restore_backup`: check everything, refuse a database or evidence directory that holds anything,
restore, then verify what was restored as `anfang audit verify` and the document check would."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import upgrade

from ..audit.chain import current_head, verify_chain
from ..audit.checkpoints import check_directory, list_checkpoints, stored_checkpoint_standing
from ..enforcement.documents import content_sha256, document_path, trust_roots, verify_pdf
from ..enforcement.models.document import Document
from ..enforcement.organs import seal_of
from ..extensions import db
from ..field.models.evidence import EvidenceFile
from ..pdf.signing import TRUST_ROOTS_FILE, has_signature, load_trust_roots
from ..pdf.signing import check as check_signature
from ..publicity.models.material import Bulletin
from . import postgres
from .create import CHECKPOINTS_DIR, EVIDENCE_DIR, SIGNING_DIR
from .manifest import BackupError, Progress, copy_file, file_sha256, read_manifest, safe_relative, verify_files

BACKEND_LABELS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
# Files that are never rewritten where the server writes them (originals, documents, bulletins).
READ_ONLY_PREFIXES = ("sha256/", "documents/", "bulletins/")


@dataclass
class RestoreReport:
    """What the checks after a restore found: `lines` to print, `problems` (one Chinese line each)."""

    manifest: dict
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def restore_backup(directory: str | Path, *, progress: Progress | None = None) -> RestoreReport:
    """Restore the backup in `directory` into this app's (empty) database and evidence directory."""
    progress = progress or Progress()
    source = Path(directory)
    manifest = read_manifest(source)
    verify_files(source, manifest, progress)
    _check_revision(manifest["database"]["alembic_revision"])
    engine = db.engine
    backend = manifest["database"]["backend"]
    if engine.dialect.name != backend:
        raise BackupError(f"该备份来自 {BACKEND_LABELS.get(backend, backend)} 数据库，不能恢复到 "
                          f"{BACKEND_LABELS.get(engine.dialect.name, engine.dialect.name)} 数据库。")
    _check_database_empty(engine)
    evidence_root = Path(current_app.config["EVIDENCE_DIR"])
    if evidence_root.exists() and (not evidence_root.is_dir() or any(evidence_root.iterdir())):
        raise BackupError(f"证据目录 {evidence_root} 不是空目录：只能恢复到空的证据目录，未恢复任何内容。")

    db.session.remove()
    engine.dispose()
    _restore_database(engine, source / safe_relative(manifest["database"]["file"]))
    engine.dispose()
    _restore_evidence(source, manifest, evidence_root, progress)
    upgraded_to = _upgrade_if_older(manifest["database"]["alembic_revision"])
    report = check_restored(source, manifest, progress)
    if upgraded_to is not None:
        report.notes.append(f"备份的数据库结构版本 {manifest['database']['alembic_revision']} 较旧，"
                            f"已按本程序的迁移升级到 {upgraded_to}。")
    return report


def _check_revision(revision: str | None) -> None:
    """A backup of a database this code has no migration for (a newer version) is refused."""
    if revision is None:
        return
    script = ScriptDirectory(current_app.config["MIGRATIONS_DIR"])
    try:
        known = script.get_revision(revision)
    except Exception:  # alembic raises several kinds for an unknown or malformed id
        known = None
    if known is None:
        raise BackupError(f"备份的数据库结构版本 {revision} 不为本程序所知：请用与备份时相同或更新的版本恢复。")


def _upgrade_if_older(revision: str | None) -> str | None:
    """A backup from before this code's last migration is brought up to it (as `anfang db upgrade`
    would be run next), so that the checks read it with this code's models; the new head or None."""
    head = ScriptDirectory(current_app.config["MIGRATIONS_DIR"]).get_current_head()
    if revision == head:
        return None
    upgrade(directory=current_app.config["MIGRATIONS_DIR"])
    db.session.remove()
    db.engine.dispose()
    return head


def _check_database_empty(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            if engine.url.database in (None, "", ":memory:"):
                raise BackupError("不能恢复到内存中的数据库：请配置数据库文件（DATABASE_URL）。")
            count = connection.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
        else:
            count = postgres.relation_count(connection)
    if count:
        raise BackupError("目标数据库不是空数据库：只能恢复到新建的空数据库，未恢复任何内容。")


def _restore_database(engine: sa.Engine, file: Path) -> None:
    if engine.dialect.name == "sqlite":
        backup = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
        try:
            target = sqlite3.connect(engine.url.database)
            try:
                backup.backup(target, pages=-1)
            finally:
                target.close()
        finally:
            backup.close()
        return
    with engine.connect() as connection:
        postgres.restore(connection, engine.url, file)


def _restore_evidence(source: Path, manifest: dict, root: Path, progress: Progress) -> None:
    prefix = f"{EVIDENCE_DIR}/"
    entries = [entry for entry in manifest["files"] if entry["path"].startswith(prefix)]
    progress.start("恢复证据文件", len(entries))
    root.mkdir(parents=True, exist_ok=True)
    for entry in entries:
        relative = entry["path"][len(prefix):]
        copy_file(source / safe_relative(entry["path"]), root / safe_relative(relative),
                  read_only=relative.startswith(READ_ONLY_PREFIXES))
        progress.advance()


# --- the checks after a restore ------------------------------------------------------------------


def check_restored(source: Path, manifest: dict, progress: Progress) -> RestoreReport:
    """The restored stores against the manifest: row counts, the audit chain and its checkpoints,
    every evidence file's hash, every issued document's verification."""
    report = RestoreReport(manifest)
    _check_counts(manifest, report)
    _check_audit(source, manifest, report)
    _check_files(manifest, report, progress)
    _check_documents(source, report, progress)
    return report


def _check_counts(manifest: dict, report: RestoreReport) -> None:
    tables = {table.name: table for table in db.metadata.sorted_tables}
    differing = []
    for name, expected in sorted(manifest["database"]["tables"].items()):
        table = tables.get(name)
        actual = db.session.scalar(sa.select(sa.func.count()).select_from(table)) if table is not None else None
        if actual != expected:
            differing.append(f"{name}（备份 {expected} 行，恢复后 {actual if actual is not None else '无此表'}）")
    if differing:
        report.problems.append(f"数据表行数与备份时不符：{'；'.join(differing)}")
    else:
        rows = sum(manifest["database"]["tables"].values())
        report.lines.append(f"数据库：{len(manifest['database']['tables'])} 张表共 {rows} 行，与备份时一致")


def _check_audit(source: Path, manifest: dict, report: RestoreReport) -> None:
    chain = verify_chain()
    head = current_head()
    expected = manifest["audit_head"]
    if not chain.ok:
        broken = chain.first_broken
        report.problems.append(f"审计链已损坏：第 {broken.seq} 条，{broken.reason_label}；{broken.detail}")
    elif (head.seq, head.hash) != (expected["seq"], expected["hash"]):
        report.problems.append(f"审计链头与备份清单不符：恢复后为第 {head.seq} 条（{head.hash[:16]}…），"
                               f"清单记录第 {expected['seq']} 条（{expected['hash'][:16]}…）")
    else:
        report.lines.append(f"审计链完整：共 {chain.count} 条事件，链头与备份时一致（{head.hash[:16]}…）")
    stored = list_checkpoints(limit=1_000_000)
    standing = stored_checkpoint_standing(stored)
    if not all(standing.values()):
        report.problems.append(f"已登记的检查点中有 {list(standing.values()).count(False)} 个与审计链不符")
    directory = source / CHECKPOINTS_DIR
    if any(directory.glob("checkpoint-*.json")):
        checked = check_directory(directory, chain)
        report.problems.extend(checked.problems)
        if checked.ok:
            report.lines.append(f"检查点：备份中的 {checked.checked} 个已签名检查点均与审计链相符")
    elif stored:
        report.lines.append(f"检查点：已登记的 {len(stored)} 个检查点均与审计链相符")


def _check_files(manifest: dict, report: RestoreReport, progress: Progress) -> None:
    """Every restored file against the manifest, and every evidence row against its file."""
    root = Path(current_app.config["EVIDENCE_DIR"])
    prefix = f"{EVIDENCE_DIR}/"
    listed = {entry["path"][len(prefix):]: entry["sha256"] for entry in manifest["files"]
              if entry["path"].startswith(prefix)}
    progress.start("核对恢复后的证据文件", len(listed))
    actual: dict[str, str | None] = {}
    bad = []
    for relative, expected in listed.items():
        try:
            actual[relative] = file_sha256(root / relative)[1]
        except OSError:
            actual[relative] = None
        if actual[relative] != expected:
            bad.append(relative)
        progress.advance()
    rows = [(row.stored_path, row.sha256) for row in db.session.execute(
        sa.select(EvidenceFile.stored_path, EvidenceFile.sha256))]
    rows += [(row.pdf_path, row.pdf_sha256) for row in db.session.execute(
        sa.select(Bulletin.pdf_path, Bulletin.pdf_sha256).where(Bulletin.pdf_path.is_not(None)))]
    for relative, sha256 in rows:
        if relative not in actual:
            actual[relative] = _sha256_or_none(root / relative)
        if actual[relative] != sha256:
            bad.append(relative)
    if bad:
        bad = sorted(set(bad))
        shown = "、".join(bad[:5]) + ("等" if len(bad) > 5 else "")
        report.problems.append(f"证据文件与记录的 SHA-256 不符或缺失：{len(bad)} 个（{shown}）")
    else:
        report.lines.append(f"证据文件：{len(listed)} 个文件的 SHA-256 均与备份清单和数据库记录相符")


def _sha256_or_none(path: Path) -> str | None:
    try:
        return file_sha256(path)[1]
    except OSError:
        return None


def _check_documents(source: Path, report: RestoreReport, progress: Progress) -> None:
    """Each issued document as the public verification would judge its stored file: genuine, the
    content hash recomputed, and a signature valid under the trust roots (the configured ones, else
    those in the backup)."""
    roots = trust_roots()
    if not roots and (source / SIGNING_DIR / TRUST_ROOTS_FILE).is_file():
        roots = load_trust_roots(source / SIGNING_DIR / TRUST_ROOTS_FILE)
    documents = db.session.scalars(sa.select(Document).order_by(Document.issued_at, Document.id)).all()
    progress.start("核验已出具文书", len(documents))
    failed, signed, unchecked = [], 0, 0
    for document in documents:
        progress.advance()
        try:
            data = document_path(document).read_bytes()
        except OSError:
            failed.append(f"{document.number}（文件缺失）")
            continue
        result = verify_pdf(data)
        if not result.genuine or result.document.id != document.id:
            failed.append(f"{document.number}（{result.message}）")
            continue
        if content_sha256(document.kind, document.number, document.context) != document.content_sha256:
            failed.append(f"{document.number}（内容哈希不符）")
            continue
        if has_signature(data):
            if not roots:
                unchecked += 1
                continue
            check = check_signature(data, roots, expected_signer=seal_of(document.organ))
            if not check.valid:
                failed.append(f"{document.number}（{check.message}）")
                continue
            signed += 1
    if failed:
        report.problems.append(f"已出具文书核验未通过 {len(failed)} 份：{'；'.join(failed[:5])}")
    else:
        report.lines.append(f"已出具文书：{len(documents)} 份全部核验为真实有效，其中 {signed} 份电子签章有效")
    if unchecked:
        report.notes.append(f"{unchecked} 份文书带电子签章，但未配置受信任根证书，签章未核对。")
