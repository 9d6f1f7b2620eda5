"""A day is a Beijing day everywhere people read or choose one, while times are stored in UTC.

The scenario: checks at 23:59 the evening before, at 00:00, at 00:30 (a night visit, 16:30 UTC the
day before), at 23:59 of the day itself and at 00:00 the day after. Statistics (service, API,
page), CSV and XLSX exports, the viewers' pages and landing pages, the office's dashboard, the
audit log's date filter and `anfang-field show` all put each on its Beijing day.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from assignment_world import _placeholder_draw
from click.testing import CliRunner
from openpyxl import load_workbook
from stats_world import bearer, stats_world  # noqa: F401  (fixture)
from web_session import login

from server.audit import chain
from server.columns import as_utc, china_date, china_day_start, china_days_utc, china_today
from server.draws.assignments import record_created
from server.draws.models.draw import Assignment
from server.oversight import dashboard, statistics

DAY = date(2026, 3, 11)
BEFORE, AFTER = DAY - timedelta(days=1), DAY + timedelta(days=1)
UTC = timezone.utc
NIGHT_UTC = datetime(2026, 3, 10, 16, 30, tzinfo=UTC)  # 00:30 on DAY in Beijing


@pytest.fixture
def world(stats_world):  # noqa: F811  (the shared fixture, under a short name)
    return stats_world


def build_night(world) -> dict:
    """Five checks around DAY's two midnights: 1 on the day before, 3 on DAY, 1 on the day after."""
    v = world.venues
    return {
        "evening_before": world.inspect(v["ab_south"], BEFORE, [("K10", "k10_health_code")], hour=23, minute=59),
        "midnight": world.inspect(v["ab_north"], DAY, [("K3", "k3_visitors_within_half_capacity")], hour=0),
        "night": world.inspect(v["a_north"], DAY, [("K1", "k1_leisure_venue_closed")], hour=0, minute=30),
        "evening": world.inspect(v["ab_south"], DAY, [("K5", "k5_private_room")], hour=23, minute=59),
        "next_midnight": world.inspect(v["a_north"], AFTER, [("K3", "k3_visitors_within_half_capacity")], hour=0),
    }


def test_the_shared_helpers_turn_beijing_days_into_utc_ranges_and_back():
    assert china_day_start(DAY) == datetime(2026, 3, 10, 16, 0, tzinfo=UTC)
    assert china_days_utc(DAY) == (datetime(2026, 3, 10, 16, tzinfo=UTC), datetime(2026, 3, 11, 16, tzinfo=UTC))
    assert china_days_utc(BEFORE, AFTER) == (datetime(2026, 3, 9, 16, tzinfo=UTC),
                                             datetime(2026, 3, 12, 16, tzinfo=UTC))
    # In UTC itself, not merely the same instant: SQLite compares the digits and drops the offset.
    assert all(bound.utcoffset() == timedelta(0) for bound in (china_day_start(DAY), *china_days_utc(BEFORE, AFTER)))
    assert china_date(NIGHT_UTC) == DAY
    assert china_date(NIGHT_UTC.replace(tzinfo=None)) == DAY  # SQLite hands back naive UTC
    assert china_date(datetime(2026, 3, 10, 15, 59, tzinfo=UTC)) == BEFORE
    assert china_date(None) is None
    assert china_today(NIGHT_UTC) == DAY and china_today(NIGHT_UTC - timedelta(minutes=31)) == BEFORE


