"""`anfang backup` commands: take a backup into an empty directory, restore one into empty stores."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

# AppGroup: its commands run inside an application context however the group is invoked.
backup_cli = AppGroup("backup", help="备份与恢复：数据库、证据照片、已出具文书、审计检查点和签章证书。")


@backup_cli.command("create")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--include-signing-keys", is_flag=True,
              help="同时备份各机关的签章私钥（默认不备份：带私钥的备份须像私钥一样保管）。")
def create_command(directory: Path, include_signing_keys: bool) -> None:
    """在服务运行时备份数据库、证据照片、已出具文书、已签名的审计检查点和签章证书到一个空目录。"""
    from ..create import create_backup
    from ..manifest import BackupError

    try:
        with _progress() as progress:
            result = create_backup(directory, include_signing_keys=include_signing_keys, progress=progress)
    except BackupError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"无法写入备份目录 {directory}：{exc.strerror or exc}")
    except SQLAlchemyError as exc:
        _fail(_database_error(exc))
    manifest = result.manifest
    files = manifest["files"]
    size = sum(entry["size"] for entry in files)
    evidence = manifest["evidence"]
    head = manifest["audit_head"]
    click.echo(f"备份完成：{result.directory}（{manifest['created_at_beijing']}，北京时间）")
    click.echo(f"数据库：{_backend_label(manifest)}，结构版本 {manifest['database']['alembic_revision']}，"
               f"{len(manifest['database']['tables'])} 张表")
    click.echo(f"审计链头：第 {head['seq']} 条，哈希 {head['hash'][:16]}…")
    click.echo(f"证据照片 {evidence.get('originals', 0)} 个，已出具文书 {evidence.get('documents', 0)} 份，"
               f"已发布简报 {evidence.get('bulletins', 0)} 期，遮挡后图片 {evidence.get('redacted', 0)} 个")
    click.echo(f"共 {len(files)} 个文件，{size / 1024 / 1024:.1f} MB；清单 SHA-256：{result.manifest_sha256}")
    if manifest["signing_keys_included"]:
        click.echo("注意：本备份含签章私钥，须像私钥一样保管。", err=True)


@backup_cli.command("restore")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def restore_command(directory: Path) -> None:
    """把备份恢复到空数据库和空证据目录：先核对全部文件，恢复后校验审计链、证据哈希和文书。"""
    from ..manifest import BackupError
    from ..restore import restore_backup

    try:
        with _progress() as progress:
            report = restore_backup(directory, progress=progress)
    except BackupError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"恢复失败：{exc.filename or ''} {exc.strerror or exc}".strip())
    except SQLAlchemyError as exc:
        _fail(_database_error(exc))
    manifest = report.manifest
    click.echo(f"已恢复 {manifest['created_at_beijing']}（北京时间）的备份：{_backend_label(manifest)}，"
               f"{len(manifest['files'])} 个文件")
    for line in report.lines:
        click.echo(line)
    for note in report.notes:
        click.echo(f"提示：{note}")
    if not report.ok:
        for problem in report.problems:
            click.echo(f"错误：{problem}", err=True)
        raise SystemExit(1)
    click.echo("恢复后校验全部通过。")


def _database_error(exc: SQLAlchemyError) -> str:
    """The driver's own first line (e.g. a database that does not exist) after a Chinese lead."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"无法访问数据库：{detail[0] if detail else type(exc).__name__}"


def _backend_label(manifest: dict) -> str:
    from ..restore import BACKEND_LABELS

    backend = manifest["database"]["backend"]
    return BACKEND_LABELS.get(backend, backend)


@contextmanager
def _progress():
    """A rich progress bar on a terminal (stderr); nothing when the output is piped or captured."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from ..manifest import Progress as Reporter

    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console,
                  transient=True, disable=not console.is_terminal) as bar:

        class Shown(Reporter):
            task = None

            def start(self, description: str, total: int) -> None:
                if self.task is not None:
                    bar.remove_task(self.task)
                self.task = bar.add_task(description, total=total)

            def advance(self, amount: int = 1) -> None:
                bar.advance(self.task, amount)

        yield Shown()


def _fail(message: str):
    from ...cli.common import fail

    fail(message)
