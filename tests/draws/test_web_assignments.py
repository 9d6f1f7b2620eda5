"""The assignment page: team, state, times and record for those who may read the assignment; the
target sealed until it may be read, and then only through the audited target page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from inspection_world import make_assignment, make_record, session_of, world  # noqa: F401

from server.audit.models.audit import AuditEvent

CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def target_reads(db, assignment) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.action == "assignment.target_read", AuditEvent.object_id == str(assignment.id))))


def test_office_sees_team_state_and_a_dispatch_confirmation(app, db, world, make_assignment):
    assignment = make_assignment("sealed")
    html = session_of(app, world.users["office"]).get(f"/assignments/{assignment.id}").get_data(as_text=True)
    assert f"督查任务 {assignment.id}" in html and "已封存" in html
    assert world.users["team_leader"].display_name in html and "（组长）" in html
    assert "市防指办门口" in html
    # The target is one audited click away, never on this page.
    assert f"/assignments/{assignment.id}/target" in html
    for secret in world.target_strings():
        assert secret not in html
    assert target_reads(db, assignment) == []
    # Dispatching is irreversible: a confirmation checkbox and the CSRF token come with the button.
    assert f'action="/assignments/{assignment.id}/dispatch"' in html
    assert 'name="confirm"' in html and CSRF.search(html)


def test_dispatch_from_the_assignment_page_shows_the_code_once(app, db, world, make_assignment):
    assignment = make_assignment("sealed")
    office = session_of(app, world.users["office"])
    html = office.get(f"/assignments/{assignment.id}").get_data(as_text=True)
    token = CSRF.search(html).group(1)
    refused = office.post(f"/assignments/{assignment.id}/dispatch", data={"csrf_token": token})
    assert refused.status_code == 302
    db.session.refresh(assignment)
    assert assignment.status == "sealed"
    response = office.post(f"/assignments/{assignment.id}/dispatch", data={"csrf_token": token, "confirm": "y"})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    db.session.refresh(assignment)
    assert assignment.status == "dispatched"
    after = office.get(f"/assignments/{assignment.id}").get_data(as_text=True)
    assert "已派发" in after and f'action="/assignments/{assignment.id}/dispatch"' not in after


@pytest.mark.parametrize("status", ["sealed", "dispatched"])
def test_the_team_does_not_see_the_venue_before_reveal(app, db, world, make_assignment, status):
    assignment = make_assignment(status)
    member = session_of(app, world.users["team_member"])
    page = member.get(f"/assignments/{assignment.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "已封存：派发并在时间窗口内揭封后" in html
    assert f"/assignments/{assignment.id}/target" not in html
    target = member.get(f"/assignments/{assignment.id}/target")
    assert target.status_code == 403
    for answer in (html, target.get_data(as_text=True)):
        for secret in world.target_strings():
            assert secret not in answer
    assert target_reads(db, assignment) == []


def test_after_reveal_the_team_reads_the_target_and_the_read_is_audited(app, db, world, make_assignment):
    assignment = make_assignment("revealed")
    member = session_of(app, world.users["team_member"])
    html = member.get(f"/assignments/{assignment.id}").get_data(as_text=True)
    assert world.venue.name not in html and f"/assignments/{assignment.id}/target" in html
    target = member.get(f"/assignments/{assignment.id}/target")
    assert target.status_code == 200 and target.headers["Cache-Control"] == "no-store"
    assert world.venue.name in target.get_data(as_text=True)
    [event] = target_reads(db, assignment)
    assert event.details["role"] == "inspector" and event.channel == "web"


@pytest.mark.parametrize("role, status", [
    ("outsider", 404), ("department", 404), ("county", 404), ("enforcement", 403), ("propaganda", 403),
    ("auditor", 200), ("admin", 200),
])
def test_who_opens_a_dispatched_assignment(app, db, world, make_assignment, role, status):
    assignment = make_assignment("dispatched")
    response = session_of(app, world.users[role]).get(f"/assignments/{assignment.id}")
    assert response.status_code == status
    for secret in world.target_strings():
        assert secret not in response.get_data(as_text=True)


def test_the_auditor_follows_the_assignment_but_never_reads_the_target(app, db, world, make_assignment):
    assignment = make_assignment("submitted")
    auditor = session_of(app, world.users["auditor"])
    html = auditor.get(f"/assignments/{assignment.id}").get_data(as_text=True)
    assert f"/assignments/{assignment.id}/target" not in html
    assert auditor.get(f"/assignments/{assignment.id}/target").status_code == 403


def test_viewers_see_a_submitted_assignment_in_their_scope_with_its_record(app, db, world, make_record):
    record = make_record()
    assignment_id = record.inspection.assignment_id
    department = session_of(app, world.users["department"])
    html = department.get(f"/assignments/{assignment_id}").get_data(as_text=True)
    assert f'href="/inspections/{record.inspection.id}"' in html and "等待照片" in html
    assert department.get(f"/assignments/{assignment_id}/target").status_code == 200
    assert session_of(app, world.users["other_department"]).get(f"/assignments/{assignment_id}").status_code == 404


def test_history_lists_the_transitions(app, db, world, make_assignment):
    assignment = make_assignment("sealed")
    html = session_of(app, world.users["office"]).get(f"/assignments/{assignment.id}").get_data(as_text=True)
    assert "状态记录" in html and world.users["office"].display_name in html


def test_unknown_assignment_is_404(app, db, world):
    assert session_of(app, world.users["office"]).get("/assignments/2147483647").status_code == 404


def test_an_inspectors_home_lists_their_teams_open_assignments_without_targets(app, db, world, make_assignment):
    soon = make_assignment("dispatched", meeting_point="东门广场", starts_in=timedelta(hours=1))
    under_way = make_assignment("in_progress", meeting_point="北站出口")
    sealed = make_assignment("sealed", meeting_point="尚未派发处")
    done = make_assignment("submitted", meeting_point="已提交处")
    others = make_assignment("dispatched", team=[world.users["outsider"]], meeting_point="别组集合点")
    html = session_of(app, world.users["team_member"]).get("/").get_data(as_text=True)
    section = re.search(r'aria-labelledby="my-assignments">.*?</section>', html, re.S).group(0)
    links = re.findall(r'href="/assignments/(\d+)"', section)
    assert links == [str(under_way.id), str(soon.id)]  # the earlier window first
    assert "东门广场" in section and "北站出口" in section and "组员" in section and "已派发" in section
    for absent in (sealed, done, others):
        assert f'href="/assignments/{absent.id}"' not in section
    for secret in world.target_strings():
        assert secret not in html
    outsider = session_of(app, world.users["outsider"]).get("/").get_data(as_text=True)
    assert re.findall(r'href="/assignments/(\d+)"', outsider) == [str(others.id)]
