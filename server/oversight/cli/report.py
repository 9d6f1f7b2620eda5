"""`anfang report` commands: reports rendered for the office at the command line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from ...accounts.auth import find_user
from ...cli.common import committing, fail, problem_line
from ...errors import Problem
from ...extensions import db
from ...registry.models.reference import County
from .. import accountability_cases as service
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

    正式报告：anfang report case create 起草，由起草人以外的人 review 审核、issue 印发，届时编号并存档。
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


# The formal report's cases at the command line, with the same four-eyes rule as the API and the
# pages: whoever drafted a case may neither review nor issue it.
case_cli = click.Group("case", help="倒查问责报告：起草、审核、印发（起草人不能审核或印发自己的报告）。")
report_cli.add_command(case_cli)


def _actor(username: str | None):
    if not username:
        fail("必须用 --by 指定操作人的用户名（记入审计日志）。")
    return find_user(username)


@case_cli.command("create")
@click.option("--from", "date_from", required=True, metavar="DATE", help="期间开始日期（含），YYYY-MM-DD")
@click.option("--to", "date_to", required=True, metavar="DATE", help="期间结束日期（含），YYYY-MM-DD")
@click.option("--county", metavar="CODE", help="县（市、区）代码，如 wucheng；不填为全市")
@click.option("--by", "username", help="起草人的用户名（领导小组办公室或系统管理员）")
@with_appcontext
def case_create_command(date_from: str, date_to: str, county: str | None, username: str | None):
    """起草倒查问责报告（草稿）；须由另一人审核、印发。"""
    start, end = _date(date_from, "开始日期"), _date(date_to, "结束日期")
    with committing():
        case = service.create_case(_actor(username), date_from=start, date_to=end, county_code=county, channel="cli")
    click.echo(f"已起草第 {case.id} 号倒查问责报告（草稿）；请另一名办公室人员审核："
               f"anfang report case review {case.id} --by 用户名")


@case_cli.command("review")
@click.argument("case_id", type=int)
@click.option("--by", "username", help="审核人的用户名（不能是起草人）")
@click.option("--note", help="审核意见（可不填）")
@with_appcontext
def case_review_command(case_id: int, username: str | None, note: str | None):
    """审核倒查问责报告（草稿 → 已审核）；起草人不能审核。"""
    with committing():
        actor = _actor(username)
        case = service.review_case(service.find_case(case_id, actor, "manage"), actor,
                                   note=(note or "").strip() or None, channel="cli")
    click.echo(f"第 {case.id} 号倒查问责报告已审核；"
               f"印发：anfang report case issue {case.id} --by 用户名（不能是起草人）")


@case_cli.command("issue")
@click.argument("case_id", type=int)
@click.option("--by", "username", help="印发人的用户名（不能是起草人）")
@with_appcontext
def case_issue_command(case_id: int, username: str | None):
    """印发已审核的倒查问责报告：编号存档，倒查结果固定；起草人不能印发。"""
    with committing():
        actor = _actor(username)
        case = service.issue_case(service.find_case(case_id, actor, "manage"), actor, channel="cli")
    click.echo(f"第 {case.id} 号倒查问责报告已印发：{case.document.number}")
