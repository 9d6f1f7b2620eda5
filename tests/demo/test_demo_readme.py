"""The README's demo paragraphs against a seeded demo: the numbers it quotes, the users it names,
the assignment numbers it uses, and the draws it sends the auditor to verify — so the README and
the demo cannot drift apart."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from server.accounts.models.user import User
from server.columns import as_utc
from server.demo.cases import seed_demo_inspections
from server.demo.cli.demo import DEMO_WEEK_DAYS, _week_line
from server.demo.registry import DEMO_PASSWORD, seed_demo
from server.demo.rectification import seed_demo_rectification
from server.demo.week import INSPECTIONS_PER_DAY, seed_week_inspections
from server.draws.closing import close_draw
from server.draws.models.draw import Draw
from server.draws.verification import MATCH, verify_draw
from server.extensions import limiter
from server.registry.models.reference import Department
from server.registry.models.venue import Venue

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def quoted(pattern: str) -> re.Match:
    """The README's words around a number, found once (whitespace as in a wrapped paragraph)."""
    found = re.search(pattern.replace(" ", r"\s+"), README)
    assert found, f"README no longer says: {pattern}"
    return found


def number(text: str) -> int:
    return NUMBER_WORDS[text] if text in NUMBER_WORDS else int(text.replace(",", ""))


@pytest.fixture
def demo(db):
    """The demo as `anfang demo seed` makes it: registry, the enforcement story, the week."""
    limiter.reset()
    seed_demo()
    made = seed_demo_inspections()
    week = seed_week_inspections(DEMO_WEEK_DAYS)
    seed_demo_rectification()
    db.session.commit()
    return made, week


def _login(client, username: str) -> None:
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 302


def _user(db, username: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == username))


def test_the_numbers_the_readme_quotes_are_the_seeds(db, demo):
    made, week = demo
    venues = number(quoted(r"registry from a fixed random seed \((\d[\d,]*) venues").group(1))
    assert db.session.scalar(sa.select(sa.func.count(Venue.id))) == venues
    inspectors = number(quoted(r"; (\d+) inspectors from several").group(1))
    assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.role == "inspector")) == inspectors

    assert made == number(quoted(r"also submits (\w+) inspections with violations").group(1))
    days, per_day = map(number, quoted(r"(\d+) days ending yesterday, up to (\d+) visits a day").groups())
    assert (days, per_day) == (DEMO_WEEK_DAYS, INSPECTIONS_PER_DAY) == (week.days, INSPECTIONS_PER_DAY)
    # A re-inspection no team can staff that day (回避) leaves the day a visit short: "up to".
    assert days * (per_day - 8) <= week.inspections <= days * per_day and week.violations > 0
    per_note = quoted(r"(\w+) example notes a day \(one positive, one negative\) with (\w+) or (\w+) site photos each")
    notes_a_day, fewest, most = map(number, per_note.groups())
    assert week.notes == notes_a_day * days == number(quoted(r"典型记录 (\d+) 条").group(1))
    assert fewest * week.notes <= week.photos <= most * week.notes
    # The counts the README leaves to the seed command are printed by it, in the words quoted.
    printed = quoted(r"\(`(演示检查：新增 7 天[^`]*)`\)").group(1)
    pattern = re.escape(re.sub(r"\s+", "", printed)).replace("…", r"\d+")
    assert re.match(pattern, re.sub(r"\s+", "", _week_line(week))), (printed, _week_line(week))