def test_stored_times_are_utc_and_the_night_check_counts_on_its_beijing_day(db, world):
    from server.field.models.inspection import Inspection

    night = build_night(world)["night"][0]
    stored = db.session.get(Inspection, night.inspection_id).checked_in_at
    assert as_utc(stored) == NIGHT_UTC  # stored in UTC: 16:30 the day before
    office = world.users["office"]
    one_day = statistics.violation_totals(date_from=DAY, date_to=DAY, user=office)
    assert (one_day.violations, one_day.inspections) == (3, 3)
    days = statistics.violation_counts(date_from=BEFORE, date_to=AFTER, by="day", user=office)
    assert [(row.key, row.count) for row in days] == [(BEFORE.isoformat(), 1), (DAY.isoformat(), 3),
                                                      (AFTER.isoformat(), 1)]
    period = statistics.violation_totals(date_from=BEFORE, date_to=AFTER, user=office)
    assert period.violations == sum(row.count for row in days) == 5
    # Each single day's total is that day's row of the breakdown.
    for row in days:
        day = date.fromisoformat(row.key)
        assert statistics.violation_totals(date_from=day, date_to=day, user=office).violations == row.count
    facts = statistics.violation_facts(date_from=DAY, date_to=DAY, user=office)
    assert night.id in {fact.violation_id for fact in facts}
    assert {fact.day for fact in facts} == {DAY}


def test_api_counts_a_single_beijing_day_like_its_day_breakdown(db, client, world):
    build_night(world)
    headers = bearer(world.users["office"])
    url = "/api/v1/statistics/violations"
    single = client.get(url, query_string={"from": DAY.isoformat(), "to": DAY.isoformat(), "by": "day"},
                        headers=headers)
    assert single.status_code == 200, single.get_json()
    assert single.get_json()["total"] == 3
    assert [(row["key"], row["count"]) for row in single.get_json()["rows"]] == [(DAY.isoformat(), 3)]
    period = {"from": BEFORE.isoformat(), "to": AFTER.isoformat()}
    by_day = client.get(url, query_string={**period, "by": "day"}, headers=headers).get_json()
    assert [row["count"] for row in by_day["rows"]] == [1, 3, 1]
    assert by_day["total"] == sum(row["count"] for row in by_day["rows"]) == 5
    by_county = client.get(url, query_string={**period, "by": "county"}, headers=headers).get_json()
    assert {row["label"]: row["count"] for row in by_county["rows"]} == {
        f"北县{world.tag}": 3, f"南县{world.tag}": 2}
    # A county viewer's single day: the north's midnight and night checks.
    north = client.get(url, query_string={"from": DAY.isoformat(), "to": DAY.isoformat(), "by": "rule"},
                       headers=bearer(world.users["north"])).get_json()
    assert north["total"] == 2 and {row["key"] for row in north["rows"]} == {"K1", "K3"}


def test_csv_and_xlsx_exports_put_each_check_on_its_beijing_day(db, client, world):
    build_night(world)
    headers = bearer(world.users["office"])
    query = {"from": BEFORE.isoformat(), "to": AFTER.isoformat(), "by": "day"}
    expected = [[BEFORE.isoformat(), 1], [DAY.isoformat(), 3], [AFTER.isoformat(), 1]]

    response = client.get("/api/v1/statistics/violations", query_string={**query, "format": "csv"}, headers=headers)
    assert response.status_code == 200
    table = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert table[0] == ["代码", "日期", "违规问题数"]
    assert [[key, int(count)] for key, _label, count in table[1:]] == expected

    response = client.get("/api/v1/statistics/violations", query_string={**query, "format": "xlsx"}, headers=headers)
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["代码", "日期", "违规问题数"]
    assert [[key, count] for key, _label, count in rows[1:]] == expected

    # The page's downloads of one day: the same three.
    login(client, world.users["office"])
    one_day = {"from": DAY.isoformat(), "to": DAY.isoformat()}
    page_csv = client.get("/statistics/export.csv", query_string={**one_day, "by": "day"})
    assert list(csv.reader(io.StringIO(page_csv.data.decode("utf-8-sig"))))[1:] == [[DAY.isoformat()] * 2 + ["3"]]
    page_xlsx = client.get("/statistics/export.xlsx", query_string={**one_day, "by": "county"})
    counted = [row[2] for row in load_workbook(io.BytesIO(page_xlsx.data)).active.iter_rows(min_row=2,
                                                                                           values_only=True)]
    assert sum(counted) == 3


