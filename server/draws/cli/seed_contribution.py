"""`anfang draw contribute`: enter the contribution that completes a draw's seed.

A command of the `draw` group, kept apart with the policy's choice of who enters it
(`server.draws.seeding`). One Chinese line and exit 1 on any problem.
"""

from __future__ import annotations

import secrets

import click

from ...accounts.auth import find_user
from ...cli.common import fail, problem_line
from ...errors import Problem
from ...extensions import db
from .draws import _draw, draw_cli


@draw_cli.command("contribute")
@click.argument("draw_id")
@click.option("--value", help="随机数或公开数值（与 --random 二选一）。")
@click.option("--random", "generate", is_flag=True, help="在本机生成 32 位十六进制随机数并录入。")
@click.option("--by", "username", help="录入人用户名（按抽查策略：纪检监察人员，或录入公开数值的人员）。")
def contribute_command(draw_id, value, generate, username):
    """录入抽查的随机数：与承诺的种子合成抽取种子，生成密封任务。"""
    from ..listing import draw_counts
    from ..seeding import contribute

    if not username:
        fail("必须用 --by 指定录入人。")
    if (value is None) == (not generate):
        fail("--value 和 --random 须且只须给出一个。")
    draw = _draw(draw_id)
    entered = secrets.token_hex(16) if generate else value
    try:
        contribute(draw, find_user(username), entered, channel="cli")
        counts = draw_counts(draw)
        db.session.commit()
    except Problem as exc:
        fail(problem_line(exc))
    click.echo(f"已录入抽查 {draw.id} 的随机数：{draw.contribution}")
    if draw.status == "cancelled":
        click.echo(f"抽查 {draw.id} 已取消：{draw.cancel_reason}", err=True)
        raise SystemExit(1)
    click.echo(f"生成密封任务 {counts['assignments']} 项（跳过 {counts['skipped']} 个场所）；"
               f"结果摘要 {draw.result_digest}")
