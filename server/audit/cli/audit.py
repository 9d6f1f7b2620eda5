"""`anfang audit` commands: verify the hash chain (also against signed checkpoints kept outside),
show the latest events, and export, take and copy out the signed checkpoints of the chain head."""

from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import AppGroup, with_appcontext

# AppGroup: its commands run inside an application context however the group is invoked.
audit_cli = AppGroup("audit", help="审计日志：校验哈希链、查看最新事件、链头检查点。")


@audit_cli.command("verify")
@click.option("--checkpoints", "checkpoint_dir", type=click.Path(path_type=Path),
              help="已签名检查点所在目录：逐个核对签名，并核对审计链仍包含检查点所记的事件和哈希。")
@click.option("--public-key", "public_keys", multiple=True,
              help="审计人员的公钥（base64），检查点须由它签名；可多次指定。")
def verify_command(checkpoint_dir, public_keys) -> None:
    """校验审计哈希链；完整时退出码为 0，否则指出第一个异常事件并以 1 退出。"""
    from ..chain import verify_chain
    from ..checkpoints import check_directory
    from ..labels import action_label

    report = verify_chain()
    failed = False
    if report.ok:
        click.echo(f"审计链完整：共 {report.count} 条事件")
    else:
        failed = True
        broken = report.first_broken
        seq = broken.seq if broken.seq is not None else "?"
        event_id = broken.event_id if broken.event_id is not None else "无"
        action = action_label(broken.action) if broken.action else "无"
        click.echo(f"审计链已损坏：第一个异常事件为第 {seq} 条（编号 {event_id}，操作：{action}）", err=True)
        click.echo(f"原因：{broken.reason_label}；{broken.detail}", err=True)
        click.echo(f"此前 {report.count} 条事件校验通过。", err=True)
    if checkpoint_dir is not None:
        checked = check_directory(checkpoint_dir, report, pinned_keys=list(public_keys))
        for problem in checked.problems:
            click.echo(problem, err=True)
        if checked.ok:
            click.echo(f"检查点：{checked.checked} 个已签名检查点均与审计链相符")
        else:
            failed = True
            click.echo(f"检查点：{checked.checked} 个相符，{len(checked.problems)} 个问题。", err=True)
    elif public_keys:
        click.echo("错误：--public-key 须与 --checkpoints 一起使用。", err=True)
        failed = True
    if failed:
        raise SystemExit(1)


@audit_cli.command("tail")
@click.option("-n", "--lines", "limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="显示的事件条数。")
def tail_command(limit: int) -> None:
    """按序号倒序列出最新的审计事件。"""
    from rich.console import Console
    from rich.table import Table

    from ...columns import local_text
    from ...extensions import db
    from ..chain import CHANNEL_LABELS
    from ..labels import action_label, actor_label, object_label
    from ..models.audit import AuditEvent

    events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)).all()
    if not events:
        click.echo("审计日志中还没有事件。")
        return
    table = Table("序号")
    for header in ("时间（北京时间）", "操作者", "渠道", "操作", "对象", "哈希"):
        table.add_column(header, no_wrap=True)
    for event in events:
        table.add_row(str(event.seq), local_text(event.occurred_at), actor_label(event.actor_label),
                      CHANNEL_LABELS.get(event.channel, event.channel), action_label(event.action),
                      object_label(event.object_type, event.object_id), event.hash[:12])
    console = Console()
    if not console.is_terminal:
        # Piped into a file or another program: full rows rather than cells cut to 80 columns.
        console = Console(width=200)
    console.print(table)


# --- checkpoints of the chain head -----------------------------------------------------------------


@audit_cli.group("checkpoint", invoke_without_command=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="写入该文件（不覆盖已有文件）；省略时输出到标准输出。")
@click.pass_context
@with_appcontext  # a group's own callback is not wrapped by AppGroup, only its commands
def checkpoint_cli(ctx, out) -> None:
    """导出当前审计链头（序号、哈希、UTC 时间），供审计人员在本人电脑上用 anfang-checkpoint sign 签名。"""
    if ctx.invoked_subcommand is not None:
        if out is not None:
            _fail("--out 只用于导出链头，不能与子命令一起使用。")
        return
    from ..checkpoints import export_head, head_file_bytes, write_once

    head = export_head()
    data = head_file_bytes(head)
    if out is None:
        click.echo(data.decode("utf-8"), nl=False)
    else:
        try:
            created = write_once(out, data)
        except OSError as exc:
            _fail(f"无法写入 {out}：{_os_reason(exc)}")
        if not created:
            _fail(f"文件 {out} 已存在，不会覆盖；请换一个文件名。")
    click.echo(f"审计链头：第 {head.seq} 条，哈希 {head.hash}，时间 {head.time}（UTC）。"
               "请在审计人员电脑上运行 anfang-checkpoint sign 签名，再用 anfang audit checkpoint add 登记。", err=True)


