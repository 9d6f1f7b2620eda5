"""`anfang assignment` commands: dispatch (the reveal code shown once), list, show, expire.

Listings never show a target; `show --target --by USERNAME` does, and writes an audit event
naming that user and the cli channel. Bad input ends with one Chinese line on stderr and exit
code 1, never a traceback; commands that change something commit (the services only flush).
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ...access import get_or_404
from ...accounts.auth import find_user
from ...cli.common import committing, fail
from ...columns import local_text
from ...extensions import db
from .. import assignment_reading
from .. import assignments as service
from ..models.draw import ASSIGNMENT_STATUSES, Assignment

assignment_cli = AppGroup("assignment", help="督查任务：派发、列出、查看、过期处理。")

TARGET_LABELS = (
    ("venue_id", "场所编号"), ("name", "名称"), ("category", "类别"), ("county", "县市区"), ("town", "乡镇街道"),
    ("address", "地址"), ("latitude", "纬度"), ("longitude", "经度"), ("approved_capacity", "核定人数"),
    ("operator_name", "经营者"), ("contact_phone", "联系电话"),
)


def _when(moment) -> str:
    return local_text(moment, "-")


def _window(assignment) -> str:
    """The window, its end without the date when it ends on the day it starts (Beijing time)."""
    start, end = _when(assignment.window_start), _when(assignment.window_end)
    return f"{start}–{end[-5:] if end[:10] == start[:10] else end}"


def _actor(username: str | None, purpose: str):
    if not username:
        fail(f"{purpose}须用 --by 指定操作人的用户名（记入审计日志）。")
    return find_user(username)


def _leader(assignment: Assignment) -> str:
    leaders = [member.user.display_name for member in assignment.members if member.is_leader]
    return leaders[0] if leaders else "-"


@assignment_cli.command("dispatch")
@click.argument("assignment_id", metavar="ID")
@click.option("--by", "username", help="派发人的用户名（领导小组办公室或系统管理员）。")
def dispatch_command(assignment_id, username):
    """派发督查任务，显示一次性揭封码（只显示这一次）。"""
    with committing():
        actor = _actor(username, "派发")
        assignment = get_or_404(Assignment, assignment_id)
        code = service.dispatch(assignment, actor, channel="cli")
        message = (f"已派发督查任务 {assignment.id}（抽查 {assignment.draw_id} 第 {assignment.position} 组，"
                   f"组长 {_leader(assignment)}，时间窗口 {_when(assignment.window_start)} 至 "
                   f"{_when(assignment.window_end)}）。\n"
                   "揭封码如下，只显示这一次，系统不再保存；请当面或电话告知带队督查人员：")
    click.echo(message, err=True)
    # The code alone on stdout, so that a script can capture it.
    click.echo(code)


@assignment_cli.command("list")
@click.option("--draw", "draw_id", help="只列出该抽查的任务。")
@click.option("--status", help="只列出该状态的任务：" + "、".join(
    f"{code}（{label}）" for code, label in service.STATUS_LABELS.items()))
def list_command(draw_id, status):
    """列出督查任务（不显示督查目标）。"""
    if status is not None and status not in ASSIGNMENT_STATUSES:
        fail(f"未知的任务状态“{status}”；可选：{'、'.join(ASSIGNMENT_STATUSES)}。")
    if draw_id is not None and not (draw_id.isdigit() and 0 < int(draw_id) < 2**31):
        fail(f"抽查编号“{draw_id}”不是有效的编号。")
    query = db.select(Assignment).order_by(Assignment.id)
    if draw_id is not None:
        query = query.where(Assignment.draw_id == int(draw_id))
    if status is not None:
        query = query.where(Assignment.status == status)
    assignments = db.session.scalars(query).all()
    if not assignments:
        click.echo("没有符合条件的督查任务。")
        return
    click.echo("编号\t抽查\t序号\t状态\t督查日期\t时间窗口\t组长\t组员数")
    for assignment in assignments:
        click.echo("\t".join((
            str(assignment.id), str(assignment.draw_id), str(assignment.position),
            service.STATUS_LABELS[assignment.status], assignment.visit_date.isoformat(),
            _window(assignment), _leader(assignment),
            str(len(assignment.members)),
        )))


@assignment_cli.command("show")
@click.argument("assignment_id", metavar="ID")
@click.option("--target", "with_target", is_flag=True, help="同时显示督查目标（记入审计日志，须 --by）。")
@click.option("--by", "username", help="查看人的用户名（查看目标时必填）。")
def show_command(assignment_id, with_target, username):
    """查看督查任务；加 --target 显示督查目标。"""
    target = None
    with committing():
        assignment = get_or_404(Assignment, assignment_id)
        if with_target:
            target = assignment_reading.read_target(assignment, _actor(username, "查看督查目标"), channel="cli")
        transitions = service.transitions_of(assignment)
    lines = [
        f"督查任务 {assignment.id}（{assignment.uuid}）",
        f"抽查：{assignment.draw_id}，第 {assignment.position} 组",
        f"状态：{service.STATUS_LABELS[assignment.status]}",
        f"督查日期：{assignment.visit_date.isoformat()}",
        f"时间窗口：{_when(assignment.window_start)} 至 {_when(assignment.window_end)}",
        f"集合地点：{assignment.meeting_point or '-'}",
        f"可提出处罚建议：{'是' if assignment.may_propose_penalties else '否'}",
        "督查组：" + "、".join(
            f"{member.user.display_name}（{member.user.username}{'，组长' if member.is_leader else ''}）"
            for member in assignment.members),
        "状态变化：",
    ]
    lines += [f"  {_when(row.at)} {service.STATUS_LABELS.get(row.from_status, '（新建）')} → "
              f"{service.STATUS_LABELS[row.to_status]}{'：' + row.note if row.note else ''}" for row in transitions]
    if target is not None:
        lines.append("督查目标（本次查看已记入审计日志）：")
        lines += [f"  {label}：{'-' if target.get(key) is None else target[key]}" for key, label in TARGET_LABELS]
    click.echo("\n".join(lines))


@assignment_cli.command("expire")
def expire_command():
    """将时间窗口已过且尚未开始督查的任务标为过期。"""
    with committing():
        expired = service.expire_overdue(channel="cli")
    if expired:
        click.echo(f"已将 {len(expired)} 项督查任务标为过期：{'、'.join(str(a.id) for a in expired)}。")
    else:
        click.echo("没有需要标为过期的督查任务。")
