"""`anfang rectification schedule|overdue`: Chinese output, exit codes, idempotent scheduling."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from rectification_world import make_assignment, rectification_world, world  # noqa: F401

from server.draws.models.draw import Draw
from server.enforcement import rectification_issuing as issuing


def order_for(db, rw):
    order = issuing.issue_order([rw.violation.id], deadline=rw.today + timedelta(days=1), requirements="限流",
                                actor=rw.users["enforcement"])
    # Committed (a savepoint here) so that a failing command's rollback keeps it.
    db.session.commit()
    return order


def test_schedule_prints_what_it_created_and_runs_idempotently(cli, db, rectification_world):
    rw = rectification_world
    order = order_for(db, rw)
    office = rw.users["office"].username
    day = rw.after_deadline().isoformat()
    result = cli.invoke(args=["rectification", "schedule", "--today", day, "--by", office])
    assert result.exit_code == 0, result.output
    assert f"安排复查 1 项" in result.output and f"整改通知 {order.id}" in result.output
    assert "待纪检监察人员录入随机数后生成密封任务" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Draw).where(Draw.purpose == "reinspection")) == 1

    again = cli.invoke(args=["rectification", "schedule", "--today", day, "--by", office])
    assert again.exit_code == 0 and "没有到期需要复查的整改通知" in again.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Draw).where(Draw.purpose == "reinspection")) == 1


def test_schedule_exits_1_naming_an_order_it_could_not_staff(cli, db, rectification_world):
    rw = rectification_world
    order = order_for(db, rw)
    rw.eligible.is_active = False
    db.session.commit()
    result = cli.invoke(args=["rectification", "schedule", "--today", rw.after_deadline().isoformat(),
                              "--by", rw.users["office"].username])
    assert result.exit_code == 1
    assert f"整改通知 {order.id}" in result.stderr and "未能安排复查" in result.stderr


def test_schedule_bad_input_is_one_chinese_line_and_exit_1(cli, db, rectification_world):
    rw = rectification_world
    for args, words in ((["--today", "明天", "--by", rw.users["office"].username], "日期格式不对"),
                        (["--today", rw.after_deadline().isoformat()], "--by"),
                        (["--by", rw.users["enforcement"].username], "无权")):
        result = cli.invoke(args=["rectification", "schedule", *args])
        assert result.exit_code == 1, result.output
        assert words in result.stderr and result.stderr.startswith("错误：") and "Traceback" not in result.output


def test_overdue_prints_a_table(cli, db, rectification_world):
    rw = rectification_world
    order = order_for(db, rw)
    quiet = cli.invoke(args=["rectification", "overdue"])
    assert quiet.exit_code == 0 and "没有逾期的整改通知" in quiet.output
    result = cli.invoke(args=["rectification", "overdue", "--today", rw.after_deadline().isoformat()])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("编号\t场所") and lines[1].startswith(f"{order.id}\t{rw.museum.name}\t婺城区")
    assert "未安排" in lines[1] and lines[-1] == "共 1 项。"