@checkpoint_cli.command("add")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def add_checkpoint_command(file: Path) -> None:
    """登记审计人员签名的检查点：核对签名、公钥已登记，且审计链当前包含该事件和哈希。"""
    from ...cli.common import committing
    from ..checkpoints import add_checkpoint

    try:
        data = file.read_bytes()
    except OSError as exc:
        _fail(f"无法读取检查点文件 {file}：{_os_reason(exc)}")
    with committing("该检查点已由他人同时登记。"):
        row = add_checkpoint(data, channel="cli")
    click.echo(f"已登记检查点：第 {row.seq} 条，哈希 {row.hash[:16]}…")


@checkpoint_cli.command("register-key")
@click.argument("public_key")
@click.option("--label", required=True, help="公钥的标签（持有人或用途）。")
def register_key_command(public_key: str, label: str) -> None:
    """登记审计人员的签名公钥（anfang-checkpoint keygen 显示的 base64 公钥）。"""
    from ...cli.common import committing
    from ..checkpoints import register_key

    with committing("该公钥已由他人同时登记。"):
        key = register_key(public_key, label, channel="cli")
    click.echo(f"已登记公钥：{key.label}（指纹 {key.fingerprint}）")


@checkpoint_cli.command("list")
def list_checkpoints_command() -> None:
    """列出已登记的审计人员公钥和检查点，并核对检查点是否仍与审计链相符。"""
    from ..checkpoints import list_checkpoints, list_keys, stored_checkpoint_standing

    keys = list_keys()
    click.echo(f"已登记公钥 {len(keys)} 个：" if keys else "尚未登记审计人员公钥。")
    for key in keys:
        click.echo(f"  {key.fingerprint}  {key.label}")
    checkpoints = list_checkpoints(limit=1000)
    standing = stored_checkpoint_standing(checkpoints)
    click.echo(f"已登记检查点 {len(checkpoints)} 个：" if checkpoints else "尚未登记检查点。")
    for row in checkpoints:
        state = "与审计链相符" if standing[row.id] else "与审计链不符"
        click.echo(f"  第 {row.seq} 条  {row.hash[:16]}…  {state}")


@checkpoint_cli.command("export")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="导出目录（默认配置项 AUDIT_CHECKPOINT_DIR）。")
def export_checkpoints_command(directory) -> None:
    """把当前链头和尚未导出的检查点写入只写一次的目录（不覆盖已有文件），并按配置发往 syslog；宜每天运行。"""
    from flask import current_app

    from ...errors import Problem
    from ..checkpoints import export_checkpoints

    directory = directory or current_app.config.get("AUDIT_CHECKPOINT_DIR")
    if not directory:
        _fail("未配置检查点导出目录：请设置 AUDIT_CHECKPOINT_DIR，或用 --dir 指定。")
    try:
        result = export_checkpoints(directory, syslog=current_app.config.get("AUDIT_CHECKPOINT_SYSLOG"))
    except Problem as exc:
        _fail(exc.detail)
    except OSError as exc:
        _fail(f"无法写入导出目录 {directory}：{_os_reason(exc)}")
    click.echo(f"已导出 {len(result.written)} 个文件，{result.kept} 个已存在且相同。")
    if result.differing:
        for name in result.differing:
            click.echo(f"导出目录中的 {name} 已存在且内容不同（未覆盖）：审计链或导出目录已被改动，请核查。", err=True)
        raise SystemExit(1)


def _fail(message: str):
    from ...cli.common import fail

    fail(message)


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "文件或目录不存在"
    if isinstance(exc, PermissionError):
        return "没有权限"
    if isinstance(exc, IsADirectoryError | NotADirectoryError):
        return "路径类型不对"
    return f"系统错误 {exc.errno}"
