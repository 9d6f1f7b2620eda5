"""The statistics page: tables and server-drawn SVG charts within the reader's scope, and its downloads."""

from __future__ import annotations

import csv
import io

import pytest
from stats_world import DAY1, DAY3, build_counts, stats_world  # noqa: F401  (fixture)
from web_session import login

from server.oversight import statistics

PERIOD = {"from": DAY1.isoformat(), "to": DAY3.isoformat()}


def test_page_shows_every_dimension_as_table_and_svg_chart_within_the_county_scope(db, client, stats_world):
    w = stats_world
    build_counts(w)
    login(client, w.users["south"])
    html = client.get("/statistics", query_string=PERIOD).get_data(as_text=True)
    assert "违规问题 <strong>3</strong> 起" in html
    assert html.count("<svg") == len(statistics.DIMENSIONS)
    assert f"南县{w.tag}" in html and f"北县{w.tag}</td>" not in html
    for by in statistics.DIMENSIONS:
        assert f"按{statistics.DIMENSION_LABELS[by]}" in html
        for row in statistics.violation_counts(by=by, user=w.users["south"], date_from=DAY1, date_to=DAY3):
            assert f"<td>{row.label}</td><td>{row.count}</td>" in html


def test_page_filters_and_explains_unknown_codes(db, client, stats_world):
    w = stats_world
    build_counts(w)
    login(client, w.users["office"])
    html = client.get("/statistics", query_string={**PERIOD, "department": w.departments["b"].code}).get_data(as_text=True)
    assert "违规问题 <strong>4</strong> 起" in html
    html = client.get("/statistics", query_string={**PERIOD, "county": "atlantis"}).get_data(as_text=True)
    assert "atlantis" in html and "<svg" not in html


def test_download_equals_the_service(db, client, stats_world):
    w = stats_world
    build_counts(w)
    login(client, w.users["dep_b"])
    response = client.get("/statistics/export.csv", query_string={**PERIOD, "by": "county"})
    assert response.status_code == 200
    table = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    rows = statistics.violation_counts(by="county", user=w.users["dep_b"], date_from=DAY1, date_to=DAY3)
    assert [(k, label, int(n)) for k, label, n in table[1:]] == [(r.key, r.label, r.count) for r in rows]
    xlsx = client.get("/statistics/export.xlsx", query_string={**PERIOD, "by": "day"})
    assert xlsx.status_code == 200 and xlsx.data.startswith(b"PK")


@pytest.mark.parametrize("user_key", ["propaganda", "inspector"])
def test_page_is_refused_to_propaganda_and_inspectors(db, client, stats_world, user_key):
    login(client, stats_world.users[user_key])
    assert client.get("/statistics", query_string=PERIOD).status_code == 403
    assert client.get("/statistics/export.csv", query_string={**PERIOD, "by": "day"}).status_code == 403
