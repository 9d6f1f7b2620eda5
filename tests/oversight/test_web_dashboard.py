"""The office's dashboard: today's dispatches by draw, progress by state per open draw, overdue
rectification orders and teams out of touch — numbers as the fixtures make them, no venue names."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from assignment_world import PASSWORD_HASH, _placeholder_draw
from inspection_world import make_assignment, make_record, session_of, world  # noqa: F401

from server.accounts.models.user import DeviceToken, User
from server.columns import utcnow
from server.draws.assignments import record_created
from server.draws.models.draw import Assignment, AssignmentMember, Draw
from server.enforcement.models.rectification import RectificationOrder
from server.oversight import dashboard

# (assignment status, record status or None, dispatched today?) per assignment of the scenario's draw.
SCENARIO = [
    ("sealed", None, False), ("sealed", None, False),
    ("dispatched", None, True),
    ("revealed", None, True),
    ("in_progress", "draft", False),
    ("submitted", "awaiting_evidence", False),
    ("submitted", "complete", False),
    ("cancelled", None, False),
]
EXPECTED = {"sealed": 2, "dispatched": 1, "revealed": 1, "in_progress": 1, "awaiting_evidence": 1, "complete": 1,
            "ended": 1}


@pytest.fixture
def scenario(db, world, make_record):
    """One open draw whose assignments are in every state; each team of its own two inspectors."""
    office = world.users["office"]

    def inspector() -> User:
        row = User(username=f"insp-{uuid.uuid4().hex[:10]}", display_name="督查员", role="inspector",
                   password_hash=PASSWORD_HASH)
        db.session.add(row)
        return row

    now = utcnow()
    draw = _placeholder_draw(office, now - timedelta(hours=1), now + timedelta(hours=5))
    db.session.add(draw)
    db.session.flush()
    assignments = []
    for position, (status, record_status, today) in enumerate(SCENARIO, start=1):
        team = [inspector(), inspector()]
        db.session.flush()
        assignment = Assignment(draw_id=draw.id, position=position, venue=world.venue, visit_date=date.today(),
                                window_start=draw.window_start, window_end=draw.window_end)
        for n, member in enumerate(team, start=1):
            assignment.members.append(AssignmentMember(user_id=member.id, position=n, is_leader=n == 1))
        db.session.add(assignment)
        record_created(assignment, office)
        assignment.status = status
        if status != "sealed":
            # Dispatched earlier than today unless the scenario says today.
            assignment.dispatched_at = now if today else now - timedelta(days=3)
        db.session.flush()
        if record_status:
            make_record(assignment=assignment, status=record_status, team=team,
                        photos=record_status == "awaiting_evidence")
        assignments.append(assignment)
    return draw, assignments


def test_progress_counts_match_the_fixture(db, world, scenario):
    draw, _ = scenario
    [progress] = [p for p in dashboard.draw_progress() if p.draw_id == draw.id]
    assert progress.counts == EXPECTED and progress.total == len(SCENARIO)


def bucket_cells(html: str, draw_id: int) -> dict[str, str]:
    row = re.search(rf'<th scope="row"><a href="/draws/{draw_id}">.*?</tr>', html, re.S).group(0)
    return {code: re.sub(r"<[^>]+>", "", cell).strip()
            for code, cell in re.findall(r'<td data-bucket="([a-z_]+)">(.*?)</td>', row, re.S)}


def test_office_landing_page_shows_the_dashboard(app, db, world, scenario):
    draw, assignments = scenario
    html = session_of(app, world.users["office"]).get("/").get_data(as_text=True)
    # Progress of the draw, by state, with links to the records waiting for photos.
    assert bucket_cells(html, draw.id) == {code: str(count) for code, count in EXPECTED.items()}
    assert f"/inspections?draw_id={draw.id}&amp;state=awaiting_evidence" in html
    # Today's dispatches: the two dispatched today, not the ones dispatched days ago.
    today = re.search(r'<section class="panel" aria-labelledby="dash-dispatches">.*?</section>', html, re.S).group(0)
    dispatched_today = {a.id for a, (_, _, is_today) in zip(assignments, SCENARIO) if is_today}
    listed = {int(n) for n in re.findall(r'href="/assignments/(\d+)"', today)}
    assert listed == dispatched_today
    assert f"抽查第 {draw.id} 号</a>：2 个任务" in today
    # Nothing on the dashboard names a target.
    for secret in world.target_strings():
        assert secret not in html


def test_unsynced_teams(app, db, world, scenario, monkeypatch):
    draw, assignments = scenario
    by_status = {a.status: a for a in assignments}
    revealed, started = by_status["revealed"], by_status["in_progress"]
    # The started team's device was heard from a minute ago; the revealed team's never.
    db.session.add(DeviceToken(user_id=started.members[0].user_id, token_hash=uuid.uuid4().hex * 2,
                               prefix="anf_test", label="平板", expires_at=utcnow() + timedelta(days=30),
                               last_used_at=utcnow() - timedelta(minutes=1)))
    db.session.flush()
    quiet = {item["assignment_id"] for item in dashboard.quiet_teams()}
    assert revealed.id in quiet and started.id not in quiet
    later = utcnow() + timedelta(hours=4, minutes=5)  # QUIET_TEAM_AFTER_HOURS: 4 by default
    assert started.id in {item["assignment_id"] for item in dashboard.quiet_teams(later)}
    monkeypatch.setitem(app.config, "QUIET_TEAM_AFTER_HOURS", 6)
    assert started.id not in {item["assignment_id"] for item in dashboard.quiet_teams(later)}
    assert "超过 6 小时没有联系的督查组" in session_of(app, world.users["office"]).get("/").get_data(as_text=True)
    monkeypatch.undo()
    waiting = [item for item in dashboard.awaiting_evidence() if item["draw_id"] == draw.id]
    assert [(item["photos_expected"], item["photos_received"]) for item in waiting] == [(2, 1)]
    html = session_of(app, world.users["office"]).get("/").get_data(as_text=True)
    section = re.search(r'aria-labelledby="dash-sync">.*?</section>', html, re.S).group(0)
    assert f'href="/inspections/{waiting[0]["inspection_id"]}"' in section and "已到 1 / 2，缺 1 张" in section
    assert f'href="/assignments/{revealed.id}"' in section and f'href="/assignments/{started.id}"' not in section


def test_overdue_rectification_orders(app, db, world):
    office = world.users["office"]
    today = date.today()
    overdue = RectificationOrder(state="open", venue_id=world.venue.id, county_id=world.venue.county_id,
                                 requirements="限期整改", deadline=today - timedelta(days=3), issuing_authority="市公安局",
                                 issued_on=today - timedelta(days=10), issued_by_id=office.id)
    current = RectificationOrder(state="open", venue_id=world.other_venue.id, county_id=world.other_venue.county_id,
                                 requirements="限期整改", deadline=today + timedelta(days=3), issuing_authority="市公安局",
                                 issued_on=today, issued_by_id=office.id)
    db.session.add_all([overdue, current])
    db.session.flush()
    html = session_of(app, office).get("/").get_data(as_text=True)
    section = re.search(r'aria-labelledby="dash-overdue">.*?</section>', html, re.S).group(0)
    assert f"第 {overdue.id} 号" in section and world.venue.name in section
    assert f"第 {current.id} 号" not in section


def test_closed_draws_leave_the_progress_table(db, world, scenario):
    draw, _ = scenario
    draw.status = "closed"
    db.session.flush()
    assert draw.id not in {p.draw_id for p in dashboard.draw_progress()}


def test_dashboard_roles(app, db, world):
    admin = session_of(app, world.users["admin"])
    assert 'href="/dashboard"' in admin.get("/").get_data(as_text=True)
    page = admin.get("/dashboard")
    assert page.status_code == 200 and "今日派单" in page.get_data(as_text=True)
    for role in ("team_leader", "auditor", "enforcement", "department"):
        assert session_of(app, world.users[role]).get("/dashboard").status_code == 403
    assert "今日派单" in session_of(app, world.users["office"]).get("/").get_data(as_text=True)


def test_empty_dashboard(app, db, world):
    db.session.execute(sa.update(Draw).values(status="closed"))
    html = session_of(app, world.users["office"]).get("/").get_data(as_text=True)
    assert "没有未关闭的抽查" in html and "没有逾期的整改通知" in html and "没有等待照片的督查记录" in html
