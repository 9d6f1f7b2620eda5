"""`anfang user` and `anfang token` commands.

Bad input ends with one Chinese line on stderr and exit code 1, never a traceback; every
command that changes something commits (the services only flush).
"""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from ...cli.common import committing, fail
from ...columns import as_utc, local_text, utcnow
from ...errors import Problem
from ...extensions import db
from ...roles import ROLE_LABELS
from ..models.user import User

# AppGroup: its commands run inside an application context however the group is invoked.
user_cli = AppGroup("user", help="用户：创建、列出、解除登录锁定。")
token_cli = AppGroup("token", help="设备访问令牌：签发、列出、吊销。")

# Another administrator created the same username or certificate at the same moment.
USER_CONFLICT = "与已有数据冲突（用户名或执法证号重复），未做任何更改。"


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line, so `printf '%s\n' "$PW" | anfang user create …` works; the newline is not part.
        return sys.stdin.readline().rstrip("\r\n")
    first = click.prompt("密码", hide_input=True, default="", show_default=False)
    second = click.prompt("再次输入密码", hide_input=True, default="", show_default=False)
    if first != second:
        fail("两次输入的密码不一致。")
    return first


def _when(moment) -> str:
    """A stored time as people read it: Beijing time."""
    return local_text(moment, "-")


@user_cli.command("create")
@click.argument("username")
# --role and --label are checked by the command rather than by click, whose refusal is an English
# usage text; the rest of these commands answer in one Chinese line.
@click.option("--role", help="角色代码：" + "、".join(f"{c}（{label}）" for c, label in ROLE_LABELS.items()))
@click.option("--display-name", help="显示的姓名，默认同用户名。")
@click.option("--department", help="所属部门的代码或名称（行业部门用户必填）。")
@click.option("--county", help="所属县市区的代码或名称（属地政府用户必填）。")
@click.option("--certificate", help="执法证号（督查人员或执法人员）。")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码（一行），不交互提示。")
def create_user_command(username, role, display_name, department, county, certificate, password_stdin):
    """创建用户。"""
    from ..auth import create_user

    if not role:
        fail("必须用 --role 指定角色。")
    password = _read_password(password_stdin)
    with committing(USER_CONFLICT):
        user = create_user(username, role, password, display_name=display_name, department=department,
                           county=county, certificate_no=certificate, channel="cli")
        scope = "、".join(part for part in (user.department and user.department.name,
                                            user.county and user.county.name) if part)
        message = f"已创建用户 {user.username}（{user.role_label}{'，' + scope if scope else ''}）。"
    click.echo(message)


@user_cli.command("list")
def list_users_command():
    """列出所有用户。"""
    users = db.session.scalars(db.select(User).order_by(User.id)).all()
    if not users:
        click.echo("还没有用户。")
        return
    click.echo("编号\t用户名\t姓名\t角色\t部门\t县市区\t状态\t最近登录（北京时间）")
    for user in users:
        click.echo("\t".join((
            str(user.id), user.username, user.display_name, user.role_label,
            user.department.name if user.department else "-", user.county.name if user.county else "-",
            "启用" if user.is_active else "停用", _when(user.last_login_at),
        )))


@user_cli.command("unlock")
@click.argument("username")
def unlock_user_command(username):
    """解除账号因多次登录失败而设的锁定。"""
    from ..auth import find_user
    from ..lockout import unlock_user

    with committing():
        user = find_user(username)
        done = unlock_user(user, actor=None, channel="cli")
    click.echo(f"已解除 {user.username} 的登录锁定。" if done else f"账号 {user.username} 没有被锁定。")


@token_cli.command("issue")
@click.argument("username")
@click.option("--label", help="设备名称，便于日后辨认和吊销。")
def issue_token_command(username, label):
    """为用户签发设备访问令牌（令牌只显示这一次）。"""
    from ..auth import find_user, issue_device_token

    if not label:
        fail("必须用 --label 指定设备名称。")
    with committing():
        user = find_user(username)
        raw, token = issue_device_token(user, label, channel="cli")
        message = (f"已为 {user.username} 签发令牌 {token.id}（前缀 {token.prefix}，设备“{token.label}”，"
                   f"有效期至 {_when(token.expires_at)}，北京时间）。令牌只显示这一次：")
    click.echo(message, err=True)
    # The token alone on stdout, so that scripts can capture it.
    click.echo(raw)


@token_cli.command("list")
@click.argument("username", required=False)
def list_tokens_command(username):
    """列出设备访问令牌（可只列某个用户的）。"""
    from ..auth import find_user, list_tokens

    try:
        user = find_user(username) if username else None
    except Problem as exc:
        fail(exc.detail)
    tokens = list_tokens(user)
    if not tokens:
        click.echo("没有令牌。")
        return
    now = utcnow()
    click.echo("编号\t前缀\t用户\t设备\t签发（北京时间）\t到期\t最近使用\t状态")
    for token in tokens:
        if token.revoked_at is not None:
            state = "已吊销"
        elif as_utc(token.expires_at) <= now:
            state = "已过期"
        else:
            state = "有效"
        click.echo("\t".join((
            str(token.id), token.prefix, token.user.username, token.label, _when(token.issued_at),
            _when(token.expires_at), _when(token.last_used_at), state,
        )))


@token_cli.command("revoke")
@click.argument("token_ref", metavar="TOKEN_ID_OR_PREFIX")
def revoke_token_command(token_ref):
    """吊销令牌（按编号或前缀）。"""
    from ..auth import find_token, revoke_device_token

    with committing():
        token = find_token(token_ref)
        if revoke_device_token(token, channel="cli"):
            message = f"已吊销令牌 {token.id}（前缀 {token.prefix}，用户 {token.user.username}，设备“{token.label}”）。"
        else:
            message = f"令牌 {token.id} 此前已被吊销。"
    click.echo(message)
