"""`anfang rectification` commands: schedule the re-inspections that are due, list overdue orders,
and list, confirm or send back the reports that an order is put right (整改完成报告).

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

rectification_cli = AppGroup("rectification", help="责令限期整改：安排到期复查、列出逾期整改、处理整改完成报告。")

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


def _report_of(order_id: int, report_id: int, username: str | None, action: str):
    from ..rectification import find_order
    from ..rectification_reports import find_report

    if not username:
        fail("必须用 --by 指定操作人（领导小组办公室）。")
    actor = find_user(username)
    return find_report(find_order(order_id, actor, action), report_id), actor


@rectification_cli.command("reports")
@click.option("--by", "username", help="操作人用户名（领导小组办公室）。")
def reports_command(username):
    """列出待确认的整改完成报告（属地或部门报告整改完成，等待领导小组办公室确认或退回）。"""
    from ..rectification_reports import REPORTED_AS_LABELS, waiting_reports

    if not username:
        fail("必须用 --by 指定操作人（领导小组办公室）。")
    try:
        waiting = waiting_reports(find_user(username))
    except Problem as exc:
        fail(problem_line(exc))
    if not waiting:
        click.echo("没有待确认的整改完成报告。")
        return
    click.echo("整改通知\t报告\t场所\t报告方\t报告时间\t照片\t整改情况")
    for report in waiting:
        click.echo(f"{report.order_id}\t{report.id}\t{report.order.venue.name}\t"
                   f"{REPORTED_AS_LABELS.get(report.reported_as, '')}\t{local_text(report.reported_at)}\t"
                   f"{len(report.photos)} 张\t{report.note}")
    click.echo(f"共 {len(waiting)} 项。")


@rectification_cli.command("confirm")
@click.argument("order_id", type=int)
@click.argument("report_id", type=int)
@click.option("--by", "username", help="操作人用户名（领导小组办公室）。")
def confirm_command(order_id, report_id, username):
    """确认整改完成报告：该整改通知随即到期复查，下一次安排复查时抽取复查督查组。"""
    from ..rectification_reports import confirm_report

    try:
        report, actor = _report_of(order_id, report_id, username, "review_report")
        confirm_report(report, actor=actor, channel="cli")
        db.session.commit()
    except Problem as exc:
        fail(problem_line(exc))
    click.echo(f"已确认整改通知 {order_id} 的整改完成报告 {report_id}；运行 anfang rectification schedule 安排复查。")


@rectification_cli.command("return")
@click.argument("order_id", type=int)
@click.argument("report_id", type=int)
@click.option("--reason", help="退回原因（必填）。")
@click.option("--by", "username", help="操作人用户名（领导小组办公室）。")
def return_command(order_id, report_id, reason, username):
    """退回整改完成报告并说明原因；属地或部门可补充整改后重新报告。"""
    from ..rectification_reports import return_report

    if not reason or not reason.strip():
        fail("必须用 --reason 写明退回原因。")
    try:
        report, actor = _report_of(order_id, report_id, username, "review_report")
        return_report(report, reason=reason, actor=actor, channel="cli")
        db.session.commit()
    except Problem as exc:
        fail(problem_line(exc))
    click.echo(f"已退回整改通知 {order_id} 的整改完成报告 {report_id}。")
