"""Department and county viewers: their landing page and the findings list show only their
sector or territory (the statistics module's scope), with filters, sorting and pages; another
sector's finding is a 404; other roles are refused."""

from __future__ import annotations

import re

from stats_world import DAY1, DAY3, build_counts, stats_world  # noqa: F401  (fixture)
from web_session import login

from server.columns import china_today
from server.extensions import db as _db
from server.field.models.inspection import Violation

PERIOD = {"date_from": DAY1.isoformat(), "date_to": DAY3.isoformat()}


def findings(client, **args):
    response = client.get("/findings", query_string={**PERIOD, **args})
    return response, response.get_data(as_text=True)


def test_department_sees_only_its_sector(client, stats_world):
    build_counts(stats_world)
    venues = stats_world.venues
    login(client, stats_world.users["dep_b"])
    response, page = findings(client)
    assert response.status_code == 200
    # 乙局 answers only for the shared category: 共北 and 共南, never 甲北.
    assert venues["ab_north"].name in page and venues["ab_south"].name in page
    assert venues["a_north"].name not in page
    assert "共 4 起" in page
    # its filter offers only its own categories
    assert stats_world.categories["ab"].name in page and stats_world.categories["a"].name not in page
    # another sector's finding is the same 404 as an unknown id
    foreign = _db.session.scalar(_db.select(Violation.id).where(Violation.venue_id == venues["a_north"].id))
    own = _db.session.scalar(_db.select(Violation.id).where(Violation.venue_id == venues["ab_south"].id))
    assert client.get(f"/findings/{foreign}").status_code == 404
    assert client.get("/findings/999999999").status_code == 404
    detail = client.get(f"/findings/{own}")
    assert detail.status_code == 200 and venues["ab_south"].name in detail.get_data(as_text=True)

    login(client, stats_world.users["dep_a"])
    _, page = findings(client)
    assert venues["a_north"].name in page and "共 7 起" in page


def test_county_sees_only_its_territory(client, stats_world):
    build_counts(stats_world)
    venues = stats_world.venues
    login(client, stats_world.users["south"])
    response, page = findings(client)
    assert response.status_code == 200
    assert venues["ab_south"].name in page
    assert venues["a_north"].name not in page and venues["ab_north"].name not in page
    assert "共 3 起" in page
    # asking for the other county by id is refused next to the field, nothing listed
    response, page = findings(client, county_id=stats_world.counties["north"].id)
    assert response.status_code == 422 and "不是可选的值" in page and venues["a_north"].name not in page
    foreign = _db.session.scalar(_db.select(Violation.id).where(Violation.venue_id == venues["ab_north"].id))
    assert client.get(f"/findings/{foreign}").status_code == 404


def test_filters_sorting_and_pages(client, stats_world):
    build_counts(stats_world)
    login(client, stats_world.users["dep_a"])
    _, page = findings(client, category_id=stats_world.categories["a"].id)
    assert "共 3 起" in page and stats_world.venues["ab_south"].name not in page
    _, page = findings(client, date_from=DAY3.isoformat(), date_to=DAY3.isoformat())
    assert "共 2 起" in page
    _, page = findings(client, handling="case")
    assert "没有符合条件的督查发现" in page
    _, page = findings(client, handling="pending")
    assert "共 7 起" in page
    # by venue name ascending: 共北 < 共南 < 甲北 in code-point order
    _, page = findings(client, sort="venue")
    names = [stats_world.venues[key].name for key in ("ab_north", "ab_south", "a_north")]
    positions = [page.index(name) for name in names]
    assert positions == sorted(positions)
    assert 'aria-sort="ascending"' in page
    _, page = findings(client, sort="-venue")
    positions = [page.index(name) for name in names]
    assert positions == sorted(positions, reverse=True)
    # bad input: an answer in Chinese next to the field, never a crash
    response, page = findings(client, date_from="2026-13-40")
    assert response.status_code == 422 and "日期格式不正确" in page
    response, page = findings(client, date_from=DAY3.isoformat(), date_to=DAY1.isoformat())
    assert response.status_code == 422 and "结束日期不能早于开始日期" in page
    response, page = findings(client, sort="nonsense")
    assert response.status_code == 422


