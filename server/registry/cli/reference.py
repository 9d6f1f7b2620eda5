"""`anfang reference` commands: load the reference data files, show what is loaded."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from ...extensions import db
from ..loader import LoadReport, ReferenceDataError, load_reference
from ..models.reference import (
    ChecklistItem,
    County,
    Department,
    DiscretionBenchmark,
    DrawPolicy,
    Duty,
    HearingThreshold,
    LegalBasis,
    ReferenceDataset,
    RosterMember,
    Rule,
    RuleCheck,
    VenueCategory,
)
from ..schemas.reference import DATASETS, file_name

reference_cli = AppGroup("reference", help="参考数据：文件中的规则、部门、县市区、领导小组名单等。")


@reference_cli.command("load")
@click.option("--dir", "directory", type=click.Path(file_okay=False, exists=True),
              help="参考数据文件所在目录（默认为 REFERENCE_DIR）。")
@click.option("--force", is_flag=True, help="即使文件版本和摘要未变，也逐条比对并写入。")
def load_command(directory: str | None, force: bool) -> None:
    """校验并加载参考数据文件（全部通过校验才写入）。"""
    try:
        report = load_reference(directory, force=force)
    except ReferenceDataError as exc:
        db.session.rollback()
        click.echo(f"参考数据加载失败，未写入任何数据：{exc}", err=True)
        sys.exit(1)
    db.session.commit()
    _print_report(report)


def _print_report(report: LoadReport) -> None:
    click.echo(f"参考数据已加载：共新增或更新 {report.changes} 条。")
    for dataset in report.datasets.values():
        line = (f"  {dataset.file}（版本 {dataset.version}）：新增 {dataset.created}，"
                f"更新 {dataset.updated}，未变 {dataset.unchanged}")
        if dataset.skipped:
            line += "（文件未变，未逐条比对）"
        click.echo(line)
        if dataset.absent:
            click.echo(f"    数据库中有 {len(dataset.absent)} 条不在文件中，已保留：{'、'.join(dataset.absent)}")
        if dataset.overwritten:
            click.echo(f"    管理员修改过的 {len(dataset.overwritten)} 条已按文件覆盖：{'、'.join(dataset.overwritten)}")


_TABLES = {
    "counties": ("县市区", [County]),
    "departments": ("部门", [Department]),
    "roster": ("领导小组成员", [RosterMember]),
    "duties": ("职责分工", [Duty]),
    "categories": ("场所类别", [VenueCategory]),
    "rules": ("规则 / 检查项 / 检查条件", [Rule, ChecklistItem, RuleCheck]),
    "legal_bases": ("法律依据 / 裁量基准", [LegalBasis, DiscretionBenchmark]),
    "hearing_thresholds": ("听证标准", [HearingThreshold]),
    "draw_policy": ("抽查策略", [DrawPolicy]),
    # Read from the file when a case's facts are written: no table to count.
    "fact_templates": ("违法事实模板", []),
}


@reference_cli.command("show")
def show_command() -> None:
    """显示已加载的参考数据版本和条数。"""
    loaded = {row.name: row for row in db.session.scalars(select(ReferenceDataset))}
    for dataset in DATASETS:
        label, models = _TABLES[dataset]
        counts = " / ".join(str(db.session.scalar(select(func.count()).select_from(m))) for m in models)
        held = f"{label} {counts} 条" if models else f"{label}按文件使用"
        row = loaded.get(dataset)
        if row is None:
            click.echo(f"{file_name(dataset)}：未加载（{held}）")
            continue
        click.echo(f"{file_name(dataset)}：版本 {row.version}，sha256 {row.sha256[:12]}…，"
                   f"加载于 {row.loaded_at:%Y-%m-%d %H:%M}；{held}")
