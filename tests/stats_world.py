"""Hand-built violations for the statistics and accountability tests.

Two departments, two categories (one shared by both departments), two counties, three venues,
inspections on known days in China time. Import: `from stats_world import stats_world, StatsWorld`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

import pytest
from assignment_world import PASSWORD_HASH, _placeholder_draw

from server.accounts.auth import issue_device_token
from server.accounts.models.user import User
from server.columns import utcnow
from server.draws.assignments import record_created
from server.draws.models.draw import Assignment
from server.field.models.inspection import Inspection, Violation
from server.registry.models.reference import County, Department, RosterMember, VenueCategory
from server.registry.models.venue import Venue

DAY1, DAY2, DAY3 = date(2026, 3, 10), date(2026, 3, 11), date(2026, 3, 12)
CST = timezone(timedelta(hours=8))


@dataclass
class StatsWorld:
    tag: str
    departments: dict[str, Department]
    categories: dict[str, VenueCategory]
    counties: dict[str, County]
    venues: dict[str, Venue]
    users: dict[str, User]
    leaders: dict[str, RosterMember]
    inspect: callable  # inspect(venue, day, checks, hour=10, minute=0) -> list[Violation], day and time in China time


@pytest.fixture
def stats_world(db, make_venue) -> StatsWorld:
    tag = uuid.uuid4().hex[:8]
    dep_a = Department(code=f"da{tag}", name=f"甲局{tag}", sort_order=1)
    dep_b = Department(code=f"db{tag}", name=f"乙局{tag}", sort_order=2)
    cat_a = VenueCategory(code=f"ca{tag}", name=f"甲类{tag}", departments=[dep_a], sort_order=1)
    cat_ab = VenueCategory(code=f"cb{tag}", name=f"共管类{tag}", departments=[dep_a, dep_b], sort_order=2)
    north = County(code=f"n{tag}", name=f"北县{tag}", kind="county", sort_order=1)
    south = County(code=f"s{tag}", name=f"南县{tag}", kind="county", sort_order=2)
    db.session.add_all([dep_a, dep_b, cat_a, cat_ab, north, south])
    db.session.flush()
    leaders = {
        "a": RosterMember(name=f"甲领导{tag[:4]}", group_role="member", title=f"甲局{tag}局长", department_id=dep_a.id,
                          is_responsible_leader=True),
        "b": RosterMember(name=f"乙领导{tag[:4]}", group_role="member", title=f"乙局{tag}副局长", department_id=dep_b.id,
                          is_responsible_leader=True),
    }
    db.session.add_all(leaders.values())
    venues = {
        "a_north": make_venue(name=f"甲北场所{tag}", category=cat_a, county=north, operator_name=f"甲经营者{tag}"),
        "ab_north": make_venue(name=f"共北场所{tag}", category=cat_ab, county=north, operator_name=f"共经营者{tag}"),
        "ab_south": make_venue(name=f"共南场所{tag}", category=cat_ab, county=south, operator_name=f"南经营者{tag}"),
    }

    def user(key: str, role: str, **extra) -> User:
        row = User(username=f"{key}-{tag}", display_name=f"用户{key}", role=role, password_hash=PASSWORD_HASH, **extra)
        db.session.add(row)
        return row

    users = {"office": user("office", "office"), "admin": user("admin", "admin"),
             "enforcement": user("enf", "enforcement"), "auditor": user("aud", "auditor"),
             "dep_a": user("depa", "department", department=dep_a), "dep_b": user("depb", "department", department=dep_b),
             "north": user("north", "county", county=north), "south": user("south", "county", county=south),
             "propaganda": user("prop", "propaganda"), "inspector": user("insp", "inspector"),
             "leader": user("lead", "inspector")}
    db.session.flush()

    def inspect(venue: Venue, day: date, checks: list[tuple[str, str]], hour: int = 10,
                minute: int = 0) -> list[Violation]:
        # Stored in UTC as the application stores it (SQLite would keep UTC+8 digits as given).
        checked_in = datetime(day.year, day.month, day.day, hour, minute, tzinfo=CST).astimezone(timezone.utc)
        start = utcnow() - timedelta(hours=1)
        draw = _placeholder_draw(users["office"], start, start + timedelta(hours=6))
        db.session.add(draw)
        db.session.flush()
        assignment = Assignment(draw_id=draw.id, position=1, venue=venue, visit_date=day, window_start=start,
                                window_end=start + timedelta(hours=6))
        db.session.add(assignment)
        record_created(assignment, users["office"])
        assignment.status = "submitted"
        inspection = Inspection(uuid=str(uuid.uuid4()), assignment_id=assignment.id, device_id="t",
                                inspector_id=users["leader"].id, checked_in_at=checked_in, status="complete",
                                submitted_at=checked_in, submission_received_at=utcnow())
        db.session.add(inspection)
        db.session.flush()
        rows = [Violation(inspection_id=inspection.id, rule_code=rule, check_code=check, description=f"问题 {check}",
                          venue_id=venue.id, county_id=venue.county_id,
                          department_ids=sorted(d.id for d in venue.category.departments))
                for rule, check in checks]
        db.session.add_all(rows)
        db.session.flush()
        return rows

    return StatsWorld(tag, {"a": dep_a, "b": dep_b}, {"a": cat_a, "ab": cat_ab}, {"north": north, "south": south},
                      venues, users, leaders, inspect)


def build_counts(world: StatsWorld) -> None:
    """The shared scenario: 7 live violations, 1 withdrawn, 1 outside the period.

    DAY1 a_north: K3, K10          (north, cat a, dep a)
    DAY2 ab_north: K10             (north, cat ab, deps a+b) — 02:00 China time, still DAY1 in UTC
    DAY2 ab_south: K3, K5          (south, cat ab, deps a+b)
    DAY3 ab_south: K10             (second inspection of ab_south)
    DAY3 a_north: K1 closed check  (operating while closed)
    withdrawn: DAY2 a_north K5; outside: DAY3 + 1 day 00:00 China time (DAY3 in UTC) a_north K3
    """
    v = world.venues
    world.inspect(v["a_north"], DAY1, [("K3", "k3_visitors_within_half_capacity"), ("K10", "k10_health_code")])
    world.inspect(v["ab_north"], DAY2, [("K10", "k10_temperature")], hour=2)
    world.inspect(v["ab_south"], DAY2, [("K3", "k3_visitors_within_half_capacity"), ("K5", "k5_private_room")])
    world.inspect(v["ab_south"], DAY3, [("K10", "k10_health_code")])
    world.inspect(v["a_north"], DAY3, [("K1", "k1_leisure_venue_closed")])
    [withdrawn] = world.inspect(v["a_north"], DAY2, [("K5", "k5_private_room")])
    withdrawn.withdrawn_at = utcnow()
    world.inspect(v["a_north"], DAY3 + timedelta(days=1), [("K3", "k3_visitors_within_half_capacity")], hour=0)


def bearer(user) -> dict:
    raw, token = issue_device_token(user, "测试电脑", channel="api")
    token.last_used_at = utcnow()  # so that requests do not write to the token row
    return {"Authorization": f"Bearer {raw}"}
