"""A backup taken while `anfang serve --workers 4` is under load restores into empty stores and verifies.

The server of the soak (tests/serve_soak.py: a fresh PostgreSQL database, Redis, four worker
processes) takes every device's record and photos, and one more device keeps uploading photos, while
`anfang backup create` runs as its own process against the same database and evidence directory.
`anfang backup restore` then fills a new empty database and evidence directory, and the restored
copy must be whole: `anfang audit verify` passes, every evidence file hashes to its row, every
issued document verifies, and the data is one snapshot: row counts between those seen just before
and just after the backup, every audited photo stored, every complete record with all its photos.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from serve_soak import (
    ANFANG,
    DEVICES,
    SECRET,
    device_run,
    environment,
    fresh_database,
    jpeg,
    require_services,
    serving,
    tus,
)

from server import create_app
from server.audit.chain import verify_chain
from server.enforcement.documents import document_path, verify_pdf
from server.enforcement.models.document import Document
from server.enforcement.organs import seal_of
from server.extensions import db
from server.field.models.evidence import EvidenceFile
from server.pdf.signing import check as check_signature
from server.pdf.signing import load_trust_roots

# What the load writes (or, for documents, what was issued before it), counted in the source
# before and after the backup and in the restored copy.
WATCHED = ("evidence_file", "audit_event", "sync_operation", "inspection", "photo", "document")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    require_services()
    with serving(tmp_path_factory.mktemp("serve")) as site:
        yield site


def counts(site) -> dict[str, int]:
    return {table: site.scalar(f"SELECT count(*) FROM {table}") for table in WATCHED}


class Uploads(threading.Thread):
    """One more device uploading photos until told to stop, so that writes go on all through the
    backup however quickly the devices' records are done."""

    def __init__(self, base: str, token: str):
        super().__init__(name="uploads", daemon=True)
        self.base, self.token = base, token
        self.stop = threading.Event()
        self.uploaded: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                data = jpeg()
                tus(self.base, self.token, data).upload()
                self.uploaded.append(hashlib.sha256(data).hexdigest())
        except BaseException as exc:  # reported by the test
            self.error = exc


def run_cli(settings: dict, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(ANFANG), *args], env=settings, capture_output=True, text=True, timeout=timeout)


def issue_an_inspection_record(site, directory: Path) -> None:
    """The 检查记录 of a submitted demo inspection, issued (numbered, signed, audited) by the CLI."""
    inspection = site.scalar(
        "SELECT i.uuid FROM inspection i WHERE i.status = 'complete' AND i.is_primary AND NOT EXISTS ("
        "SELECT 1 FROM document d WHERE d.kind = 'inspection_record' AND d.subject_id = i.uuid) ORDER BY i.id LIMIT 1")
    assert inspection is not None
    issued = run_cli(site.environment, "document", "inspection-record", inspection, "--by", "office",
                     "--out", str(directory / "record.pdf"))
    assert issued.returncode == 0, issued.stdout + issued.stderr


