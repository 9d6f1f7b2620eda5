"""Serial numbers per kind and year: 8 threads × 10 issues get 1..80, no gap, no duplicate, on
SQLite and PostgreSQL; a rolled-back issue gives its number back.

Each thread has its own application context, hence its own session and connection, and commits
real transactions (not through the rolled-back `db` fixture); rendering is replaced by a stub so
that the test measures the numbering, not WeasyPrint. Afterwards the test removes its documents,
counter and audit events, as a database superuser would, so the database is as it was.
"""

from __future__ import annotations

import threading
from datetime import date

import pytest
import sqlalchemy as sa
from audit_rewind import audit_log_rewound
from document_helpers import sample

from server.accounts.models.user import User
from server.accounts.passwords import hash_password
from server.audit.models.audit import AuditChainHead
from server.enforcement import documents as service
from server.enforcement.models.document import Document, DocumentCounter
from server.extensions import db

THREADS = 8
ISSUES_PER_THREAD = 10
YEAR = 2011  # a past year no other test issues in (a document is never dated ahead of today)
KIND = "rectification_order"


def context() -> dict:
    data = sample(KIND)
    data["deadline"] = f"{YEAR}-12-31"
    return data


def test_concurrent_issues_get_consecutive_numbers_without_gaps_or_duplicates(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(tmp_path / "evidence"))
    monkeypatch.setattr(service, "render_pdf", lambda kind, *, doc, ctx, resolve=None:
                        b"%PDF-1.7\n% stub " + doc["number"].encode() + b"\n%%EOF\n")
    with app.app_context():
        start_seq, start_hash = db.session.execute(
            sa.select(AuditChainHead.last_seq, AuditChainHead.last_hash).where(AuditChainHead.id == 1)).one()
        officer = User(username="serial-officer", display_name="编号测试", role="enforcement",
                       password_hash=hash_password("correct horse 9"))
        db.session.add(officer)
        db.session.commit()
        officer_id = officer.id
        db.session.remove()
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def issue_many(thread: int) -> None:
        try:
            with app.app_context():
                try:
                    actor = db.session.get(User, officer_id)
                    db.session.expunge(actor)
                    db.session.rollback()  # SQLite: no read snapshot before the first write
                    barrier.wait(timeout=30)
                    for n in range(ISSUES_PER_THREAD):
                        service.issue_document(KIND, context(), actor=actor, subject_type="test",
                                               subject_id=f"{thread}-{n}", issued_on=date(YEAR, 6, 1))
                        db.session.commit()
                finally:
                    db.session.remove()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=issue_many, args=(t,)) for t in range(THREADS)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not any(thread.is_alive() for thread in threads), "an issuer hung"
        assert errors == []
        with app.app_context():
            rows = db.session.execute(sa.select(Document.serial, Document.number, Document.subject_id)
                                      .where(Document.kind == KIND, Document.year == YEAR)
                                      .order_by(Document.serial)).all()
            counter = db.session.get(DocumentCounter, (KIND, "金华市公安局", YEAR))
            total = THREADS * ISSUES_PER_THREAD
            assert [row.serial for row in rows] == list(range(1, total + 1))
            assert len({row.number for row in rows}) == total
            assert rows[-1].number == f"金公（治）责改字〔{YEAR}〕{total}号"
            assert len({row.subject_id for row in rows}) == total
            assert counter.last_serial == total
            db.session.remove()
    finally:
        with app.app_context():
            _clean_up(officer_id, start_seq, start_hash)


def test_a_rolled_back_issue_leaves_no_gap(app, db, make_user, monkeypatch):
    officer = make_user("enforcement")
    year_context = dict(context(), deadline=f"{YEAR + 1}-12-31")

    def issue():
        return service.issue_document(KIND, year_context, actor=officer, subject_type="test", subject_id="x",
                                      issued_on=date(YEAR + 1, 1, 2))

    first = issue()
    savepoint = db.session.begin_nested()
    second = issue()
    assert second.serial == first.serial + 1
    savepoint.rollback()

    def broken(*args, **kwargs):
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(service, "render_pdf", broken)
    savepoint = db.session.begin_nested()
    with pytest.raises(RuntimeError):
        issue()
    savepoint.rollback()
    monkeypatch.undo()
    assert issue().serial == first.serial + 1


def _clean_up(officer_id: int, seq: int, last_hash: str) -> None:
    """Remove what the concurrent test committed."""
    with audit_log_rewound(seq, last_hash) as connection:
        connection.execute(sa.delete(Document.__table__).where(Document.__table__.c.year == YEAR))
        connection.execute(sa.delete(DocumentCounter.__table__).where(DocumentCounter.__table__.c.year == YEAR))
        connection.execute(sa.delete(User.__table__).where(User.__table__.c.id == officer_id))
