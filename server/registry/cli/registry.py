"""`anfang registry`: the register's imports. The group and the blank templates live here; the
import commands, which name the user who imports (`--by`), are added by server.accounts.cli.
registry_imports, since users sit above the registry."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from ...cli.common import fail
from ..importers import importer_for

registry_cli = AppGroup("registry", help="场所台账与督查人员：从模板导入（可先试运行）、下载模板。")


@registry_cli.command("template")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--inspectors", is_flag=True, help="督查人员模板（默认为场所模板）。")
def template_command(file, inspectors):
    """写出空白导入模板；文件名以 .xlsx 或 .csv 结尾。"""
    kind = "csv" if file.lower().endswith(".csv") else "xlsx"
    importer = importer_for("inspectors" if inspectors else "venues")
    if importer is None:
        fail("该导入模板不可用。")
    try:
        Path(file).write_bytes(importer.template(kind))
    except OSError:
        fail(f"无法写入文件 {file}。")
    click.echo(f"已写出{importer.label}导入模板：{file}")
