"""The statistics filters offer only what the reader may see, and a choice outside its scope given
in the URL (or the API) is refused by name beside the field — never a silent 0."""

from __future__ import annotations

import re

from stats_world import DAY1, DAY3, bearer, build_counts, stats_world  # noqa: F401  (fixture)
from web_session import login

from server.oversight import statistics

PERIOD = {"from": DAY1.isoformat(), "to": DAY3.isoformat()}


def options(html: str, name: str) -> list[str]:
    select = re.search(rf'<select id="f-{name}".*?</select>', html, re.S).group(0)
    return [value for value in re.findall(r'<option value="([^"]*)"', select) if value]


def test_a_county_reader_is_offered_only_its_county(db, client, stats_world):
    w = stats_world
    login(client, w.users["north"])
    html = client.get("/statistics", query_string=PERIOD).get_data(as_text=True)
    assert options(html, "county") == [w.counties["north"].code]
    assert w.departments["a"].code in options(html, "department")


def test_a_department_reader_is_offered_only_itself_and_its_categories(db, client, stats_world):
    w = stats_world
    login(client, w.users["dep_b"])
    html = client.get("/statistics", query_string=PERIOD).get_data(as_text=True)
    assert options(html, "department") == [w.departments["b"].code]
    assert options(html, "category") == [w.categories["ab"].code]
    assert set(options(html, "county")) >= {w.counties["north"].code, w.counties["south"].code}


def test_the_office_is_offered_everything(db, client, stats_world):
    w = stats_world
    login(client, w.users["office"])
    html = client.get("/statistics", query_string=PERIOD).get_data(as_text=True)
    assert {w.counties["north"].code, w.counties["south"].code} <= set(options(html, "county"))
    assert {w.departments["a"].code, w.departments["b"].code} <= set(options(html, "department"))


def test_another_county_in_the_url_is_refused_beside_the_field(db, client, stats_world):
    w = stats_world
    build_counts(w)
    login(client, w.users["north"])
    response = client.get("/statistics", query_string={**PERIOD, "county": w.counties["south"].code})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    error = re.search(r'<span class="field__error" id="f-county-error">([^<]*)</span>', html).group(1)
    assert error == f"属地政府账号只能统计本辖区（北县{w.tag}）。"
    assert 'aria-describedby="f-county-error"' in html
    assert "<svg" not in html and "违规问题 <strong>" not in html  # no numbers, rather than zeros
    # Its own county is fine.
    html = client.get("/statistics", query_string={**PERIOD, "county": w.counties["north"].code}).get_data(as_text=True)
    assert "违规问题 <strong>4</strong> 起" in html and "field__error" not in html


def test_another_department_or_category_is_refused_for_a_department(db, client, stats_world):
    w = stats_world
    login(client, w.users["dep_b"])
    html = client.get("/statistics", query_string={**PERIOD, "department": w.departments["a"].code,
                                                   "category": w.categories["a"].code}).get_data(as_text=True)
    assert f"行业部门账号只能统计本部门（乙局{w.tag}）。" in html
    assert f"该场所类别不由本部门（乙局{w.tag}）负责。" in html
    assert 'id="f-department-error"' in html and 'id="f-category-error"' in html


def test_the_api_refuses_another_county_with_the_field_named(db, client, stats_world):
    w = stats_world
    response = client.get("/api/v1/statistics/violations", headers=bearer(w.users["south"]),
                          query_string={"from": DAY1.isoformat(), "to": DAY3.isoformat(), "by": "county",
                                        "county": w.counties["north"].code})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.json["errors"]["county"] == [f"属地政府账号只能统计本辖区（南县{w.tag}）。"]


def test_filter_choices_match_the_scope(db, stats_world):
    w = stats_world
    north = statistics.filter_choices(w.users["north"])
    assert [c.id for c in north["counties"]] == [w.counties["north"].id]
    dep_a = statistics.filter_choices(w.users["dep_a"])
    assert [d.id for d in dep_a["departments"]] == [w.departments["a"].id]
    assert [c.id for c in dep_a["categories"]] == [w.categories["a"].id, w.categories["ab"].id]
