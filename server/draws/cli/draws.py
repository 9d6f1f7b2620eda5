"""`anfang draw` commands: create a draw, cancel it (with a reason), close it, verify it, show it.

Bad input ends with one Chinese line on stderr and exit code 1, never a traceback; commands that
change something commit (the services only flush). `draw verify` exits 0 when the draw checks
out, 1 on any mismatch, 2 while the seed is not yet revealed. Targets are never printed.
"""

from __future__ import annotations

import sys
from datetime import datetime

import click
from flask.cli import AppGroup

from ...access import get_or_404
from ...accounts.auth import find_user
from ...cli.common import fail, problem_line
from ...columns import local_text
from ...errors import Problem
from ...extensions import db
from ..models.draw import Draw

# AppGroup: its commands run inside an application context however the group is invoked.
draw_cli = AppGroup("draw", help="抽查：创建、取消（须说明理由）、关闭（公开种子）、核验、查看。")

EXIT_MISMATCH = 1
EXIT_NOT_REVEALED = 2


def _moment(value: str | None, option: str) -> datetime:
    """ISO 8601 or 'YYYY-MM-DD HH:MM'; without a zone it is Beijing time (the service decides)."""
    if not value:
        fail(f"必须用 {option} 指定时间，如 {option} '2021-12-15 08:00'。")
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option} 的时间格式不对：{value}（应如 2021-12-15 08:00 或 2021-12-15T08:00+08:00）。")


