"""`anfang audit` commands: verify the hash chain, show the latest events."""

import click
import sqlalchemy as sa
from flask.cli import AppGroup

# AppGroup: its commands run inside an application context however the group is invoked.
audit_cli = AppGroup("audit", help="审计日志：校验哈希链、查看最新事件。")


@audit_cli.command("verify")
def verify_command() -> None:
    """校验审计哈希链；完整时退出码为 0，否则指出第一个异常事件并以 1 退出。"""
    from ..chain import verify_chain

    report = verify_chain()
    if report.ok:
        click.echo(f"审计链完整：共 {report.count} 条事件")
        return
    broken = report.first_broken
    seq = broken.seq if broken.seq is not None else "?"
    event_id = broken.event_id if broken.event_id is not None else "无"
    action = broken.action or "无"
    click.echo(f"审计链已损坏：第一个异常事件 seq={seq}（id={event_id}，操作 {action}）", err=True)
    click.echo(f"原因：{broken.reason_label}；{broken.detail}", err=True)
    click.echo(f"此前 {report.count} 条事件校验通过。", err=True)
    raise SystemExit(1)


@audit_cli.command("tail")
@click.option("-n", "--lines", "limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="显示的事件条数。")
def tail_command(limit: int) -> None:
    """按序号倒序列出最新的审计事件。"""
    from rich.console import Console
    from rich.table import Table

    from ...extensions import db
    from ..chain import canonical_timestamp
    from ..models.audit import AuditEvent

    events = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)).all()
    if not events:
        click.echo("审计日志中还没有事件。")
        return
    table = Table("序号")
    for header in ("时间（UTC）", "操作者", "渠道", "操作", "对象", "哈希"):
        table.add_column(header, no_wrap=True)
    for event in events:
        target = f"{event.object_type}:{event.object_id}" if event.object_type else (event.object_id or "")
        table.add_row(str(event.seq), canonical_timestamp(event.occurred_at)[:19].replace("T", " "),
                      event.actor_label, event.channel, event.action, target, event.hash[:12])
    console = Console()
    if not console.is_terminal:
        # Piped into a file or another program: full rows rather than cells cut to 80 columns.
        console = Console(width=200)
    console.print(table)
