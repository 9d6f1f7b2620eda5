"""第N期 per year without gaps: 8 concurrent publishers of 8 approved issues get 1..8 on SQLite
and PostgreSQL; two publishers of one issue publish it once; a failed publication gives its
number back.

Each thread has its own application context, session and connection and commits real
transactions; rendering and the context are stubbed so that the test measures the numbering.
Afterwards the test removes what it committed, as a database superuser would.
"""

from __future__ import annotations

import threading
from datetime import date

import pytest
import sqlalchemy as sa
from audit_rewind import audit_log_rewound

from server.accounts.models.user import User
from server.accounts.passwords import hash_password
from server.audit.models.audit import AuditChainHead
from server.enforcement.models.document import DocumentCounter
from server.errors import Conflict
from server.extensions import db
from server.publicity import bulletins as service
from server.publicity.models.material import Bulletin

THREADS = 8
YEAR = 2035  # a year no other test publishes in


def stub(monkeypatch):
    monkeypatch.setattr(service, "render_bulletin", lambda context, *, number, user, draft, created=None:
                        b"%PDF-1.7\n% stub " + number.encode() + b"\n%%EOF\n")
    monkeypatch.setattr(service, "build_context", lambda bulletin, issued_on=None: {"title": bulletin.title})
    monkeypatch.setattr(service, "_ready", lambda bulletin: None)


def publish_concurrently(app, bulletin_ids: list[int], office_id: int) -> tuple[list, list]:
    errors: list[BaseException] = []
    conflicts: list[int] = []
    barrier = threading.Barrier(len(bulletin_ids))

    def publish(bulletin_id: int) -> None:
        try:
            with app.app_context():
                try:
                    db.session.rollback()  # SQLite: no read snapshot before the first write
                    barrier.wait(timeout=30)
                    service.take_write_lock()
                    actor = db.session.get(User, office_id)
                    bulletin = db.session.get(Bulletin, bulletin_id)
                    try:
                        service.publish_bulletin(bulletin, actor=actor, issued_on=date(YEAR, 6, 1))
                        db.session.commit()
                    except Conflict:
                        db.session.rollback()
                        conflicts.append(bulletin_id)
                finally:
                    db.session.remove()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(bid,)) for bid in bulletin_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a publisher hung"
    return errors, conflicts


def test_concurrent_publishers_get_consecutive_numbers(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(tmp_path / "evidence"))
    stub(monkeypatch)
    with app.app_context():
        start_seq, start_hash = db.session.execute(
            sa.select(AuditChainHead.last_seq, AuditChainHead.last_hash).where(AuditChainHead.id == 1)).one()
        office = User(username="bulletin-office", display_name="简报测试", role="office",
                      password_hash=hash_password("correct horse 9"))
        db.session.add(office)
        db.session.flush()
        bulletins = [Bulletin(title=f"第{n}份", period_start=date(YEAR, 1, 1), period_end=date(YEAR, 1, 31),
                              state="approved", created_by_id=office.id) for n in range(THREADS)]
        db.session.add_all(bulletins)
        db.session.commit()
        office_id, ids = office.id, [b.id for b in bulletins]
        db.session.remove()
    try:
        errors, conflicts = publish_concurrently(app, ids, office_id)
        assert errors == [] and conflicts == []
        # the same issue published by 8 at once: once
        with app.app_context():
            again = Bulletin(title="同一份", period_start=date(YEAR, 1, 1), period_end=date(YEAR, 1, 31),
                             state="approved", created_by_id=office_id)
            db.session.add(again)
            db.session.commit()
            again_id = again.id
            db.session.remove()
        errors, conflicts = publish_concurrently(app, [again_id] * THREADS, office_id)
        assert errors == [] and len(conflicts) == THREADS - 1
        with app.app_context():
            rows = db.session.execute(sa.select(Bulletin.serial, Bulletin.state).where(Bulletin.year == YEAR)
                                      .order_by(Bulletin.serial)).all()
            assert [row.serial for row in rows] == list(range(1, THREADS + 2))
            assert {row.state for row in rows} == {"published"}
            assert db.session.get(DocumentCounter, ("bulletin", "", YEAR)).last_serial == THREADS + 1
            db.session.remove()
    finally:
        with app.app_context():
            _clean_up(office_id, start_seq, start_hash)


def test_a_failed_publication_gives_its_number_back(app, db, make_user, monkeypatch, tmp_path):
    stub(monkeypatch)
    office = make_user("office")

    def approved() -> Bulletin:
        bulletin = Bulletin(title="期", period_start=date(YEAR + 1, 1, 1), period_end=date(YEAR + 1, 1, 2),
                            state="approved", created_by_id=office.id)
        db.session.add(bulletin)
        db.session.flush()
        return bulletin

    first = service.publish_bulletin(approved(), actor=office, issued_on=date(YEAR + 1, 3, 1))
    failing = approved()
    monkeypatch.setattr(service, "render_bulletin", lambda *args, **kwargs: (_ for _ in ()).throw(RuntimeError("x")))
    savepoint = db.session.begin_nested()
    with pytest.raises(RuntimeError):
        service.publish_bulletin(failing, actor=office, issued_on=date(YEAR + 1, 3, 2))
    savepoint.rollback()
    stub(monkeypatch)
    assert service.publish_bulletin(approved(), actor=office, issued_on=date(YEAR + 1, 3, 3)).serial == first.serial + 1


def _clean_up(office_id: int, seq: int, last_hash: str) -> None:
    """Remove what the concurrent test committed."""
    with audit_log_rewound(seq, last_hash) as connection:
        connection.execute(sa.delete(Bulletin.__table__).where(Bulletin.__table__.c.created_by_id == office_id))
        connection.execute(sa.delete(DocumentCounter.__table__).where(DocumentCounter.__table__.c.year == YEAR))
        connection.execute(sa.delete(User.__table__).where(User.__table__.c.id == office_id))
