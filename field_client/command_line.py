"""What every `anfang-field` command shares: one-line Chinese failures (never a traceback or a
usage dump), the local store, the console, Beijing time and the server connection."""

from __future__ import annotations

import functools
import re
import sqlite3
from datetime import datetime, timedelta, timezone

import click
from rich.console import Console

import sealing

from . import sync as syncing
from .http import ServerError
from .photos import PhotoError
from .store import Store, StoreError


class Fail(click.ClickException):
    """One Chinese line on stderr and exit status 1."""

    def show(self, file=None) -> None:
        click.echo(f"错误：{self.format_message()}", err=True)


# click's own parse errors, said in Chinese; the quoted names stay as typed.
_USAGE_MESSAGES = [
    (re.compile(r"Missing option '?([^'.]+)'?\.?"), "缺少选项 {0}"),
    (re.compile(r"Missing argument '?([^'.]+)'?\.?"), "缺少参数 {0}"),
    (re.compile(r"No such option: (\S+)"), "没有选项 {0}"),
    (re.compile(r"No such command '?([^'.]+)'?\.?"), "没有命令 {0}"),
    (re.compile(r"Invalid value for '?([^':]+)'?: (.*)", re.DOTALL), "{0} 的值无效（{1}）"),
    (re.compile(r"Option '?([^']+)'? requires an argument\.?"), "选项 {0} 需要一个值"),
    (re.compile(r"Got unexpected extra arguments? \((.*)\)"), "多余的参数：{0}"),
]


class ChineseUsageError(click.UsageError):
    """A command line click could not parse: one line, no usage dump."""

    def show(self, file=None) -> None:
        message = self.format_message()
        for pattern, template in _USAGE_MESSAGES:
            match = pattern.fullmatch(message.strip())
            if match:
                message = template.format(*match.groups())
                break
        command = self.ctx.command_path if self.ctx else "anfang-field"
        click.echo(f"错误：{message}（用 {command} --help 查看用法）", err=True)


class FieldGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ChineseUsageError:
            raise
        except click.UsageError as error:
            # format_message, not .message: a missing or bad parameter builds its text there.
            raise ChineseUsageError(error.format_message(), error.ctx) from None
        except click.Abort:
            # Nothing is written before the last answer: an interrupted prompt leaves no trace.
            raise Fail("已取消，未做任何更改。") from None


def handled(command):
    """Turn the client's known failures into one-line messages."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except (StoreError, ServerError, PhotoError, sealing.EnvelopeError, syncing.SyncError) as error:
            raise Fail(str(error)) from None
        except sqlite3.OperationalError as error:
            raise Fail(f"本地数据库暂时无法使用（{error}），请稍后重试。") from None

    return wrapper


def open_store(ctx: click.Context) -> Store:
    try:
        return Store(ctx.obj["home"])
    except OSError as error:
        raise Fail(f"无法打开本地数据目录 {ctx.obj['home']}：{error.strerror or error}") from None
    except StoreError as error:
        raise Fail(str(error)) from None


def console() -> Console:
    # Built per call so that output goes to the stdout of the moment (tests swap it).
    return Console(highlight=False, soft_wrap=True)


# The server sends UTC; inspectors in 金华 read China Standard Time (UTC+8, no daylight saving).
CHINA_STANDARD_TIME = timezone(timedelta(hours=8))


def local_text(moment: str | None) -> str:
    if not moment:
        return ""
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:
        return moment
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%d %H:%M")


def server_connection(store: Store) -> tuple[str, str]:
    server_url, token = store.get_config("server_url"), store.load_token()
    if not server_url or not token:
        raise Fail("尚未登录；请先运行 anfang-field login --server 地址 --user 用户名。")
    return server_url, token