def test_statistics_page_of_one_beijing_day(db, client, world):
    build_night(world)
    login(client, world.users["office"])
    html = client.get("/statistics", query_string={"from": DAY.isoformat(), "to": DAY.isoformat()}).get_data(
        as_text=True)
    assert "违规问题 <strong>3</strong> 起" in html
    assert f"<td>{DAY.isoformat()}</td><td>3</td>" in html
    html = client.get("/statistics", query_string={"from": BEFORE.isoformat(), "to": BEFORE.isoformat()}).get_data(
        as_text=True)
    assert "违规问题 <strong>1</strong> 起" in html


def _listed_days(page: str) -> list[str]:
    return re.findall(r'<td><a href="/findings/\d+">(\d{4}-\d{2}-\d{2})</a></td>', page)


def test_viewer_pages_list_and_date_the_night_check_on_its_beijing_day(db, client, world):
    checks = build_night(world)
    venues = world.venues
    login(client, world.users["north"])
    page = client.get("/findings", query_string={"date_from": DAY.isoformat(), "date_to": DAY.isoformat()}).get_data(
        as_text=True)
    assert "共 2 起" in page
    assert venues["a_north"].name in page and venues["ab_north"].name in page
    assert _listed_days(page) == [DAY.isoformat()] * 2
    page = client.get("/findings", query_string={"date_from": BEFORE.isoformat(),
                                                 "date_to": BEFORE.isoformat()}).get_data(as_text=True)
    assert _listed_days(page) == []
    detail = client.get(f"/findings/{checks['night'][0].id}").get_data(as_text=True)
    assert f"<dt>检查日期</dt><dd>{DAY.isoformat()}</dd>" in detail

    # A department viewer (the shared category): DAY's 00:00 and 23:59, not the evening before.
    login(client, world.users["dep_b"])
    page = client.get("/findings", query_string={"date_from": DAY.isoformat(), "date_to": DAY.isoformat()}).get_data(
        as_text=True)
    assert "共 2 起" in page and _listed_days(page) == [DAY.isoformat()] * 2
    page = client.get("/findings", query_string={"date_from": BEFORE.isoformat(),
                                                 "date_to": BEFORE.isoformat()}).get_data(as_text=True)
    assert "共 1 起" in page and _listed_days(page) == [BEFORE.isoformat()]
    detail = client.get(f"/findings/{checks['evening_before'][0].id}").get_data(as_text=True)
    assert f"<dt>检查日期</dt><dd>{BEFORE.isoformat()}</dd>" in detail


@pytest.mark.parametrize(("today", "north", "south"), [(BEFORE, 0, 1), (DAY, 2, 2), (AFTER, 3, 2)])
def test_viewer_landing_pages_count_up_to_today_in_beijing(db, client, world, monkeypatch, today, north,
                                                            south):
    from server.oversight.web import home

    build_night(world)
    monkeypatch.setattr(home, "china_today", lambda: today)
    for key, expected in (("north", north), ("south", south)):
        login(client, world.users[key])
        page = client.get("/").get_data(as_text=True)
        if expected:
            assert f"违规问题 <strong>{expected}</strong> 起" in page
        else:
            assert "天没有督查发现" in page


def _dispatched(db, world, moments: list[datetime]) -> list[Assignment]:
    """One draw whose assignments were dispatched at `moments` (UTC)."""
    office = world.users["office"]
    draw = _placeholder_draw(office, moments[0] - timedelta(hours=1), moments[-1] + timedelta(hours=1))
    db.session.add(draw)
    db.session.flush()
    rows = []
    for position, moment in enumerate(moments, start=1):
        assignment = Assignment(draw_id=draw.id, position=position, venue=world.venues["a_north"],
                                visit_date=china_date(moment), window_start=draw.window_start,
                                window_end=draw.window_end)
        db.session.add(assignment)
        record_created(assignment, office)
        assignment.status, assignment.dispatched_at = "dispatched", moment
        rows.append(assignment)
    db.session.flush()
    return rows


