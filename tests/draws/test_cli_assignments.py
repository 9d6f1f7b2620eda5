"""`anfang assignment …`: dispatch shows the code once, listings never show a target, target reads
are audited, one Chinese line and exit 1 on bad input."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from assignment_world import make_assignment, world  # noqa: F401  (fixtures)

import sealing
from server.audit.models.audit import AuditEvent


def run(cli, *args):
    return cli.invoke(args=["assignment", *args])


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("错误：")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def assert_no_target(result, world):
    for secret in world.target_strings():
        assert secret not in result.output


@pytest.fixture
def committed(db, world, make_assignment):
    """make_assignment, committed so that a failing command's rollback keeps it."""

    def make(*args, **kwargs):
        assignment = make_assignment(*args, **kwargs)
        db.session.commit()
        return assignment

    return make


def test_dispatch_prints_the_code_once(cli, db, world, committed):
    assignment = committed()
    result = run(cli, "dispatch", str(assignment.id), "--by", world.users["office"].username)
    assert result.exit_code == 0, result.output
    code = result.stdout.strip()
    assert sealing.normalise_code(code) == code
    assert "只显示这一次" in result.stderr and "已派发督查任务" in result.stderr
    assert_no_target(result, world)
    db.session.refresh(assignment)
    assert assignment.status == "dispatched" and assignment.wrapped_reveal_code is None
    assert sealing.open_with_code(assignment.envelope, code, assignment.uuid)["name"] == world.venue.name
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "assignment.dispatched",
                                                          AuditEvent.object_id == str(assignment.id)))
    assert event.channel == "cli" and event.actor_id == world.users["office"].id

    again = run(cli, "dispatch", str(assignment.id), "--by", world.users["office"].username)
    assert_one_line_error(again, "已派发")
    assert code not in again.output


@pytest.mark.parametrize("args, fragment", [
    ((), "--by"),
    (("--by", "nobody-at-all"), "不存在"),
])
def test_dispatch_needs_a_known_dispatcher(cli, world, committed, args, fragment):
    assignment = committed()
    assert_one_line_error(run(cli, "dispatch", str(assignment.id), *args), fragment)


def test_dispatch_by_an_inspector_is_refused(cli, db, world, committed):
    assignment = committed()
    result = run(cli, "dispatch", str(assignment.id), "--by", world.users["team_leader"].username)
    assert_one_line_error(result, "无权")
    db.session.refresh(assignment)
    assert assignment.status == "sealed" and assignment.wrapped_reveal_code is not None


@pytest.mark.parametrize("ident", ["999999999", "abc", "0", "99999999999999999999"])
def test_unknown_ids_are_one_line_errors(cli, world, committed, ident):
    committed()
    office = world.users["office"].username
    assert_one_line_error(run(cli, "dispatch", ident, "--by", office), "不存在")
    assert_one_line_error(run(cli, "show", ident), "不存在")


def test_list_never_shows_targets(cli, world, committed):
    sealed, dispatched = committed(), committed("dispatched")
    result = run(cli, "list")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("编号\t抽查")
    rows = {line.split("\t")[0]: line for line in result.output.splitlines()[1:]}
    assert "已封存" in rows[str(sealed.id)] and "已派发" in rows[str(dispatched.id)]
    assert world.users["team_leader"].display_name in rows[str(sealed.id)]
    assert_no_target(result, world)


def test_list_filters(cli, world, committed):
    sealed, cancelled = committed(), committed("cancelled")
    by_status = run(cli, "list", "--status", "cancelled").output
    assert f"\n{cancelled.id}\t" in by_status and f"\n{sealed.id}\t" not in by_status
    by_draw = run(cli, "list", "--draw", str(sealed.draw_id)).output.splitlines()
    assert [line.split("\t")[0] for line in by_draw[1:]] == [str(sealed.id)]
    assert run(cli, "list", "--draw", "999999999").output.strip() == "没有符合条件的督查任务。"


@pytest.mark.parametrize("args, fragment", [(("--status", "lost"), "未知的任务状态"), (("--draw", "x"), "抽查编号")])
def test_list_refuses_bad_filters(cli, args, fragment):
    assert_one_line_error(run(cli, "list", *args), fragment)


def test_show_without_target(cli, db, world, committed):
    assignment = committed()
    before = db.session.scalar(sa.select(sa.func.max(AuditEvent.seq)))
    result = run(cli, "show", str(assignment.id))
    assert result.exit_code == 0, result.output
    assert f"督查任务 {assignment.id}" in result.output and "已封存" in result.output
    assert "市防指办门口" in result.output and "（新建） → 已封存" in result.output
    assert_no_target(result, world)
    assert db.session.scalar(sa.select(sa.func.max(AuditEvent.seq))) == before


def test_show_target_is_audited(cli, db, world, committed):
    assignment = committed()
    office = world.users["office"]
    result = run(cli, "show", str(assignment.id), "--target", "--by", office.username)
    assert result.exit_code == 0, result.output
    assert world.venue.name in result.output and world.venue.address in result.output
    assert "已记入审计日志" in result.output
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "assignment.target_read",
                                                          AuditEvent.object_id == str(assignment.id)))
    assert event.channel == "cli" and event.actor_id == office.id and event.details["via"] == "cli"


def test_show_target_needs_by(cli, world, committed):
    assignment = committed()
    assert_one_line_error(run(cli, "show", str(assignment.id), "--target"), "--by")


@pytest.mark.parametrize("role_key, fragment", [("team_leader", "尚未派发"), ("department", "范围"),
                                                ("propaganda", "无权"), ("auditor", "无权")])
def test_show_target_is_refused_to_others(cli, db, world, committed, role_key, fragment):
    assignment = committed()
    result = run(cli, "show", str(assignment.id), "--target", "--by", world.users[role_key].username)
    assert_one_line_error(result, fragment)
    assert_no_target(result, world)
    assert db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "assignment.target_read",
                                                         AuditEvent.object_id == str(assignment.id))) is None


def test_expire(cli, db, world, committed):
    overdue = committed(starts_in=timedelta(hours=-6), lasts=timedelta(hours=1))
    current = committed()
    result = run(cli, "expire")
    assert result.exit_code == 0, result.output
    assert "标为过期" in result.output and str(overdue.id) in result.output
    db.session.refresh(overdue)
    db.session.refresh(current)
    assert overdue.status == "expired" and current.status == "sealed"
    assert run(cli, "expire").output.strip() == "没有需要标为过期的督查任务。"


def test_list_window_names_the_end_day_when_the_window_crosses_midnight():
    from types import SimpleNamespace

    from server.draws.cli.assignments import _window

    same_day = SimpleNamespace(window_start=datetime(2026, 3, 10, 1, 0, tzinfo=timezone.utc),
                               window_end=datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc))
    overnight = SimpleNamespace(window_start=datetime(2026, 3, 10, 12, 0, tzinfo=timezone.utc),
                                window_end=datetime(2026, 3, 10, 16, 0, tzinfo=timezone.utc))
    # Beijing time: 09:00–17:00 on one day; 20:00 until 00:00 of the next day.
    assert _window(same_day) == "2026-03-10 09:00–17:00"
    assert _window(overnight) == "2026-03-10 20:00–2026-03-11 00:00"
