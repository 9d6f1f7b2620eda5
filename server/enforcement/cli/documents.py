"""`anfang document` commands: verify a PDF, preview a kind, issue an inspection's 检查记录.

Bad input ends with one Chinese line on stderr and exit code 1; `verify` also exits 1 for an
altered or unknown file, so a script can rely on the exit code alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from ...accounts.auth import find_user
from ...cli.common import committing, fail, problem_line
from ...columns import local_text
from ...errors import Problem
from .. import documents as service
from ..document_catalogue import KINDS

document_cli = AppGroup("document", help="文书：核验、样稿、出具检查记录。")


def _write(path: str, data: bytes) -> None:
    target = Path(path)
    try:
        target.write_bytes(data)
    except OSError as exc:
        fail(f"无法写入 {path}：{exc.strerror}。")


@document_cli.command("verify")
@click.argument("file", metavar="FILE.pdf")
def verify_command(file):
    """核验 PDF 文书是否为本系统出具的原件（真实有效时退出码为 0，被改动或无法识别时为 1）。"""
    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        fail(f"无法读取 {file}：{exc.strerror}。")
    result = service.verify_pdf(data)
    # The exit code follows the file (byte-identical to an original or not); the signature line
    # says who sealed it and whether it still holds, also for a file this server does not know.
    if result.genuine:
        click.echo(result.message)
        click.echo(result.signature.message)
        click.echo(f"核验码：{result.document.verification_code}（公开核验页 {service.verification_url(result.document.verification_code)}）")
        return
    click.echo(result.message, err=True)
    click.echo(result.signature.message, err=True)
    sys.exit(1)


@document_cli.command("preview")
@click.argument("kind", type=click.Choice(KINDS))
@click.option("--out", "out", required=True, metavar="FILE.pdf", help="样稿 PDF 的保存路径。")
def preview_command(kind, out):
    """用样例数据生成某种文书的样稿（不编号、不保存）。"""
    try:
        data = service.preview_document(kind)
    except Problem as exc:
        fail(problem_line(exc))
    _write(out, data)
    click.echo(f"已生成样稿：{out}（{len(data)} 字节）。")


@document_cli.command("inspection-record")
@click.argument("inspection_uuid", metavar="UUID")
@click.option("--out", "out", required=True, metavar="FILE.pdf", help="检查记录 PDF 的保存路径。")
@click.option("--by", "username", help="出具人的用户名（领导小组办公室、执法人员或系统管理员）。")
def inspection_record_command(inspection_uuid, out, username):
    """出具已提交督查记录的检查记录，并保存 PDF；已出具过的，导出原件。"""
    if not username:
        fail("出具检查记录须用 --by 指定出具人的用户名（记入审计日志）。")
    with committing():
        actor = find_user(username)
        if actor.role not in ("office", "enforcement", "admin"):
            fail(f"用户“{username}”无权出具检查记录（限领导小组办公室、执法人员和系统管理员）。")
        inspection = service.find_inspection(inspection_uuid)
        existing = service.record_document_of(inspection)
        document = existing or service.issue_inspection_record(inspection, actor, channel="cli")
    data = service.document_path(document).read_bytes()
    _write(out, data)
    if existing is not None:
        click.echo(f"该督查记录已于 {local_text(existing.issued_at)} 出具检查记录 {existing.number}"
                   f"（文书编号 {existing.id}），未重复出具，已导出原件：{out}。")
    else:
        click.echo(f"已出具检查记录 {document.number}（文书编号 {document.id}），保存为 {out}。")