def test_dashboard_today_is_the_beijing_day(db, world):
    evening_before, midnight, night, evening = _dispatched(db, world, [
        datetime(2026, 3, 10, 15, 59, tzinfo=UTC), datetime(2026, 3, 10, 16, 0, tzinfo=UTC), NIGHT_UTC,
        datetime(2026, 3, 11, 15, 59, tzinfo=UTC)])
    now = NIGHT_UTC + timedelta(minutes=15)  # 00:45 in Beijing, still the 10th in UTC

    def listed(at: datetime) -> set[int]:
        return {a["id"] for draw in dashboard.todays_dispatches(at) for a in draw["assignments"]
                if draw["draw_id"] == night.draw_id}

    assert listed(now) == {midnight.id, night.id, evening.id}
    assert listed(now - timedelta(minutes=46)) == {evening_before.id}  # 23:59 the evening before
    summary = dashboard.office_dashboard(world.users["office"], now)
    assert summary["today"] == DAY


def test_audit_log_date_filter_takes_beijing_days(db, client, world, monkeypatch):
    action = f"test.beijing_day.{uuid.uuid4().hex[:8]}"
    login(client, world.users["auditor"])
    moments = {"evening_before": datetime(2030, 5, 31, 15, 59, tzinfo=UTC),
               "midnight": datetime(2030, 5, 31, 16, 0, tzinfo=UTC),
               "night": datetime(2030, 5, 31, 16, 30, tzinfo=UTC),
               "evening": datetime(2030, 6, 1, 15, 59, tzinfo=UTC),
               "next_midnight": datetime(2030, 6, 1, 16, 0, tzinfo=UTC)}
    with monkeypatch.context() as patch:
        for name, moment in moments.items():
            patch.setattr(chain, "utcnow", lambda moment=moment: moment)
            chain.record_event(action, object_type="venue", object_id=name, details={"时刻": name})
    db.session.commit()

    def shown(day_from: str, day_to: str) -> str:
        return client.get("/audit", query_string={"action": action, "date_from": day_from,
                                                  "date_to": day_to}).get_data(as_text=True)

    page = shown("2030-06-01", "2030-06-01")
    assert "共 3 条事件" in page
    assert "场所 midnight" in page and "场所 night" in page and "场所 evening" in page
    assert "场所 evening_before" not in page and "场所 next_midnight" not in page
    assert "2030-06-01 00:30" in page  # the list shows Beijing time too
    assert "共 1 条事件" in shown("2030-05-31", "2030-05-31") and "场所 evening_before" in shown("2030-05-31",
                                                                                               "2030-05-31")
    assert "共 1 条事件" in shown("2030-06-02", "2030-06-02")


def test_field_client_show_prints_the_check_in_in_beijing_time(tmp_path):
    from field_client.cli import main
    from field_client.store import Store

    home = tmp_path / "field"
    Store(home).close()
    target = {"name": "夜色密室逃脱", "category": "密室逃脱", "county": "婺城区", "address": "某路 1 号",
              "approved_capacity": 40}
    connection = sqlite3.connect(home / "field.sqlite3")
    with connection:
        connection.execute(
            "INSERT INTO assignments (id, uuid, status, status_label, visit_date, window_start, window_end,"
            " members, target, revealed_at, revealed_how, pulled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (7, str(uuid.uuid4()), "revealed", "已揭封", DAY.isoformat(), "2026-03-10T16:00:00+00:00",
             "2026-03-11T15:59:00+00:00", "[]", json.dumps(target, ensure_ascii=False), NIGHT_UTC.isoformat(),
             "code", NIGHT_UTC.isoformat()))
        uuid_of = connection.execute("SELECT uuid FROM assignments WHERE id = 7").fetchone()[0]
        connection.execute("INSERT INTO inspections (uuid, assignment_uuid, checked_in_at, device_time)"
                           " VALUES (?, ?, ?, ?)", (str(uuid.uuid4()), uuid_of, NIGHT_UTC.isoformat(),
                                                    NIGHT_UTC.isoformat()))
    connection.close()
    result = CliRunner().invoke(main, ["--home", str(home), "show", "7"])
    assert result.exit_code == 0, result.output
    assert "签到：2026-03-11 00:30（北京时间）" in result.output
    assert "时间窗口：2026-03-11 00:00 – 2026-03-11 23:59（北京时间）" in result.output
    assert "16:30" not in result.output and "2026-03-10" not in result.output
