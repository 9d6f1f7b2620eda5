"""Headline numbers of the landing pages: counted from the seeded records independently of the
code under test, within each role's scope, on Beijing days, with seven days of trend."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from stats_world import DAY1, DAY2, DAY3, build_counts, stats_world  # noqa: F401  (fixture)
from web_session import login

from server.columns import china_today
from server.enforcement.models.rectification import RectificationOrder
from server.extensions import db
from server.oversight import headlines
from server.roles import ROLES

# build_counts, read off its docstring (not counted by the code under test): submitted records
# (each visit once) and live violations per Beijing day, for the whole city and each scope.
CHECKS = {"office": {DAY1: 1, DAY2: 3, DAY3: 2},          # DAY2: ab_north 02:00, ab_south, the withdrawn one's visit
          "north": {DAY1: 1, DAY2: 2, DAY3: 1},           # a_north, ab_north, a_north (withdrawn K5), a_north
          "south": {DAY2: 1, DAY3: 1},
          "dep_b": {DAY2: 2, DAY3: 1}}                    # venues of the shared category only
VIOLATIONS = {"office": {DAY1: 2, DAY2: 3, DAY3: 2},
              "north": {DAY1: 2, DAY2: 1, DAY3: 1},
              "south": {DAY2: 2, DAY3: 1},
              "dep_b": {DAY2: 3, DAY3: 1}}


def by_key(items) -> dict:
    return {item.key: item for item in items}


def bars(headline) -> dict:
    return {day: n for day, n in headline.days if n}


def add_orders(w):
    """Two overdue orders (north, south) and one still running (south) on DAY3."""
    office = w.users["office"]
    orders = [RectificationOrder(state="open", venue_id=w.venues[key].id, county_id=w.venues[key].county_id,
                                 requirements="限期整改", deadline=deadline, issuing_authority="市公安局",
                                 issued_on=DAY1, issued_by_id=office.id)
              for key, deadline in (("a_north", DAY1), ("ab_south", DAY2), ("ab_south", DAY3 + timedelta(days=3)))]
    db.session.add_all(orders)
    db.session.flush()
    return orders


@pytest.mark.parametrize("user_key", ["office", "north", "south", "dep_b"])
def test_checks_and_violations_per_beijing_day_within_the_scope(db, stats_world, user_key):
    w = stats_world
    build_counts(w)
    numbers = by_key(headlines.headlines(w.users[user_key], today=DAY3))
    assert bars(numbers["checks"]) == CHECKS[user_key]
    assert numbers["checks"].value == CHECKS[user_key].get(DAY3, 0)
    assert bars(numbers["violations"]) == VIOLATIONS[user_key]
    assert numbers["violations"].value == VIOLATIONS[user_key].get(DAY3, 0)
    # Seven Beijing days, oldest first, today last.
    assert [day for day, _ in numbers["checks"].days] == [DAY3 - timedelta(days=n) for n in range(6, -1, -1)]


def test_overdue_and_open_orders_follow_the_county(stats_world):
    w = stats_world
    build_counts(w)
    add_orders(w)
    office = by_key(headlines.headlines(w.users["office"], today=DAY3))
    north = by_key(headlines.headlines(w.users["north"], today=DAY3))
    south = by_key(headlines.headlines(w.users["south"], today=DAY3))
    assert office["overdue_orders"].value == 2 and bars(office["overdue_orders"]) == {DAY1: 1, DAY2: 1}
    assert north["overdue_orders"].value == 1 and bars(north["overdue_orders"]) == {DAY1: 1}
    assert south["overdue_orders"].value == 1 and south["open_orders"].value == 2
    assert north["open_orders"].value == 1


def test_a_record_at_23_30_beijing_counts_on_that_day_and_00_30_on_the_next(db, stats_world):
    w = stats_world
    w.inspect(w.venues["a_north"], DAY2, [("K3", "k3_visitors_within_half_capacity")], hour=23, minute=30)
    w.inspect(w.venues["a_north"], DAY3, [("K5", "k5_private_room")], hour=0, minute=30)
    numbers = by_key(headlines.headlines(w.users["north"], today=DAY3))
    assert bars(numbers["checks"]) == {DAY2: 1, DAY3: 1}
    assert bars(numbers["violations"]) == {DAY2: 1, DAY3: 1}


def test_change_against_the_seven_days_before(db, stats_world):
    w = stats_world
    build_counts(w)
    # A week after DAY3: DAY4's record (00:00 Beijing) is in the recent week, DAY1–DAY3 before it.
    numbers = by_key(headlines.headlines(w.users["office"], today=DAY3 + timedelta(days=7)))
    checks = numbers["checks"]
    assert (checks.week, checks.previous, checks.change) == (1, 6, -5)
    assert checks.change_text == "比前 7 日少 5 次"


@pytest.mark.parametrize("user_key", ["north", "dep_b", "propaganda", "inspector", "auditor"])
def test_no_role_gets_a_number_about_what_it_may_not_read(db, stats_world, user_key):
    keys = set(by_key(headlines.headlines(stats_world.users[user_key], today=DAY3)))
    assert "open_cases" not in keys and "decisions_due" not in keys  # cases: enforcement, office, admin
    if user_key in ("propaganda",):
        assert keys.isdisjoint({"checks", "violations", "overdue_orders"})


def test_every_role_has_numbers_with_a_strip_on_its_home_page(db, client, stats_world):
    w = stats_world
    today = china_today()
    w.inspect(w.venues["a_north"], today, [("K3", "k3_visitors_within_half_capacity")], hour=0, minute=5)
    w.inspect(w.venues["ab_south"], today, [("K5", "k5_private_room")], hour=0, minute=10)
    seen = set()
    for key in ("office", "admin", "enforcement", "auditor", "dep_a", "north", "propaganda", "inspector"):
        user = w.users[key]
        seen.add(user.role)
        login(client, user)
        response = client.get("/")
        assert response.status_code == 200, key
        html = response.get_data(as_text=True)
        section = re.search(r'<section class="headlines".*?</section>', html, re.S)
        assert section, key
        assert section.group(0).count('class="chart trend-strip"') == 4, key
        assert section.group(0).count("：近 7 日共 ") == 4, key
    assert seen == set(ROLES)


def test_county_home_shows_only_its_territory(db, client, stats_world):
    w = stats_world
    today = china_today()
    w.inspect(w.venues["a_north"], today, [("K3", "k3_visitors_within_half_capacity"), ("K10", "k10_health_code")])
    w.inspect(w.venues["ab_south"], today, [("K5", "k5_private_room")])
    login(client, w.users["south"])
    html = client.get("/").get_data(as_text=True)
    violations = re.search(r'data-headline="violations">.*?</div>', html, re.S).group(0)
    assert "<strong>1</strong> 起" in violations
    login(client, w.users["office"])
    html = client.get("/").get_data(as_text=True)
    violations = re.search(r'data-headline="violations">.*?</div>', html, re.S).group(0)
    assert "<strong>3</strong> 起" in violations


def test_inspector_home_links_to_the_phone_app(db, client, stats_world):
    login(client, stats_world.users["inspector"])
    html = client.get("/").get_data(as_text=True)
    assert '<a class="button" href="/field/">打开现场记录应用</a>' in html
    assert "anfang-field reveal" not in html


def test_an_inspector_counts_only_the_records_of_their_own_teams(db, stats_world):
    from server.draws.models.draw import AssignmentMember
    from server.field.models.inspection import Inspection

    w = stats_world
    build_counts(w)
    inspector = w.users["inspector"]
    assert {h.key: h.week for h in headlines.headlines(inspector, today=DAY3)}["checks"] == 0
    # Put on the team of one more visit (ab_south, DAY1, two violations): that visit alone counts.
    [violation, _] = w.inspect(w.venues["ab_south"], DAY1, [("K5", "k5_private_room"), ("K3", "k3_x")])
    inspection = db.session.get(Inspection, violation.inspection_id)
    db.session.add(AssignmentMember(assignment_id=inspection.assignment_id, user_id=inspector.id, position=1,
                                    is_leader=True))
    db.session.flush()
    numbers = by_key(headlines.headlines(inspector, today=DAY3))
    assert bars(numbers["checks"]) == {DAY1: 1} and bars(numbers["violations"]) == {DAY1: 2}
