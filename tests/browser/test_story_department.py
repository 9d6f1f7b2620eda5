"""Viewers: the department (文广旅游局) and the county (义乌市) see statistics of their own sector
only — categories and counties the office sees for the same week are absent from theirs — and
the enforcement pages are closed to them."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def statistics_column(story, page, by: str, who: str) -> set[str]:
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="违规统计").click()
    expect(page.get_by_role("heading", name="违规统计", exact=True)).to_be_visible()
    story.snap(page, f"statistics-{who}")
    table = page.get_by_role("table", name=f"按{by}统计")
    return {text.strip() for text in table.locator("tbody tr td:first-child").all_inner_texts()}


def test_department_sees_only_its_categories(story):
    office = story.login("office")
    city_categories = statistics_column(story, office, "场所类别", "office")

    department = story.login("department")
    scope = department.get_by_text(re.compile("^负责的场所类别："))
    own = set(scope.inner_text().split("：", 1)[1].split("、"))
    assert "博物馆" in own and "餐饮场所" not in own
    seen = statistics_column(story, department, "场所类别", "department")
    others = city_categories - own
    # The week's demo findings touch other departments' categories; the department sees none of them.
    assert seen and others, (seen, others)
    assert seen <= own, seen - own
    main = department.get_by_role("main")
    for category in others:
        expect(main.get_by_role("cell", name=category, exact=True)).to_have_count(0)
    expect(department.get_by_role("table", name="按责任部门统计")).not_to_contain_text("商务局")

    # Enforcement's queue is not the department's: no link, and the address answers 403.
    expect(department.get_by_role("navigation", name="主导航").get_by_role("link", name="执法办案")).to_have_count(0)
    response = department.goto("/violations")
    assert response.status == 403
    story.snap(department, "violations-forbidden")


def test_county_sees_only_its_territory(story):
    office = story.login("office")
    city_counties = statistics_column(story, office, "县（市、区）", "office")
    county = story.login("county")
    seen = statistics_column(story, county, "县（市、区）", "county")
    assert seen == {"义乌市"}, seen
    assert len(city_counties) > 1, city_counties
    main = county.get_by_role("main")
    for other in city_counties - {"义乌市"}:
        expect(main.get_by_role("cell", name=other, exact=True)).to_have_count(0)
