"""`anfang registry import` and `import-inspectors`: import a filled-in template (XLSX or CSV) in
the name of an office or admin user (`--by`), with a dry run.

A problem is one Chinese line on stderr (row, column, reason); any problem means nothing is
written and the exit code is 1. Success prints the counts. Commands of the registry's group,
added here because they look up the user, and users sit above the registry.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ...cli.common import fail, problem_line
from ...errors import Problem
from ...extensions import db
from ...registry.cli.registry import registry_cli
from ...registry.venue_import import import_venues
from ..auth import find_user
from ..inspector_import import import_inspectors


def _actor(username: str | None):
    if not username:
        fail("必须用 --by 指定执行导入的用户（领导小组办公室或系统管理员）。")
    try:
        return find_user(username)
    except Problem as exc:
        fail(problem_line(exc))


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError:
        fail(f"无法读取文件 {path}。")


def _run(importer, path: str, dry_run: bool, by: str | None, noun: str, **options) -> None:
    actor = _actor(by)
    content = _read(path)
    try:
        report = importer(actor, content, Path(path).name, dry_run=dry_run, channel="cli", **options)
    except Problem as exc:
        fail(problem_line(exc))
    if report.problems:
        db.session.rollback()
        for problem in report.problems:
            click.echo(f"错误：{problem.line()}", err=True)
        click.echo(f"共 {report.rows} 行，发现 {len(report.problems)} 个问题，未写入任何数据。", err=True)
        sys.exit(1)
    merged = f"，合并 {report.merged} 个已登记{noun}" if report.merged else ""
    if dry_run:
        db.session.rollback()
        click.echo(f"试运行：共 {report.rows} 行，均无问题；正式导入将新增 {report.created} 个{noun}{merged}。"
                   "未写入任何数据。")
        return
    db.session.commit()
    click.echo(f"已导入：共 {report.rows} 行，新增 {report.created} 个{noun}{merged}。")


@registry_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="只检查，列出每一行的问题，不写入。")
@click.option("--merge", is_flag=True, help="与已登记场所重复的行，以文件内容更新该场所（默认拒绝）。")
@click.option("--by", "by", help="执行导入的用户名（领导小组办公室或系统管理员）。")
def import_command(file, dry_run, merge, by):
    """从模板（XLSX 或 CSV）导入场所：全部无误才写入。"""
    _run(import_venues, file, dry_run, by, "场所", merge=merge)


@registry_cli.command("import-inspectors")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="只检查，列出每一行的问题，不写入。")
@click.option("--by", "by", help="执行导入的用户名（领导小组办公室或系统管理员）。")
def import_inspectors_command(file, dry_run, by):
    """从模板导入督查人员（无密码，由系统管理员设置后方可登录）：全部无误才写入。"""
    _run(import_inspectors, file, dry_run, by, "督查人员")
