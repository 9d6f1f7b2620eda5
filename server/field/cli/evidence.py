"""`anfang evidence` commands: housekeeping of photo uploads."""

import click
from flask.cli import AppGroup

from ...cli.common import committing

# AppGroup: its commands run inside an application context however the group is invoked.
evidence_cli = AppGroup("evidence", help="证据照片：上传清理。")


@evidence_cli.command("clean-uploads")
def clean_uploads_command() -> None:
    """删除已过期的未完成上传及其临时文件（已保存的证据照片不受影响）。"""
    from ..uploads import clean_expired_uploads

    with committing():
        removed = clean_expired_uploads()
    click.echo(f"已清理 {removed} 个过期的未完成上传。")