def test_the_users_the_readme_names_are_the_demos(db, demo):
    table = re.findall(r"^\| (\w+) [^|]*\| (.+?) \| .+ \|$", README, re.MULTILINE)
    roles = {role: re.findall(r"`([a-z0-9]+)`", cell) for role, cell in table if role != "role"}
    assert "auditor" in roles and "office" in roles
    for role, usernames in roles.items():
        for username in usernames:
            user = _user(db, username)
            assert user is not None and user.role == role, username
    first, last = map(int, quoted(r"`inspector(\d+)` … `inspector(\d+)`").groups())
    for n in range(first, last + 1):
        assert _user(db, f"inspector{n:02d}").role == "inspector"
    police = db.session.scalar(sa.select(Department.id).where(Department.is_enforcement_authority.is_(True)))
    for n in quoted(r"\(`inspector(\d+)`, `inspector(\d+)`, … are police officers with enforcement").groups():
        user = _user(db, f"inspector{n}")
        assert user.enforcement_certificate_no and user.department_id == police, user.username
    # A name printed beside a username (孟洋（inspector30…) is that user's.
    for name, username in re.findall(r"([\u4e00-\u9fff]{2,3})（(inspector\d+)", README):
        assert _user(db, username).display_name == name, username
    # No fixed field user: the draw chooses the team, and the README says how to find it.
    assert not re.search(r"inspector22|--include-inspector", README)
    assert DEMO_PASSWORD in README


def test_the_readme_uses_no_fixed_draw_or_assignment_number():
    # The demo's week takes the first numbers: an example draw or assignment has the one printed.
    assert not re.findall(r"anfang (?:assignment|draw) [a-z-]+ \d+", README)
    start, end = README.index("**0. The office draws and dispatches**"), README.index("## Field client (offline)")
    walkthrough = README[start:end]
    assert not re.findall(r"anfang-field [a-z]+ \d+\b", walkthrough)
    assert not re.findall(r"/api/v1/assignments/\d", walkthrough)
    assert "anfang assignment list --draw N" in walkthrough and "anfang assignment show $ID" in walkthrough


def _verify_every_draw(db) -> None:
    draws = list(db.session.scalars(sa.select(Draw).order_by(Draw.id)))
    assert draws
    for draw in draws:
        report = verify_draw(draw)
        if draw.status == "closed":
            assert report.state == MATCH, (draw.id, report.message, report.reasons)
            assert report.registry_changes == [], (draw.id, report.registry_changes)
        else:  # the enforcement story's draws: open until their window ends
            assert draw.status == "committed", (draw.id, draw.status)


def test_every_demo_draw_verifies_and_the_auditor_sees_it(client, db, demo):
    _verify_every_draw(db)
    closed = db.session.scalar(sa.select(sa.func.count(Draw.id)).where(Draw.status == "closed"))
    assert closed >= DEMO_WEEK_DAYS
    # `anfang demo inspections --days 8` adds an earlier day's draws; all still verify.
    more = seed_week_inspections(DEMO_WEEK_DAYS + 1)
    db.session.commit()
    assert more.days == 1
    _verify_every_draw(db)
    # The enforcement story's draws, closed once their window has ended, verify too.
    office = _user(db, "office")
    for draw in db.session.scalars(sa.select(Draw).where(Draw.status == "committed")):
        close_draw(draw, office, channel="cli", now=as_utc(draw.window_end) + timedelta(minutes=1))
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count(Draw.id)).where(Draw.status != "closed")) == 0
    _verify_every_draw(db)

    # Story 6: the auditor opens a closed draw and its verification.
    draw = db.session.scalar(sa.select(Draw).where(Draw.status == "closed").order_by(Draw.id.desc()).limit(1))
    _login(client, "auditor")
    page = client.get(f"/draws/{draw.id}").get_data(as_text=True)
    assert "None" not in page and "核验本次抽查" in page
    html = client.get(f"/draws/{draw.id}/verification").get_data(as_text=True)
    assert "核验通过" in html and "None" not in html


def test_the_readme_rectification_story_has_its_order_in_the_county_users_territory(client, db, demo):
    from server.enforcement.models.rectification import RectificationOrder

    assert "The demo has one open rectification order in 义乌市" in README
    orders = db.session.scalars(sa.select(RectificationOrder)).all()
    county = _user(db, "county")
    assert len(orders) == 1 and orders[0].state == "open" and orders[0].county_id == county.county_id
    assert seed_demo_rectification() is None  # seeding again adds nothing
    _login(client, "county")
    tracking = client.get("/rectification-tracking").get_data(as_text=True)
    assert f"第 {orders[0].id} 号" in tracking
    page = client.get(f"/rectification/{orders[0].id}").get_data(as_text=True)
    assert "报告整改完成" in page and "整改后的照片" in page
