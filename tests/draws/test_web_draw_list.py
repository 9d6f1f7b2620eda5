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
