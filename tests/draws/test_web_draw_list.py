"""The draw list: filters by status and purpose, whitelisted sorting, pagination, bad arguments
explained next to the filter instead of crashing."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from assignment_world import _placeholder_draw
from inspection_world import session_of, world  # noqa: F401

from server.columns import utcnow
from server.draws.models.draw import Draw


def ids_in(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/draws/(\d+)"', html)]


@pytest.fixture
def draws(db, world) -> list[Draw]:
    """25 draws: every fifth closed, every seventh a re-inspection, windows in reverse order of ids."""
    now = utcnow()
    rows = []
    for n in range(25):
        start = now + timedelta(days=30 - n)
        draw = _placeholder_draw(world.users["office"], start, start + timedelta(hours=8))
        draw.status = "closed" if n % 5 == 0 else "committed"
        draw.purpose = "reinspection" if n % 7 == 0 else "sample"
        db.session.add(draw)
        rows.append(draw)
    db.session.flush()
    return rows


def test_pages_newest_first(app, db, world, draws):
    office = session_of(app, world.users["office"])
    total = db.session.query(Draw).count()
    page1 = office.get("/draws").get_data(as_text=True)
    assert ids_in(page1) == sorted(ids_in(page1), reverse=True) and len(ids_in(page1)) == 20
    assert f"共 {total} 次，第 1 / {-(-total // 20)} 页" in page1
    page2 = office.get("/draws", query_string={"page": 2}).get_data(as_text=True)
    assert not set(ids_in(page1)) & set(ids_in(page2))


def test_filters(app, db, world, draws):
    office = session_of(app, world.users["office"])
    closed = ids_in(office.get("/draws", query_string={"status": "closed"}).get_data(as_text=True))
    assert set(closed) >= {d.id for d in draws if d.status == "closed"}
    assert not set(closed) & {d.id for d in draws if d.status == "committed"}
    reinspections = ids_in(office.get("/draws", query_string={"purpose": "reinspection"}).get_data(as_text=True))
    assert set(reinspections) == {d.id for d in draws if d.purpose == "reinspection"}
    both = ids_in(office.get("/draws", query_string={"purpose": "reinspection", "status": "committed"})
                  .get_data(as_text=True))
    assert set(both) == {d.id for d in draws if d.purpose == "reinspection" and d.status == "committed"}


def test_sort_by_window(app, db, world, draws):
    auditor = session_of(app, world.users["auditor"])
    html = auditor.get("/draws", query_string={"sort": "window_start", "purpose": "reinspection"}).text
    mine = [i for i in ids_in(html) if i in {d.id for d in draws}]
    # Windows run backwards against ids in the fixture: earliest window = highest id.
    assert mine == sorted(mine, reverse=True)
    html = auditor.get("/draws", query_string={"sort": "-window_start", "purpose": "reinspection"}).text
    mine = [i for i in ids_in(html) if i in {d.id for d in draws}]
    assert mine == sorted(mine)


@pytest.mark.parametrize("args, message", [
    ({"page": "-1"}, "页码须为正整数"),
    ({"sort": "evil"}, "不支持的排序方式"),
    ({"sort": "-sealed_seed"}, "不支持的排序方式"),
    ({"status": "evil"}, "未知的抽查状态"),
    ({"purpose": "<script>"}, "未知的抽查类型"),
])
def test_bad_arguments(app, db, world, args, message):
    response = session_of(app, world.users["office"]).get("/draws", query_string=args)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and message in html and 'class="field__error"' in html
    assert "<script>" not in html


def test_inspectors_cannot_list_draws(app, db, world):
    assert session_of(app, world.users["team_leader"]).get("/draws").status_code == 403


def test_every_status_is_labelled_and_cancelled_draws_show_reason_who_and_replacement(app, db, world, draws):
    office = world.users["office"]
    cancelled, replacement, waiting = draws[-1], draws[-2], draws[-3]
    cancelled.status, cancelled.cancel_reason = "cancelled", "范围选错，应改抽餐饮场所"
    cancelled.cancelled_by_id, cancelled.cancelled_at = office.id, utcnow()
    cancelled.revealed_seed = "00" * 32
    replacement.replaces_id = cancelled.id
    waiting.status = "awaiting"
    db.session.flush()
    auditor = session_of(app, world.users["auditor"])
    html = auditor.get("/draws").get_data(as_text=True)
    for code, label in (("awaiting", "待录入随机数"), ("committed", "已抽取"), ("closed", "已关闭"),
                        ("cancelled", "已取消")):
        assert f'<option value="{code}">{label}</option>' in html
        listed = ids_in(auditor.get("/draws", query_string={"status": code}).get_data(as_text=True))
        assert {d.id for d in draws if d.status == code} <= set(listed)
    assert f"<p>{office.display_name}，" in html and "取消；理由：范围选错，应改抽餐饮场所" in html
    assert f'<a href="/draws/{cancelled.id}">替代第 {cancelled.id} 号（已取消）</a>' in html
    assert f'被<a href="/draws/{replacement.id}">第 {replacement.id} 号</a>替代' in html
    # One cancellation is under the policy's threshold: counted, not flagged.
    assert "取消统计" in html and office.display_name in html and "超过阈值</span>" not in html
