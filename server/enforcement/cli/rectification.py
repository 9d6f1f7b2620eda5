"""`anfang rectification` commands: schedule the re-inspections that are due, list overdue orders.

`schedule` is meant for a daily cron job: it prints in Chinese what it created and exits 0; if
some order's re-inspection could not be staffed (the draw is infeasible), it still commits the
others, names each failure on stderr and exits 1 so that cron reports it.
"""

from __future__ import annotations

import sys
from datetime import date

import click
from flask.cli import AppGroup

from ...accounts.auth import find_user
from ...cli.common import fail, problem_line
from ...columns import local_text
from ...errors import Problem
from ...extensions import db

rectification_cli = AppGroup("rectification", help="责令限期整改：安排到期复查、列出逾期整改。")

EXIT_SOME_FAILED = 1


def _day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        fail(f"--today 的日期格式不对：{value}（应如 2021-12-15）。")


@rectification_cli.command("schedule")
@click.option("--today", "today_text", help="按这一天（北京时间）判断期限是否已过，默认今天，如 2021-12-15。")
@click.option("--by", "username", help="操作人用户名（领导小组办公室或系统管理员），复查抽查以其名义创建。")
def schedule_command(today_text, username):
    """为整改期限已过的整改通知抽取复查督查组，生成密封的复查任务（可每天定时运行）。"""
    from ..reinspection import schedule_reinspections

    if not username:
        fail("必须用 --by 指定操作人。")
    on = _day(today_text)
    try:
        report = schedule_reinspections(on, actor=find_user(username), channel="cli")
        lines = [f"整改通知 {order.id}（{order.venue.name}，期限 {order.deadline.isoformat()}）：已创建复查抽查 "
                 f"{draw.id}，待纪检监察人员录入随机数后生成密封任务（anfang draw contribute {draw.id}）。"
                 for order, draw in report.scheduled]
        failures = [f"整改通知 {order.id}（{order.venue.name}）未能安排复查：{reason}" for order, reason in report.failed]
        db.session.commit()
    except Problem as exc:
        fail(problem_line(exc))
    if not report.scheduled and not report.failed:
        click.echo(f"{report.on.isoformat()}：没有到期需要复查的整改通知。")
    else:
        click.echo(f"{report.on.isoformat()}：安排复查 {len(report.scheduled)} 项，未能安排 {len(report.failed)} 项。")
    for line in lines:
        click.echo(line)
    for line in failures:
        click.echo(line, err=True)
    if failures:
        sys.exit(EXIT_SOME_FAILED)


@rectification_cli.command("overdue")
@click.option("--today", "today_text", help="按这一天（北京时间）判断，默认今天。")
def overdue_command(today_text):
    """列出逾期的整改通知：期限已过尚未安排复查，或复查窗口已过尚未完成。"""
    from ...draws.assignments import STATUS_LABELS
    from ..rectification import STATE_LABELS, overdue_orders

    on = _day(today_text)
    orders = overdue_orders(on)
    if not orders:
        click.echo("没有逾期的整改通知。")
        return
    click.echo("编号\t场所\t县（市、区）\t整改期限\t状态\t复查")
    for order in orders:
        assignment = order.reinspection_assignment
        reinspection = ("未安排" if assignment is None else
                        f"任务 {assignment.id}，{STATUS_LABELS[assignment.status]}，窗口至 {local_text(assignment.window_end)}")
        click.echo(f"{order.id}\t{order.venue.name}\t{order.county.name}\t{order.deadline.isoformat()}\t"
                   f"{STATE_LABELS[order.state]}\t{reinspection}")
    click.echo(f"共 {len(orders)} 项。")
