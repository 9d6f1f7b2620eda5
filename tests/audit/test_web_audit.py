"""Audit log pages: the auditor lists, filters and sorts events, reads one with the exact text its
hash covers, and verifies the chain — intact, and after a direct database edit, broken at the
edited event. Only auditors and administrators read the log."""

from __future__ import annotations

import hashlib
import html
import re
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from assignment_world import PASSWORD
from web_session import login

from server.audit.chain import REASONS, record_event
from server.audit.models.audit import AuditChainHead, AuditEvent
from server.columns import china_today
from server.registry.models.reference import County, Department

SEQ_CELL = re.compile(r'<td><a href="/audit/(\d+)">')


@pytest.fixture
def auditor(db, make_user, client):
    user = make_user("auditor", password=PASSWORD)
    login(client, user)
    return user


def _events(action: str, count: int, **extra) -> list[AuditEvent]:
    return [record_event(action, object_type="venue", object_id=n, details={"n": n, "说明": "测试"}, **extra)
            for n in range(1, count + 1)]


def _seqs(page: str) -> list[int]:
    return [int(seq) for seq in SEQ_CELL.findall(page)]


@contextmanager
def _triggers_disabled(db):
    """What a database superuser can do to edit the log by hand (as in tests/audit/test_audit_chain.py)."""
    tables = ("audit_event", "audit_chain_head")
    if db.session.get_bind().dialect.name == "postgresql":
        for table in tables:
            db.session.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        yield
        for table in tables:
            db.session.execute(sa.text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        return
    triggers = db.session.execute(sa.text(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ('audit_event', 'audit_chain_head')"
    )).all()
    assert triggers
    for name, _sql in triggers:
        db.session.execute(sa.text(f'DROP TRIGGER "{name}"'))
    yield
    for _name, sql in triggers:
        db.session.execute(sa.text(sql))


def test_auditor_filters_sorts_and_pages_events(db, client, auditor, make_user):
    other = make_user("office")
    mine = _events("test.web_audit.listed", 55)
    _events("test.web_audit.other", 2, actor=other)
    db.session.commit()

    first = client.get("/audit", query_string={"action": "test.web_audit.listed"})
    assert first.status_code == 200
    page = first.get_data(as_text=True)
    assert "共 55 条事件，第 1 / 2 页" in page
    # Newest first by default; 50 on a page; the hash prefix is shown.
    assert _seqs(page) == [e.seq for e in reversed(mine)][:50]
    assert f"{mine[-1].hash[:12]}…" in page and "场所 55" in page
    second = client.get("/audit", query_string={"action": "test.web_audit.listed", "page": 2}).get_data(as_text=True)
    assert _seqs(second) == [e.seq for e in reversed(mine)][50:]

    ascending = client.get("/audit", query_string={"action": "test.web_audit.listed", "sort": "seq"})
    assert _seqs(ascending.get_data(as_text=True))[:3] == [e.seq for e in mine[:3]]

    by_actor = client.get("/audit", query_string={"actor": other.username}).get_data(as_text=True)
    assert "共 2 条事件" in by_actor and "test.web_audit.other" in by_actor

    day = china_today().isoformat()  # the filter's dates are China time, like its users
    in_range = client.get("/audit", query_string={"action": "test.web_audit.other", "object_type": "venue",
                                                  "date_from": day, "date_to": day}).get_data(as_text=True)
    assert "共 2 条事件" in in_range
    before = client.get("/audit", query_string={"action": "test.web_audit.other", "date_to": "2021-12-31"})
    assert "没有符合条件的审计事件" in before.get_data(as_text=True)


def test_actions_objects_and_the_system_read_in_chinese(db, client, auditor):
    login_event = record_event("auth.login", object_type="user", object_id=7)
    unlabelled = record_event("case.some_future_step", object_type="some_future_table", object_id=3)
    db.session.commit()

    page = client.get("/audit", query_string={"actor": "系统"}).get_data(as_text=True)
    cells = re.sub(r"<option[^>]*>", "", page)  # the filter's option values are the codes, by design
    assert "<td>登录</td>" in page and "<td>用户 7</td>" in page and "<td>系统</td>" in page
    assert "<td>案件相关操作</td>" in page and "<td>对象 3</td>" in page
    assert "auth.login" not in cells and "user:7" not in cells and "some_future" not in cells
    assert "操作者（用户名或“系统”）" in page and '<option value="auth.login">登录</option>' in page
    detail = client.get(f"/audit/{login_event.seq}").get_data(as_text=True)
    assert "<dd>登录（代码 <code>auth.login</code>）</dd>" in detail and "<dd>用户 7</dd>" in detail
    assert client.get(f"/audit/{unlabelled.seq}").status_code == 200


def test_bad_filters_are_explained_in_chinese_next_to_the_field(db, client, auditor):
    response = client.get("/audit", query_string={"date_from": "2021-13-40"})
    assert response.status_code == 422
    assert 'id="date_from-error">日期格式不正确，请按 年-月-日 填写。' in response.get_data(as_text=True)
    reversed_range = client.get("/audit", query_string={"date_from": "2022-01-02", "date_to": "2022-01-01"})
    assert 'id="date_to-error">结束日期不能早于开始日期。' in reversed_range.get_data(as_text=True)
    assert client.get("/audit", query_string={"page": "x"}).status_code == 400


def test_event_page_shows_the_canonical_text_its_hash_covers(db, client, auditor):
    [event] = _events("test.web_audit.detail", 1)
    db.session.commit()
    response = client.get(f"/audit/{event.seq}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    canonical = html.unescape(re.search(r'<pre class="canonical"><code>(.*?)</code></pre>', page, re.S).group(1))
    assert hashlib.sha256(canonical.encode("utf-8")).hexdigest() == event.hash
    assert '"action":"test.web_audit.detail"' in canonical and '"说明":"测试"' in canonical
    assert event.hash in page and event.prev_hash in page and "与记录的哈希相符" in page
    assert client.get("/audit/999999999").status_code == 404


def test_verification_reports_an_intact_chain_with_its_count(db, client, auditor):
    _events("test.web_audit.verify", 3)
    db.session.commit()
    list_page = client.get("/audit").get_data(as_text=True)
    assert 'action="/audit/verification"' in list_page and "验证哈希链" in list_page
    response = client.get("/audit/verification")
    count = db.session.scalar(sa.select(AuditChainHead.last_seq).where(AuditChainHead.id == 1))
    assert response.status_code == 200
    assert f"审计链完整：共 {count} 条事件" in response.get_data(as_text=True)


def test_verification_names_the_first_event_a_database_edit_broke(db, client, auditor):
    events = _events("test.web_audit.tamper", 3)
    db.session.commit()
    table = AuditEvent.__table__
    with _triggers_disabled(db):
        db.session.execute(sa.update(table).where(table.c.seq == events[1].seq).values(actor_label="someone-else"))
    db.session.commit()

    page = client.get("/audit/verification").get_data(as_text=True)
    assert "审计链已损坏" in page
    assert f"第一个异常事件为第 {events[1].seq} 条" in page
    assert REASONS["hash_mismatch"] in page
    assert f"此前 {events[1].seq - 1} 条事件校验通过" in page
    # The event page recomputes the hash too and says it no longer matches.
    assert "与记录的哈希不符" in client.get(f"/audit/{events[1].seq}").get_data(as_text=True)


def test_verification_names_a_deleted_event(db, client, auditor):
    events = _events("test.web_audit.delete", 3)
    db.session.commit()
    table = AuditEvent.__table__
    with _triggers_disabled(db):
        db.session.execute(sa.delete(table).where(table.c.seq == events[1].seq))
    db.session.commit()
    page = client.get("/audit/verification").get_data(as_text=True)
    assert f"第一个异常事件为第 {events[2].seq} 条" in page and REASONS["seq_gap"] in page


@pytest.mark.parametrize("role", ["office", "inspector", "enforcement", "propaganda", "department", "county"])
def test_only_auditors_and_administrators_read_the_log(db, client, make_user, role):
    extra = {}
    if role == "department":
        extra["department"] = db.session.scalar(sa.select(Department).limit(1))
    if role == "county":
        extra["county"] = db.session.scalar(sa.select(County).limit(1))
    login(client, make_user(role, password=PASSWORD, **extra))
    for url in ("/audit", "/audit/1", "/audit/verification"):
        assert client.get(url).status_code == 403, url
    assert 'href="/audit"' not in client.get("/").get_data(as_text=True)


def test_administrators_read_the_log_and_see_it_in_the_navigation(db, client, make_user):
    login(client, make_user("admin", password=PASSWORD))
    assert 'href="/audit"' in client.get("/").get_data(as_text=True)
    assert client.get("/audit").status_code == 200
    assert client.get("/audit/verification").status_code == 200


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    response = client.get("/audit")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
