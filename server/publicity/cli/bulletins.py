"""`anfang bulletin` commands: render an issue's PDF.

A published issue is written exactly as stored (the file propaganda downloads); an unpublished
one is rendered as a 样稿 without a number. The command runs on the server with the office's
reading rights: redacted images only, as in every bulletin — never an original.
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from ...accounts.models.user import User
from ...cli.common import fail, problem_line
from ...errors import Problem
from .. import bulletins as service

bulletin_cli = AppGroup("bulletin", help="正反典型简报：生成 PDF。")


@bulletin_cli.command("render")
@click.argument("bulletin_id", metavar="ID")
@click.option("--out", "out", required=True, metavar="FILE.pdf", help="PDF 的保存路径。")
def render_command(bulletin_id, out):
    """生成简报 PDF：已发布的导出原件，未发布的生成样稿（不编号）。"""
    # Not stored: a stand-in reader with the office's rights, for the restricted URL fetcher.
    reader = User(id=0, username="cli", display_name="命令行", role="office", password_hash="!")
    try:
        bulletin = service.find_bulletin(bulletin_id, reader)
        data = service.preview_bulletin(bulletin, reader)
    except Problem as exc:
        fail(problem_line(exc))
    try:
        Path(out).write_bytes(data)
    except OSError as exc:
        fail(f"无法写入 {out}：{exc.strerror}。")
    if bulletin.state == "published":
        click.echo(f"已导出简报 {service.bulletin_number(bulletin)}：{out}（{len(data)} 字节）。")
    else:
        click.echo(f"简报尚未发布，已生成样稿：{out}（{len(data)} 字节）。")
