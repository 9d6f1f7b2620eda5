"""`anfang demo` commands: the embedded demo (SQLite, reference data, generated registry)."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_migrate import upgrade
from rich.console import Console
from rich.table import Table
from werkzeug.serving import run_simple

from ...errors import Problem
from ...extensions import db
from ...registry.loader import load_reference
from ..cases import seed_demo_inspections
from ..registry import DEMO_PASSWORD, seed_demo
from ..signing import ensure_demo_signing_keys
from ..rectification import seed_demo_rectification
from ..week import seed_week_inspections

DEMO_WEEK_DAYS = 7

demo_cli = click.Group("demo", help="演示环境：建库、导入参考数据、生成演示登记数据并启动服务。")


def _optional_step(console: Console, seed, what: str):
    """Run one seeding step and commit it; on failure roll it back, say so and go on: the demo runs
    without it, and what earlier steps committed (registry, users) stays."""
    try:
        result = seed()
    except (Problem, LookupError) as exc:
        db.session.rollback()
        console.print(f"未能生成{what}：{getattr(exc, 'detail', exc)}")
        return None
    db.session.commit()
    return result


def _prepare() -> None:
    upgrade(directory=current_app.config["MIGRATIONS_DIR"])
    load_reference()
    db.session.commit()
    report = seed_demo()
    db.session.commit()
    console = Console()
    signing_dir, organs = ensure_demo_signing_keys()
    if organs:
        console.print(f"电子签章：已在 {signing_dir} 生成演示根证书及{'、'.join(organs)}的签章证书（仅供演示）。")
    console.print(f"演示数据：新增场所 {report.venues_created} 个，新增用户 {report.users_created} 个。")
    inspections = _optional_step(console, seed_demo_inspections, "演示检查记录")
    if inspections:
        console.print(f"演示检查记录：新增 {inspections} 份已提交的检查及其违规问题（执法人员可在“执法办案”中立案）。")
    # A week of records gives every role something to do by hand: statistics, material, bulletins.
    week = _optional_step(console, lambda: seed_week_inspections(DEMO_WEEK_DAYS), "最近一周的演示检查")
    if week is not None and week.inspections:
        console.print(_week_line(week))
    order = _optional_step(console, seed_demo_rectification, "演示整改通知")
    if order is not None:
        console.print(f"演示整改通知：已向{order.venue.name}下达责令整改通知，限 {order.deadline} 前整改"
                      "（义乌市联络员可报告整改完成，领导小组办公室确认）。")
    table = Table(title=f"演示账号（密码均为 {DEMO_PASSWORD}）")
    for column in ("角色", "用户名", "范围"):
        table.add_column(column)
    for row in report.logins:
        table.add_row(*row)
    console.print(table)


@demo_cli.command("seed")
@with_appcontext
def seed_command():
    """建库并生成演示数据（可重复运行，不会重复插入）。"""
    try:
        _prepare()
    except LookupError as exc:
        click.echo(f"错误：{exc}", err=True)
        sys.exit(1)


@demo_cli.command("inspections")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1, 60), help="生成最近多少天（截至昨天）的检查")
@with_appcontext
def inspections_command(days: int):
    """生成最近若干天已提交的演示检查、违规问题及正反典型记录和现场照片（固定随机种子；可重复运行，已有的不再生成）。"""
    try:
        report = seed_week_inspections(days)
    except LookupError as exc:
        db.session.rollback()
        click.echo(f"错误：{exc}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(_week_line(report))


def _week_line(report) -> str:
    return (f"演示检查：新增 {report.days} 天、{report.inspections} 份检查、{report.violations} 条违规问题；"
            f"典型记录 {report.notes} 条、现场照片 {report.photos} 张（领导小组办公室可在“典型材料”中审核）。")


@demo_cli.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="端口")
@with_appcontext
def run_command(host: str, port: int):
    """准备演示数据并在本机启动服务。"""
    from ...jobs.schedule import start_scheduler

    _prepare()
    app = current_app._get_current_object()
    # One process, no Redis: the daily jobs (closing due draws, re-inspections…) run here, at their
    # Beijing times, as `anfang worker` runs them in production; page jobs run in their request.
    # No catching up at start: the freshly seeded week stays as the README describes it.
    scheduler = start_scheduler(app, catch_up=False)
    click.echo(f"服务地址：http://{host}:{port}/  （按 Ctrl+C 停止）")
    click.echo(f"督查人员手机现场应用：http://{host}:{port}/field/")
    try:
        # app.run() is a no-op under the flask CLI; serve the same way `flask run` does.
        run_simple(host, port, app, threaded=True)
    finally:
        scheduler.shutdown(wait=False)
