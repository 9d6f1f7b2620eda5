"""Counts by every dimension against hand-built violations; scope per role; the API and exports."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from stats_world import DAY1, DAY2, DAY3, bearer, build_counts, stats_world  # noqa: F401  (fixture)

from server.errors import Forbidden, Invalid
from server.oversight import statistics

PERIOD = dict(date_from=DAY1, date_to=DAY3)


def counts(world, by, user_key="office", **filters):
    rows = statistics.violation_counts(by=by, user=world.users[user_key], **PERIOD, **filters)
    return {row.label: row.count for row in rows}


def test_counts_by_each_dimension_only_live_violations_in_the_period_by_china_day(db, stats_world):
    w = stats_world
    build_counts(w)
    t = w.tag
    assert counts(w, "county") == {f"北县{t}": 4, f"南县{t}": 3}
    assert counts(w, "department") == {f"甲局{t}": 7, f"乙局{t}": 4}
    assert counts(w, "category") == {f"甲类{t}": 3, f"共管类{t}": 4}
    assert {label.split()[0]: n for label, n in counts(w, "rule").items()} == {"K1": 1, "K3": 2, "K5": 1, "K10": 3}
    assert counts(w, "day") == {DAY1.isoformat(): 2, DAY2.isoformat(): 3, DAY3.isoformat(): 2}
    total = statistics.violation_totals(user=w.users["office"], **PERIOD)
    assert (total.violations, total.inspections, total.venues) == (7, 5, 3)


def test_day_rows_cover_every_day_of_the_period_with_zeros(db, stats_world):
    build_counts(stats_world)
    rows = statistics.violation_counts(by="day", user=stats_world.users["office"], date_from=DAY1 - timedelta(days=1),
                                       date_to=DAY3)
    assert [(row.key, row.count) for row in rows] == [
        ((DAY1 - timedelta(days=1)).isoformat(), 0), (DAY1.isoformat(), 2), (DAY2.isoformat(), 3), (DAY3.isoformat(), 2)]


def test_filters_combine(db, stats_world):
    w = stats_world
    build_counts(w)
    assert counts(w, "county", department_id=w.departments["b"].id) == {f"北县{w.tag}": 1, f"南县{w.tag}": 3}
    assert counts(w, "department", county_id=w.counties["north"].id) == {f"甲局{w.tag}": 4, f"乙局{w.tag}": 1}
    assert counts(w, "county", category_id=w.categories["a"].id) == {f"北县{w.tag}": 3}
    assert counts(w, "day", rule_code="K10") == {DAY1.isoformat(): 1, DAY2.isoformat(): 1, DAY3.isoformat(): 1}


@pytest.mark.parametrize(("user_key", "expected"), [
    ("dep_a", {"北县": 4, "南县": 3}),
    ("dep_b", {"北县": 1, "南县": 3}),
    ("north", {"北县": 4}),
    ("south", {"南县": 3}),
    ("enforcement", {"北县": 4, "南县": 3}),
    ("auditor", {"北县": 4, "南县": 3}),
])
def test_a_department_sees_only_its_sectors_and_a_county_only_its_territory(db, stats_world, user_key, expected):
    build_counts(stats_world)
    got = counts(stats_world, "county", user_key)
    assert got == {f"{name}{stats_world.tag}": n for name, n in expected.items()}
    # A filter cannot widen the scope, and is refused by name rather than answered with nothing.
    other = stats_world.counties["south"].id if user_key == "north" else None
    if other:
        with pytest.raises(Invalid) as refused:
            counts(stats_world, "county", user_key, county_id=other)
        assert list(refused.value.errors) == ["county"] and "本辖区" in refused.value.errors["county"][0]


@pytest.mark.parametrize("user_key", ["propaganda", "inspector"])
def test_propaganda_and_inspectors_get_no_statistics(db, stats_world, user_key):
    with pytest.raises(Forbidden):
        statistics.violation_counts(by="county", user=stats_world.users[user_key], **PERIOD)


def test_bad_periods_and_dimensions_are_refused(db, stats_world):
    office = stats_world.users["office"]
    with pytest.raises(Invalid):
        statistics.violation_counts(by="county", user=office, date_from=DAY3, date_to=DAY1)
    with pytest.raises(Invalid):
        statistics.violation_counts(by="weekday", user=office, **PERIOD)
    with pytest.raises(Invalid):
        statistics.violation_counts(by="day", user=office, date_from=DAY1, date_to=DAY1 + timedelta(days=400))


def _get(client, user, **params):
    query = {"from": DAY1.isoformat(), "to": DAY3.isoformat(), **params}
    return client.get("/api/v1/statistics/violations", query_string=query, headers=bearer(user))


@pytest.mark.parametrize("by", statistics.DIMENSIONS)
def test_api_csv_and_xlsx_carry_the_numbers_of_the_service(db, client, stats_world, by):
    w = stats_world
    build_counts(w)
    user = w.users["dep_b"]
    expected = statistics.violation_counts(by=by, user=user, **PERIOD)
    answer = _get(client, user, by=by)
    assert answer.status_code == 200, answer.json
    assert [(r["key"], r["label"], r["count"]) for r in answer.json["rows"]] == [(r.key, r.label, r.count) for r in expected]
    assert answer.json["total"] == 4

    exported = _get(client, user, by=by, format="csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert table[0] == ["代码", statistics.DIMENSION_LABELS[by], "违规问题数"]
    assert [(k, label, int(n)) for k, label, n in table[1:]] == [(r.key, r.label, r.count) for r in expected]

    workbook = _get(client, user, by=by, format="xlsx")
    assert workbook.status_code == 200 and "spreadsheetml" in workbook.mimetype
    sheet = load_workbook(io.BytesIO(workbook.data)).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == table[0]
    assert [tuple(row) for row in values[1:]] == [(r.key, r.label, r.count) for r in expected]


def test_api_filters_by_codes_and_refuses_unknown_ones(db, client, stats_world):
    w = stats_world
    build_counts(w)
    answer = _get(client, w.users["office"], by="county", department=w.departments["b"].code, rule="K3")
    assert answer.status_code == 200
    assert [(r["label"], r["count"]) for r in answer.json["rows"]] == [(f"南县{w.tag}", 1)]
    bad = _get(client, w.users["office"], by="county", county="atlantis")
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert "atlantis" in bad.json["detail"]
    assert _get(client, w.users["office"], by="hour").status_code == 422
    assert client.get("/api/v1/statistics/violations", query_string={"from": "2026-03-01", "to": "2026-02-01",
                                                                      "by": "day"},
                      headers=bearer(w.users["office"])).status_code == 422


@pytest.mark.parametrize("user_key", ["propaganda", "inspector"])
def test_api_refuses_propaganda_and_inspectors(db, client, stats_world, user_key):
    answer = _get(client, stats_world.users[user_key], by="county")
    assert answer.status_code == 403


def test_api_needs_a_token(db, client):
    answer = client.get("/api/v1/statistics/violations", query_string={"from": "2026-03-01", "to": "2026-03-02",
                                                                        "by": "day"})
    assert answer.status_code == 401