def wait_until(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the load wrote nothing"
        time.sleep(0.1)


def test_a_backup_taken_under_serve_load_restores_into_empty_stores_and_verifies(served, tmp_path):
    issue_an_inspection_record(served, tmp_path)
    before = counts(served)
    assert before["document"] >= 2  # the demo's rectification order and the record just issued
    directory = tmp_path / "backup"

    uploads = Uploads(served.url, served.devices[0]["token"])
    with ThreadPoolExecutor(DEVICES) as pool:
        runs = [pool.submit(device_run, served.url, device) for device in served.devices]
        uploads.start()
        try:
            wait_until(lambda: served.scalar("SELECT count(*) FROM evidence_file") > before["evidence_file"])
            at_start = counts(served)
            started = time.monotonic()
            created = run_cli(served.environment, "backup", "create", str(directory))
            backup_seconds = time.monotonic() - started
            at_end = counts(served)
            results = [run.result(timeout=120) for run in runs]
        finally:
            uploads.stop.set()
            uploads.join(timeout=60)
    assert uploads.error is None, uploads.error
    assert created.returncode == 0, created.stdout + created.stderr
    assert "备份完成" in created.stdout
    after = counts(served)
    assert after["inspection"] == before["inspection"] + DEVICES  # every device's record arrived

    # The server kept writing while the backup was taken, and the snapshot is one moment of it.
    assert at_end["evidence_file"] > at_start["evidence_file"], (at_start, at_end, f"{backup_seconds:.1f} s")
    assert at_end["audit_event"] > at_start["audit_event"]
    manifest = json.loads((directory / "manifest.json").read_text("utf-8"))
    tables = manifest["database"]["tables"]
    for table in WATCHED:
        assert at_start[table] <= tables[table] <= at_end[table], (table, at_start, tables, at_end)
    assert tables["document"] == before["document"]
    assert manifest["audit_head"]["seq"] == tables["audit_event"]

    with fresh_database("anfang_restored") as restored_url:
        evidence = tmp_path / "restored-evidence"
        # A machine of its own: no signing directory of this checkout (a demo run may have made
        # a CA there), so the documents are checked against the backup's trust roots.
        settings = environment(DATABASE_URL=restored_url, EVIDENCE_DIR=evidence, SECRET_KEY=SECRET,
                               DOCUMENT_SIGNING_DIR=tmp_path / "restored-signing")
        restored = run_cli(settings, "backup", "restore", str(directory))
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert "恢复后校验全部通过" in restored.stdout
        verified = run_cli(settings, "audit", "verify", timeout=60)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "审计链完整" in verified.stdout
        check_the_restored_copy(restored_url, evidence, directory, manifest, served, results)


def check_the_restored_copy(url: str, evidence: Path, directory: Path, manifest: dict, served, results: list) -> None:
    tables = manifest["database"]["tables"]
    roots = load_trust_roots(directory / "signing" / "trust-roots.pem")
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, EVIDENCE_DIR=str(evidence))
    with app.app_context():
        try:
            session = db.session
            report = verify_chain()
            assert report.ok, report.first_broken
            assert report.count == manifest["audit_head"]["seq"]
            for table in WATCHED:
                assert session.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == tables[table], table

            stored = session.scalars(sa.select(EvidenceFile)).all()
            for row in stored:
                assert hashlib.sha256((evidence / row.stored_path).read_bytes()).hexdigest() == row.sha256
            # A photo's row, its file and its audit event were written together or not at all.
            audited = set(session.execute(sa.text(
                "SELECT object_id FROM audit_event WHERE action = 'evidence.stored'")).scalars())
            assert audited <= {str(row.id) for row in stored}
            uploaded_now = {row.id for row in stored if row.sha256 in
                            {sha for result in results for sha in result["sha256"]}}
            assert {str(identifier) for identifier in uploaded_now} <= audited

            documents = session.scalars(sa.select(Document)).all()
            assert len(documents) == tables["document"]
            for document in documents:
                data = document_path(document).read_bytes()
                result = verify_pdf(data)
                assert result.genuine and result.document.id == document.id
                assert check_signature(data, roots, expected_signer=seal_of(document.organ)).valid

            # The devices' records as far as the snapshot took them: each accepted record is there,
            # and one complete in the snapshot has every photo with its stored file.
            uuids = [device["assignment_uuid"] for device in served.devices]
            records = session.execute(sa.text(
                "SELECT i.id, i.status FROM inspection i JOIN assignment a ON a.id = i.assignment_id "
                "WHERE a.uuid = ANY(:uuids)"), {"uuids": uuids}).all()
            accepted = session.execute(sa.text(
                "SELECT count(*) FROM sync_operation WHERE entity = 'inspection' AND device_id = ANY(:devices)"),
                {"devices": [result["device_id"] for result in results]}).scalar()
            assert len(records) == accepted
            for inspection_id, status in records:
                photos = session.execute(sa.text(
                    "SELECT p.sha256, e.sha256 FROM photo p LEFT JOIN evidence_file e ON e.id = p.evidence_file_id "
                    "WHERE p.inspection_id = :id"), {"id": inspection_id}).all()
                for declared, kept in photos:
                    assert kept in (None, declared)
                if status == "complete":
                    assert photos and all(kept is not None for _, kept in photos)
        finally:
            db.session.remove()
            db.engine.dispose()