def test_pagination(client, stats_world):
    venue = stats_world.venues["ab_south"]
    for n in range(23):
        stats_world.inspect(venue, DAY1, [("K10", f"k10_check_{n}")], hour=n % 24)
    login(client, stats_world.users["south"])
    _, first = findings(client)
    assert "共 23 起，第 1 / 2 页" in first and "下一页" in first
    _, second = findings(client, page=2)
    assert "第 2 / 2 页" in second and "上一页" in second
    # the description names the check: 20 rows on the first page, the other 3 on the second
    seen = set(re.findall(r"k10_check_\d+", first)), set(re.findall(r"k10_check_\d+", second))
    assert len(seen[0]) == 20 and len(seen[1]) == 3 and not seen[0] & seen[1]


def test_landing_pages_are_live_and_scoped(client, stats_world):
    today = china_today()
    stats_world.inspect(stats_world.venues["a_north"], today, [("K3", "k3_visitors_within_half_capacity")])
    stats_world.inspect(stats_world.venues["ab_south"], today, [("K10", "k10_health_code")])
    login(client, stats_world.users["north"])
    page = client.get("/").get_data(as_text=True)
    assert "属地政府工作台" in page and "功能将陆续开放" not in page
    assert stats_world.venues["a_north"].name in page and stats_world.venues["ab_south"].name not in page
    assert "违规问题 <strong>1</strong> 起" in page
    assert 'href="/statistics?' in page and 'href="/findings"' in page
    assert "逾期的整改通知" in page
    login(client, stats_world.users["dep_b"])
    page = client.get("/").get_data(as_text=True)
    assert stats_world.venues["ab_south"].name in page and stats_world.venues["a_north"].name not in page
    assert stats_world.categories["ab"].name in page
    assert "违规问题 <strong>1</strong> 起" in page


def test_other_roles_are_refused(client, stats_world):
    build_counts(stats_world)
    for key in ("propaganda", "inspector", "office"):
        login(client, stats_world.users[key])
        assert client.get("/findings", query_string=PERIOD).status_code == 403
    client._cookies.clear()
    assert client.get("/findings").status_code == 302  # to the login page


def test_navigation_for_viewers(client, stats_world):
    login(client, stats_world.users["dep_a"])
    page = client.get("/").get_data(as_text=True)
    assert 'href="/findings"' in page and 'href="/statistics"' in page
    login(client, stats_world.users["propaganda"])
    assert 'href="/findings"' not in client.get("/").get_data(as_text=True)


def test_rectification_orders_on_the_landing_page(client, stats_world):
    from datetime import timedelta

    from server.enforcement import rectification_issuing as issuing

    today = china_today()
    [north_violation] = stats_world.inspect(stats_world.venues["a_north"], today, [("K10", "k10_health_code")])
    [south_violation] = stats_world.inspect(stats_world.venues["ab_south"], today, [("K10", "k10_temperature")])
    enforcement = stats_world.users["enforcement"]
    overdue = issuing.issue_order([north_violation.id], deadline=today + timedelta(days=3),
                                  requirements="落实健康码查验。", actor=enforcement)
    overdue.deadline = today - timedelta(days=2)  # the deadline passed without a re-inspection
    issuing.issue_order([south_violation.id], deadline=today + timedelta(days=5),
                        requirements="落实测温。", actor=enforcement)
    _db.session.flush()
    login(client, stats_world.users["north"])
    page = client.get("/").get_data(as_text=True)
    assert "逾期的整改通知（1）" in page and "整改中的通知（0）" in page
    assert stats_world.venues["ab_south"].name not in page
    detail = client.get(f"/findings/{north_violation.id}").get_data(as_text=True)
    assert f"第 {overdue.id} 号" in detail and "逾期" in detail
    login(client, stats_world.users["dep_b"])  # answers only for the shared category: the south order
    page = client.get("/").get_data(as_text=True)
    assert "逾期的整改通知（0）" in page and "整改中的通知（1）" in page
    assert stats_world.venues["ab_south"].name in page and stats_world.venues["a_north"].name not in page
