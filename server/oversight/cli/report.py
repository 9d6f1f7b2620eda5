"""`anfang report` commands: reports rendered for the office at the command line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from ...cli.common import fail, problem_line
from ...errors import Problem
from ...extensions import db
from ...registry.models.reference import County
from ..accountability import draft_report_pdf

report_cli = click.Group("report", help="报告：倒查问责情况报告等。")


def _date(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{name}“{value}”不是有效日期，请使用 YYYY-MM-DD 格式。")


@report_cli.command("accountability")
@click.option("--from", "date_from", required=True, metavar="DATE", help="期间开始日期（含），YYYY-MM-DD")
@click.option("--to", "date_to", required=True, metavar="DATE", help="期间结束日期（含），YYYY-MM-DD")
@click.option("--county", metavar="CODE", help="县（市、区）代码，如 wucheng；不填为全市")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, writable=True), help="输出 PDF 文件")
@with_appcontext
def accountability_command(date_from: str, date_to: str, county: str | None, out: str):
    """生成期间的倒查问责情况报告样稿（PDF，不编号、不存档）。

    正式报告须经办公室审核后印发（POST /api/v1/accountability/cases …/review、…/issue），届时编号并存档。
    """
    start, end = _date(date_from, "开始日期"), _date(date_to, "结束日期")
    if start > end:
        fail(f"开始日期 {start} 晚于结束日期 {end}。")
    county_id = None
    if county:
        county_id = db.session.scalar(sa.select(County.id).where(County.code == county))
        if county_id is None:
            fail(f"没有代码为“{county}”的县（市、区）。")
    try:
        pdf = draft_report_pdf(date_from=start, date_to=end, county_id=county_id, user=None)
    except Problem as exc:
        fail(problem_line(exc))
    db.session.rollback()  # nothing was written; the report only reads
    Path(out).write_bytes(pdf)
    click.echo(f"已生成倒查问责情况报告样稿：{out}（{len(pdf)} 字节）")