def _whole(value: str | None, option: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        fail(f"{option} 应为整数：{value}。")


def _draw(draw_id: str) -> Draw:
    try:
        return get_or_404(Draw, draw_id)
    except Problem as exc:
        fail(exc.detail)


def _local(moment: datetime | None) -> str:
    return local_text(moment, "-")


def _print_assignments(draw: Draw) -> None:
    from ..assignments import STATUS_LABELS

    for assignment in draw.assignments:
        team = "、".join(f"{m.user.username}{'（组长）' if m.is_leader else ''}" for m in assignment.members)
        click.echo(f"  任务 {assignment.position}：{assignment.visit_date.isoformat()}，"
                   f"{STATUS_LABELS.get(assignment.status, assignment.status)}，"
                   f"督查组 {team}")


@draw_cli.command("create")
@click.option("--county", "counties", multiple=True, help="县（市、区）的代码或名称，可重复。")
@click.option("--category", "categories", multiple=True, help="场所类别的代码或名称，可重复。")
@click.option("--sample", help="抽取的场所数量（与 --rate 二选一）。")
@click.option("--rate", help="抽取比例（百分数，如 5 表示 5%；与 --sample 二选一）。")
@click.option("--from", "window_from", help="抽查窗口开始，如 '2021-12-15 08:00'（北京时间）。")
@click.option("--to", "window_to", help="抽查窗口结束（不含），如 '2021-12-18 00:00'。")
@click.option("--team-size", default="2", show_default=True, help="每组督查人员人数。")
@click.option("--no-penalties", is_flag=True, help="督查组不提出处罚建议（则不要求持执法证的成员）。")
@click.option("--meeting-point", help="集合地点（督查组可见）。")
@click.option("--by", "username", help="操作人用户名（领导小组办公室或系统管理员）。")
def create_command(counties, categories, sample, rate, window_from, window_to, team_size, no_penalties,
                   meeting_point, username):
    """抽取场所和督查组，保存承诺值，生成密封任务。"""
    from ..creation import create_draw
    from ..listing import draw_counts

    if not username:
        fail("必须用 --by 指定操作人。")
    if (sample is None) == (rate is None):
        fail("--sample 和 --rate 须且只须给出一个。")
    start, end = _moment(window_from, "--from"), _moment(window_to, "--to")
    try:
        actor = find_user(username)
        draw = create_draw(actor, counties=list(counties), categories=list(categories),
                           sample_size=_whole(sample, "--sample"), rate=rate, window_start=start, window_end=end,
                           team_size=_whole(team_size, "--team-size"), may_propose_penalties=not no_penalties,
                           meeting_point=meeting_point, channel="cli")
        counts = draw_counts(draw)
        db.session.commit()
    except Problem as exc:
        fail(problem_line(exc))
    if draw.status == "awaiting":
        click.echo(f"已创建抽查 {draw.id}（{draw.uuid}）：候选场所 {counts['venues']} 个，督查人员 {counts['inspectors']} 名；"
                   "录入随机数后生成密封任务。")
    else:
        click.echo(f"已创建抽查 {draw.id}（{draw.uuid}）：候选场所 {counts['venues']} 个，督查人员 {counts['inspectors']} 名，"
                   f"生成密封任务 {counts['assignments']} 项（跳过 {counts['skipped']} 个场所）。")
    click.echo(f"承诺值 sha256(种子)：{draw.commitment}")
    click.echo(f"窗口结束后关闭并公开种子：anfang draw close {draw.id} --by {username}；"
               f"此前放弃须取消并说明理由：anfang draw cancel {draw.id} --reason 理由 --by {username}")


@draw_cli.command("close")
@click.argument("draw_id")
@click.option("--by", "username", help="操作人用户名（领导小组办公室或系统管理员）。")
@click.option("--yes", "confirmed", is_flag=True, help="已核对未完成的任务，确认关闭（有未完成的任务时必须加）。")
def close_command(draw_id, username, confirmed):
    """关闭窗口已结束的抽查并公开种子（此后任何有权限的人都可核验）；窗口结束前只能取消。

    仍有未完成（已封存、已派发、已揭封、督查中）的任务时，先列出这些任务，加 --yes 确认后才关闭。
    """
    from ..closing import CloseNotConfirmed, close_draw

    if not username:
        fail("必须用 --by 指定操作人。")
    draw = _draw(draw_id)
    try:
        close_draw(draw, find_user(username), channel="cli", confirmed=confirmed)
        db.session.commit()
    except CloseNotConfirmed as exc:
        fail(f"{exc.detail}如确认关闭，请加 --yes 重新运行。")
    except Problem as exc:
        fail(problem_line(exc))
    click.echo(f"已关闭抽查 {draw.id}，公开种子：{draw.revealed_seed}")
    click.echo(f"核验：anfang draw verify {draw.id}")


@draw_cli.command("cancel")
@click.argument("draw_id")
@click.option("--reason", help="取消的理由（中文，至少 4 个汉字）；抽查清单向纪检监察人员显示。")
@click.option("--by", "username", help="操作人用户名（领导小组办公室或系统管理员）。")
def cancel_command(draw_id, reason, username):
    """取消抽查（须说明理由）：公开种子，取消未完成的任务；取消记录在抽查清单中可见。"""
    from ..cancellation import cancel_draw

    if not username:
        fail("必须用 --by 指定操作人。")
    if not reason:
        fail("必须用 --reason 说明取消的理由。")
    draw = _draw(draw_id)
    try:
        cancel_draw(draw, find_user(username), reason, "cli")
        db.session.commit()
    except Problem as exc:
        fail(problem_line(exc))
    click.echo(f"已取消抽查 {draw.id}（理由：{draw.cancel_reason}），公开种子：{draw.revealed_seed}")


@draw_cli.command("close-due")
@click.option("--by", "username", help="操作人用户名（领导小组办公室或系统管理员）。")
def close_due_command(username):
    """关闭所有窗口已结束的抽查并公开种子；窗口结束时仍未录入随机数的抽查予以取消（可每天定时运行）。"""
    from ..closing import close_due_draws

    if not username:
        fail("必须用 --by 指定操作人。")
    try:
        closed = close_due_draws(find_user(username), channel="cli")
        db.session.commit()
    except Problem as exc:
        fail(problem_line(exc))
    if not closed:
        click.echo("没有窗口已结束而未关闭的抽查。")
    for draw in closed:
        if draw.status == "cancelled":
            click.echo(f"已取消抽查 {draw.id}（{draw.cancel_reason}），公开种子：{draw.revealed_seed}")
        else:
            click.echo(f"已关闭抽查 {draw.id}，公开种子：{draw.revealed_seed}")


@draw_cli.command("verify")
@click.argument("draw_id")
def verify_command(draw_id):
    """用公开的种子和保存的候选快照重算抽查结果并比对（一致 0，不一致 1，种子未公开 2）。"""
    from ..verification import MATCH, NOT_REVEALED, verify_draw

    report = verify_draw(_draw(draw_id))
    if report.state == NOT_REVEALED:
        click.echo(f"抽查 {report.draw_id}：{report.message}", err=True)
        sys.exit(EXIT_NOT_REVEALED)
    if report.state == MATCH:
        click.echo(f"抽查 {report.draw_id}：{report.message}")
        click.echo(f"承诺值 {report.commitment}；种子 {report.revealed_seed}")
    else:
        click.echo(f"抽查 {report.draw_id}：{report.message}", err=True)
        for reason in report.reasons:
            click.echo(f"  - {reason}", err=True)
    # Warnings, not mismatches: they do not change the exit code.
    for change in report.registry_changes:
        click.echo(f"  提醒（名录在抽查后变化）：{change}")
    if report.state != MATCH:
        sys.exit(EXIT_MISMATCH)


@draw_cli.command("show")
@click.argument("draw_id")
def show_command(draw_id):
    """显示抽查的范围、承诺值、摘要和任务（不含目标场所）。"""
    from ..listing import draw_summary

    draw = _draw(draw_id)
    summary = draw_summary(draw, None)
    scope = "、".join(c["name"] for c in summary["counties"])
    kinds = "、".join(c["name"] for c in summary["categories"])
    counts = summary["counts"]
    click.echo(f"抽查 {draw.id}（{draw.uuid}）：{summary['status_label']}")
    click.echo(f"  范围：{scope}；{kinds}")
    click.echo(f"  窗口：{_local(draw.window_start)} 至 {_local(draw.window_end)}（北京时间）")
    click.echo(f"  抽取 {summary['sample_size']} 个，每组 {summary['team_size']} 人，"
               f"{'可' if summary['may_propose_penalties'] else '不'}提出处罚建议；策略版本 {summary['policy_version']}")
    click.echo(f"  候选场所 {counts['venues']} 个，督查人员 {counts['inspectors']} 名，任务 {counts['assignments']} 项，"
               f"跳过 {counts['skipped']} 个")
    click.echo(f"  创建：{summary['created_by']['username']}，{_local(draw.created_at)}")
    click.echo(f"  承诺值：{draw.commitment}")
    click.echo(f"  参数摘要：{draw.parameters_digest}")
    click.echo(f"  场所候选快照摘要：{draw.venues_digest}")
    click.echo(f"  督查人员候选快照摘要：{draw.inspectors_digest}")
    click.echo(f"  结果摘要：{draw.result_digest}")
    if summary["replaces"]:
        replaced = summary["replaces"]
        click.echo(f"  替代第 {replaced['id']} 号（{replaced['status_label']}：{replaced['cancel_reason'] or '-'}）")
    if draw.status == "cancelled":
        who = (summary["cancelled_by"] or {}).get("username", "-")
        click.echo(f"  已取消：{who}，{_local(draw.cancelled_at)}；理由：{draw.cancel_reason}")
    if summary["replaced_by"]:
        click.echo("  被替代：" + "、".join(f"第 {number} 号" for number in summary["replaced_by"]))
    if draw.revealed_seed:
        when = f"关闭于 {_local(draw.closed_at)}" if draw.closed_at else f"取消于 {_local(draw.cancelled_at)}"
        click.echo(f"  种子（已公开）：{draw.revealed_seed}；{when}")
    _print_assignments(draw)


@draw_cli.command("export")
@click.argument("draw_id")
@click.argument("directory")
def export_command(draw_id, directory):
    """把已关闭抽查的参数、候选快照和种子写入目录，供独立重算（docs/draw-algorithm.md）。"""
    from ..export import export_draw

    draw = _draw(draw_id)
    try:
        target, export = export_draw(draw, directory)
        db.session.commit()  # the draw.exported audit event
    except Problem as exc:
        fail(problem_line(exc))
    click.echo(f"已导出抽查 {draw.id} 到 {target}：{'、'.join(export.files)}。")
    if export.redacted:
        click.echo(f"删减版：{export.withheld_visits} 条到访记录属于尚在密封中的任务，未导出；督查人员快照摘要待这些任务"
                   "揭封后重新导出完整快照再核对（docs/draw-export.md）。")
