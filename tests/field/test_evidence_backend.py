"""The evidence store interface and its local implementation: durable whole-file writes, read-only
originals, a missing file named as such, paths that cannot leave the store, and the choice of store
from EVIDENCE_STORE (an unknown one refused at startup)."""

from __future__ import annotations

import os
import stat

import pytest

from server import create_app
from server.config import EVIDENCE_STORES, ConfigError
from server.field.evidence_backend import STORES, EvidenceFileMissing, LocalEvidenceStore, evidence_store


@pytest.fixture
def store(tmp_path):
    return LocalEvidenceStore(tmp_path / "evidence")


def test_a_durable_write_is_whole_and_leaves_no_temporary_file(store, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))

    store.write("documents/2026/a.pdf", b"%PDF-1.7 first")
    store.write("documents/2026/a.pdf", b"%PDF-1.7 second")

    assert store.read_bytes("documents/2026/a.pdf") == b"%PDF-1.7 second"
    assert store.size("documents/2026/a.pdf") == len(b"%PDF-1.7 second")
    with store.open("documents/2026/a.pdf") as handle:
        assert handle.read() == b"%PDF-1.7 second"
    assert store.local_path("documents/2026/a.pdf") == store.root / "documents" / "2026" / "a.pdf"
    # The file, then its directory entry, each time.
    assert len(synced) == 4
    assert [path.name for path in (store.root / "documents" / "2026").iterdir()] == ["a.pdf"]


def test_a_read_only_file_cannot_be_rewritten_in_place(store):
    store.write("sha256/ab/cdef", b"original bytes", read_only=True)
    mode = stat.S_IMODE((store.root / "sha256" / "ab" / "cdef").stat().st_mode)
    assert mode == 0o440
    if os.geteuid() != 0:  # root writes whatever the mode says
        with pytest.raises(PermissionError):
            (store.root / "sha256" / "ab" / "cdef").write_bytes(b"changed")


def test_a_finished_upload_is_moved_in_read_only(store):
    incoming = store.root / "incoming"
    incoming.mkdir(parents=True)
    part = incoming / "upload.part"
    part.write_bytes(b"photo bytes")

    store.put_file(part, "sha256/12/3456", read_only=True)

    assert not part.exists()
    assert store.exists("sha256/12/3456") and store.read_bytes("sha256/12/3456") == b"photo bytes"
    assert stat.S_IMODE(store.local_path("sha256/12/3456").stat().st_mode) == 0o440


def test_a_missing_file_is_named_and_deleting_it_again_is_harmless(store):
    assert not store.exists("sha256/00/missing")
    for read in (store.read_bytes, store.open, store.size, store.local_path):
        with pytest.raises(EvidenceFileMissing, match="sha256/00/missing"):
            read("sha256/00/missing")
    # Callers that handle a vanished file as an OSError keep doing so.
    assert issubclass(EvidenceFileMissing, FileNotFoundError)

    store.write("incoming/left-over.tmp", b"x")
    store.delete("incoming/left-over.tmp")
    store.delete("incoming/left-over.tmp")
    assert not store.exists("incoming/left-over.tmp")


@pytest.mark.parametrize("relative", ["", "/etc/passwd", "../outside", "sha256/../../outside"])
def test_paths_cannot_leave_the_store(store, relative):
    with pytest.raises(ValueError):
        store.write(relative, b"x")
    with pytest.raises(ValueError):
        store.exists(relative)


def test_the_store_is_chosen_by_evidence_store_and_an_unknown_one_is_refused(tmp_path):
    assert set(STORES) == set(EVIDENCE_STORES)
    app = create_app("testing", EVIDENCE_DIR=str(tmp_path / "evidence"))
    with app.app_context():
        chosen = evidence_store()
    assert isinstance(chosen, LocalEvidenceStore) and chosen.root == tmp_path / "evidence"

    for config in ("testing", "production"):
        with pytest.raises(ConfigError, match="EVIDENCE_STORE 不支持“s3”") as refused:
            create_app(config, EVIDENCE_STORE="s3", SECRET_KEY="x" * 40,
                       SQLALCHEMY_DATABASE_URI="postgresql+psycopg://x/y")
        assert "\n" not in str(refused.value)
