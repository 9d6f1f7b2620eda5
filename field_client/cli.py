"""`anfang-field`: the inspector's offline command line.

Only `login`, `pull`, `reveal` without `--code` and `sync` use the network; everything else works on the
local store alone. Bad input ends with one Chinese line on stderr and exit status 1, never a
traceback.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
import socket
import sqlite3
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

import rulecheck
import sealing

from . import fieldwork
from . import sync as syncing
from .chunking import ChunkSizer
from .http import ServerError, normalise_server_url, request_json
from .photos import PhotoError, inspect_image
from .store import Store, StoreError, canonical_json, resolve_home
from .tus import TusClient

OUTCOME_LABELS = {rulecheck.COMPLIANT: "符合", rulecheck.VIOLATION: "违规", rulecheck.NOT_APPLICABLE: "不适用",
                  rulecheck.INCOMPLETE: "未填完"}
OUTCOME_STYLES = {rulecheck.VIOLATION: "bold red", rulecheck.COMPLIANT: "green", rulecheck.INCOMPLETE: "yellow"}
SERVER_INSPECTION_LABELS = {"draft": "已收到，记录中", "awaiting_evidence": "已提交，等待照片",
                            "complete": "已完整接收"}
# What to do about a refused operation: it stays outstanding until one of these is accepted.
HOW_TO_SETTLE = ("被拒绝的操作须更正后重新发送（提交前用 record 重新记录该项），"
                 "或提交后用 amend --settles <操作编号> 追加更正说明。")
VALUE_HINTS = {"boolean": "是/否", "integer": "整数", "choice": "选项", "text": "文字"}


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


@click.group(cls=FieldGroup, help="anfang 现场督查客户端（离线记录，联网后同步）。")
@click.version_option(package_name="anfang", message="anfang-field %(version)s")
@click.option("--home", type=click.Path(path_type=Path), envvar="ANFANG_FIELD_HOME",
              help="本地数据目录（默认 ~/.local/share/anfang-field，也可用环境变量 ANFANG_FIELD_HOME）。")
@click.pass_context
def main(ctx, home):
    ctx.obj = {"home": resolve_home(home)}


# --- network -----------------------------------------------------------------------------------


@main.command(help="登录服务器，领取本设备的访问令牌（仅保存令牌，不保存密码）。")
@click.option("--server", "server_url", required=True, help="服务器地址，如 https://anfang.example.cn")
@click.option("--user", "username", required=True, help="用户名")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码（用于脚本）。")
@click.option("--label", default=None, help="设备名称，便于日后辨认和吊销（默认为本机名）。")
@click.pass_context
@handled
def login(ctx, server_url, username, password_stdin, label):
    server_url = normalise_server_url(server_url)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("密码", hide_input=True)
    if not password:
        raise Fail("密码不能为空。")
    label = (label or f"anfang-field@{socket.gethostname()}")[:64]
    answer = request_json("POST", f"{server_url}/api/v1/auth/tokens",
                          body={"username": username, "password": password, "label": label})
    token = answer.get("token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise Fail("服务器的回答中没有访问令牌，未登录。")
    with open_store(ctx) as store:
        store.save_token(token)
        user = answer.get("user") or {}
        store.set_config({"server_url": server_url, "username": username,
                          "display_name": str(user.get("display_name") or username)})
    click.echo(f"已登录 {server_url}，用户 {username}。令牌已保存（仅本用户可读）。")


# The server sends UTC; inspectors in 金华 read China Standard Time (UTC+8, no daylight saving).
CHINA_STANDARD_TIME = timezone(timedelta(hours=8))


def _local(moment: str | None) -> str:
    if not moment:
        return ""
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:
        return moment
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%d %H:%M")


def _connection(store: Store) -> tuple[str, str]:
    server_url, token = store.get_config("server_url"), store.load_token()
    if not server_url or not token:
        raise Fail("尚未登录；请先运行 anfang-field login --server 地址 --user 用户名。")
    return server_url, token


def _checked_assignments(answer) -> list[dict]:
    if not isinstance(answer, list):
        raise Fail("服务器返回的任务列表格式不正确，本次未做任何更改。")
    checked = []
    for data in answer:
        if not (isinstance(data, dict) and isinstance(data.get("id"), int) and isinstance(data.get("uuid"), str)
                and isinstance(data.get("status"), str)):
            raise Fail("服务器返回的任务列表格式不正确，本次未做任何更改。")
        data = dict(data)
        if data.get("envelope") is not None:
            try:
                data["envelope"] = base64.b64decode(data["envelope"], validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise Fail(f"任务 {data['id']} 的信封无法解码，本次未做任何更改。") from None
        checked.append(data)
    return checked


def _checked_rules(answer) -> list[dict]:
    if not isinstance(answer, list) or not all(
            isinstance(rule, dict) and isinstance(rule.get("code"), str) and isinstance(rule.get("items"), list)
            and isinstance(rule.get("checks"), list) for rule in answer):
        raise Fail("服务器返回的规则数据格式不正确，本次未做任何更改。")
    return answer


@main.command(help="下载本组的督查任务（含密封信封）和检查规则，供离线使用。")
@click.pass_context
@handled
def pull(ctx):
    with open_store(ctx) as store:
        server_url, token = _connection(store)
        # Both answers are fetched and checked before anything is written: all or nothing.
        assignments = _checked_assignments(request_json("GET", f"{server_url}/api/v1/assignments", token=token))
        rules = _checked_rules(request_json("GET", f"{server_url}/api/v1/reference/rules", token=token))
        version = hashlib.sha256(canonical_json(rules)).hexdigest()[:16]
        count = fieldwork.store_pull(store, assignments, rules, version)
    click.echo(f"已下载 {count} 项任务、{len(rules)} 条规则（规则版本 {version}）。")


# --- reading -----------------------------------------------------------------------------------


@main.command("list", help="列出本机保存的督查任务。")
@click.pass_context
@handled
def list_assignments(ctx):
    with open_store(ctx) as store:
        rows = store.query("SELECT a.*, i.status AS inspection_status FROM assignments a"
                           " LEFT JOIN inspections i ON i.assignment_uuid = a.uuid ORDER BY a.window_start, a.id")
    if not rows:
        click.echo("本机没有任务；请先运行 anfang-field pull。")
        return
    table = Table("编号", "任务号", "状态", "日期", "时间窗口", "集合地点", "本机记录")
    for row in rows:
        local = {"draft": "已签到，记录中", "submitted": "已提交"}.get(row["inspection_status"], "未揭封")
        table.add_row(str(row["id"]), row["uuid"][:8], row["status_label"] or row["status"], row["visit_date"] or "",
                      f"{_local(row['window_start'])} – {_local(row['window_end'])}", row["meeting_point"] or "", local)
    console().print(table)


@main.command(help="查看一项任务：时间窗口、集合地点、组员；揭封后显示督查对象和记录。")
@click.argument("assignment")
@click.pass_context
@handled
def show(ctx, assignment):
    out = console()
    with open_store(ctx) as store:
        row = fieldwork.find_assignment(store, assignment)
        out.print(f"任务 {row['id']}（{row['uuid']}） 状态：{row['status_label'] or row['status']}")
        out.print(f"时间窗口：{_local(row['window_start'])} – {_local(row['window_end'])}（北京时间）")
        out.print(f"集合地点：{row['meeting_point'] or '未指定'}")
        members = json.loads(row["members"])
        names = "、".join(f"{m.get('display_name')}（{m.get('username')}）" + ("·组长" if m.get("is_leader") else "")
                         for m in members)
        out.print(f"组员：{names or '无'}")
        target = fieldwork.target_of(row)
        if target is None:
            out.print("督查对象：未揭封（anfang-field reveal 揭封后显示）")
            return
        out.print(f"督查对象：{target.get('name')}（{target.get('category')}，{target.get('county')}）")
        out.print(f"地址：{target.get('address')}  核定人数：{target.get('approved_capacity')}")
        inspection = fieldwork.inspection_of(store, row)
        if inspection is None:
            return
        status = "已提交" if inspection["status"] == "submitted" else "记录中"
        server_status = SERVER_INSPECTION_LABELS.get(inspection["server_status"], inspection["server_status"])
        refused = fieldwork.outstanding_refusals(store)
        if server_status and refused:
            # Complete on the server means complete without what it refused: not complete.
            server_status = (f"{'已收齐其接受的部分' if inspection['server_status'] == 'complete' else server_status}，"
                             f"另有 {refused} 项操作被拒绝、尚未解决（见 anfang-field status）")
        out.print(f"签到：{inspection['checked_in_at']}  记录状态：{status}"
                  + (f"  服务器：{server_status}" if server_status else ""))
        for name, value in fieldwork.observations_of(store, inspection).items():
            out.print(f"  {name} = {json.dumps(value, ensure_ascii=False)}")
        findings = store.query("SELECT * FROM findings WHERE inspection_uuid = ? AND withdrawn_at IS NULL"
                               " ORDER BY created_at", (inspection["uuid"],))
        if findings:
            table = Table("问题编号", "规则", "检查", "描述", "来源", title="发现的问题")
            for finding in findings:
                table.add_row(finding["uuid"][:8], finding["rule_code"], finding["check_code"] or "",
                              finding["description"], "自动判定" if finding["source"] == "evaluator" else "手工")
            out.print(table)
        counts = {name: store.query_one(f"SELECT COUNT(*) FROM {table_name} WHERE {column} = ?",
                                        (inspection["uuid"],))[0]
                  for name, table_name, column in (("照片", "photos", "inspection_uuid"),
                                                   ("说明", "notes", "inspection_uuid"),
                                                   ("更正", "amendments", "inspection_uuid"))}
        penalties = store.query_one("SELECT COUNT(*) FROM penalties p JOIN findings f ON f.uuid = p.finding_uuid"
                                    " WHERE f.inspection_uuid = ?", (inspection["uuid"],))[0]
        out.print("  ".join(f"{name} {count}" for name, count in counts.items()) + f"  处罚建议 {penalties}")


# --- the record --------------------------------------------------------------------------------


def _coordinates(lat, lon) -> tuple[float | None, float | None]:
    if (lat is None) != (lon is None):
        raise Fail("--lat 和 --lon 须同时给出。")
    if lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise Fail("坐标超出范围：纬度 -90–90，经度 -180–180。")
    return lat, lon


@main.command(help="揭封任务并签到：有揭封码时离线打开（--code），否则联网向服务器领取密钥。")
@click.argument("assignment")
@click.option("--code", default=None, help="派发时告知的揭封码，如 7KQ2M-XW9PA（离线可用）。")
@click.option("--lat", type=float, default=None, help="签到纬度")
@click.option("--lon", type=float, default=None, help="签到经度")
@click.pass_context
@handled
def reveal(ctx, assignment, code, lat, lon):
    latitude, longitude = _coordinates(lat, lon)
    with open_store(ctx) as store:
        row = fieldwork.find_assignment(store, assignment)
        if fieldwork.inspection_of(store, row) is not None:
            raise Fail(f"任务 {row['id']} 已揭封签到。")
        if row["envelope"] is None:
            raise Fail(f"本机没有任务 {row['id']} 的信封；请联网运行 anfang-field pull。")
        if code is not None:
            target = sealing.open_with_code(row["envelope"], code, row["uuid"])
            how = "code"
        else:
            server_url, token = _connection(store)
            answer = request_json("POST", f"{server_url}/api/v1/assignments/{row['id']}/reveal", token=token)
            if not isinstance(answer, dict) or not isinstance(answer.get("key"), str):
                raise Fail("服务器的回答中没有密钥，未揭封。")
            target = sealing.open_with_key(row["envelope"], sealing.key_from_text(answer["key"]), row["uuid"])
            how = "online"
        fieldwork.reveal(store, row, target, how=how, latitude=latitude, longitude=longitude)
    click.echo(f"已揭封并签到。督查对象：{target.get('name')}，地址：{target.get('address')}")


def _record_context(store: Store, assignment: str, *, for_amendment: bool = False):
    row = fieldwork.find_assignment(store, assignment)
    inspection = fieldwork.open_inspection(store, row, for_amendment=for_amendment)
    target = fieldwork.target_of(row)
    rules = fieldwork.rules_for(store, target)
    return row, inspection, rules, fieldwork.venue_facts(target)


def _values_from_file(rules: list[dict], path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise Fail(f"无法读取 {path}：{error.strerror or error}") from None
    except (UnicodeDecodeError, ValueError):
        raise Fail(f"{path} 不是有效的 JSON 文件。") from None
    if not isinstance(data, dict):
        raise Fail(f"{path} 应为 {{\"检查项\": 值}} 形式的 JSON 对象。")
    items = fieldwork.items_of(rules)
    unknown = sorted(set(data) - set(items))
    if unknown:
        raise Fail(f"检查项 {'、'.join(unknown)} 不属于该场所适用的规则。")
    return {code: fieldwork.coerce_value(items[code], value) for code, value in data.items()}


def _values_interactively(rules: list[dict], recorded: dict) -> dict:
    values = {}
    for rule in rules:
        click.echo(f"【{rule['code']}】{rule.get('title', '')}")
        for item in rule.get("items", ()):
            hint = VALUE_HINTS.get(item.get("value_type"), "")
            if item.get("value_type") == "choice":
                click.echo("  可选：" + "；".join(f"{c['value']}＝{c['label']}" for c in item.get("choices") or ()))
            previous = recorded.get(item["code"])
            suffix = f"，已记录 {json.dumps(previous, ensure_ascii=False)}" if previous is not None else ""
            while True:
                text = click.prompt(f"  {item['prompt']}（{hint}{suffix}，回车跳过）", default="", show_default=False)
                if not text.strip():
                    break
                try:
                    values[item["code"]] = fieldwork.parse_value(item, text)
                    break
                except StoreError as error:
                    click.echo(f"  {error}", err=True)
    return values


def _print_results(results) -> None:
    table = Table("规则", "检查", "结果", "说明", title="规则判定")
    for rule, result in results:
        for check in result.checks:
            note = check.description
            if check.missing:
                note += "（缺：" + "、".join(name.removeprefix("obs.") for name in check.missing) + "）"
            style = OUTCOME_STYLES.get(check.outcome, "")
            table.add_row(rule["code"], check.code, f"[{style}]{OUTCOME_LABELS[check.outcome]}[/]" if style
                          else OUTCOME_LABELS[check.outcome], note)
    console().print(table)
    violated = [rule["code"] for rule, result in results if result.verdict == rulecheck.VIOLATION]
    click.echo(f"违反规则：{'、'.join(violated)}" if violated else "未发现违规。")


@main.command(help="记录检查项并按规则判定（不带参数时逐项提问）；违规的检查自动记为问题。")
@click.argument("assignment")
@click.option("--set", "pairs", multiple=True, metavar="ITEM=VALUE", help="检查项=值，可重复。")
@click.option("--file", "file_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON 文件：{\"检查项\": 值}")
@click.pass_context
@handled
def record(ctx, assignment, pairs, file_path):
    with open_store(ctx) as store:
        _row, inspection, rules, venue = _record_context(store, assignment)
        if not rules:
            raise Fail("该场所类别没有适用的规则。")
        values = _values_from_file(rules, file_path) if file_path else {}
        values.update(fieldwork.parse_assignments(rules, list(pairs)))
        if not pairs and not file_path:
            values = _values_interactively(rules, fieldwork.observations_of(store, inspection))
        results = fieldwork.record(store, inspection, rules, venue, values)
    _print_results(results)


@main.command(help="手工记录一个问题（规则未能自动判定的情形）。")
@click.argument("assignment")
@click.option("--rule", "rule_code", required=True, help="规则代码，如 K3")
@click.option("--description", required=True, help="问题描述")
@click.pass_context
@handled
def finding(ctx, assignment, rule_code, description):
    with open_store(ctx) as store:
        _, inspection, rules, _ = _record_context(store, assignment)
        finding_uuid = fieldwork.add_manual_finding(store, inspection, rules, rule_code.strip().upper(), description)
    click.echo(f"已记录问题 {finding_uuid[:8]}。")


@main.command(help="添加照片（原件逐字节保存，作为证据）。")
@click.argument("assignment")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--finding", "finding_id", default=None, help="关联的问题编号（show 中所列）")
@click.option("--caption", default=None, help="照片说明")
@click.pass_context
@handled
def photo(ctx, assignment, files, finding_id, caption):
    with open_store(ctx) as store:
        row = fieldwork.find_assignment(store, assignment)
        inspection = fieldwork.open_inspection(store, row)
        finding_uuid = fieldwork.find_finding(store, inspection, finding_id)["uuid"] if finding_id else None
        # All files are checked before any is stored, so one bad file does not leave half a batch.
        for source in files:
            if not source.is_file():
                raise Fail(f"找不到文件 {source}。")
            inspect_image(source)
        for source in files:
            stored = fieldwork.add_photo(store, inspection, source, finding_uuid=finding_uuid, caption=caption)
            click.echo(f"已保存照片 {source.name}（{stored['size']} 字节，SHA-256 {stored['sha256'][:16]}…）")


@main.command(help="提出处罚建议：警告、罚款（须金额）或责令停业整顿。")
@click.argument("assignment")
@click.option("--finding", "finding_id", required=True, help="问题编号")
@click.option("--type", "kind", required=True, type=click.Choice(sorted(fieldwork.PENALTY_TYPES)), help="处罚种类")
@click.option("--amount", type=int, default=None, help="罚款金额（元）")
@click.option("--basis", default=None, help="法律依据代码")
@click.pass_context
@handled
def penalty(ctx, assignment, finding_id, kind, amount, basis):
    with open_store(ctx) as store:
        row = fieldwork.find_assignment(store, assignment)
        inspection = fieldwork.open_inspection(store, row)
        found = fieldwork.find_finding(store, inspection, finding_id)
        fieldwork.add_penalty(store, row, found, kind, amount, basis)
    amount_text = f" {amount} 元" if amount else ""
    click.echo(f"已记录处罚建议：{fieldwork.PENALTY_TYPES[kind]}{amount_text}（问题 {found['uuid'][:8]}）。")


@main.command(help="记录正面或反面典型素材。")
@click.argument("assignment")
@click.option("--positive", default=None, help="正面典型说明")
@click.option("--negative", default=None, help="反面典型说明")
@click.pass_context
@handled
def note(ctx, assignment, positive, negative):
    if (positive is None) == (negative is None):
        raise Fail("请给出 --positive 或 --negative 之一。")
    kind, text = ("positive", positive) if positive is not None else ("negative", negative)
    with open_store(ctx) as store:
        row = fieldwork.find_assignment(store, assignment)
        inspection = fieldwork.open_inspection(store, row)
        fieldwork.add_note(store, inspection, kind, text)
    click.echo(f"已记录{fieldwork.NOTE_KINDS[kind]}素材。")


@main.command(help="提交督查记录；提交后不能再修改，只能更正（amend）。")
@click.argument("assignment")
@click.pass_context
@handled
def submit(ctx, assignment):
    with open_store(ctx) as store:
        row = fieldwork.find_assignment(store, assignment)
        inspection = fieldwork.open_inspection(store, row)
        fieldwork.submit(store, inspection)
    click.echo(f"任务 {row['id']} 的督查记录已提交，联网后同步到服务器。")


@main.command(help="更正已提交的记录（只追加，须写明原因）。")
@click.argument("assignment")
@click.option("--reason", required=True, help="更正原因")
@click.option("--set", "pairs", multiple=True, metavar="ITEM=VALUE", help="更正后的检查项=值，可重复。")
@click.option("--settles", multiple=True, metavar="OP",
              help="本次更正答复的被拒操作（anfang-field status 列出的编号），服务器接受更正后不再算未解决；可重复。")
@click.pass_context
@handled
def amend(ctx, assignment, reason, pairs, settles):
    with open_store(ctx) as store:
        _, inspection, rules, venue = _record_context(store, assignment, for_amendment=True)
        values = fieldwork.parse_assignments(rules, list(pairs))
        fieldwork.amend(store, inspection, reason, values, settles=list(settles))
        if values:
            _print_results(fieldwork.evaluate(rules, venue, {**fieldwork.observations_of(store, inspection), **values}))
    click.echo("已追加更正记录。")


# --- sync --------------------------------------------------------------------------------------


@main.command(help="同步：推送待同步的操作，上传照片（断线可续传），再下载服务器上的变化。")
@click.option("--chunk-size", type=click.IntRange(min=4096), default=None,
              help="照片上传的固定分块大小（字节）；不指定时按线路自动调整：从 256 KiB 起，顺利时加大，断线后减小。")
@click.pass_context
@handled
def sync(ctx, chunk_size):
    out = console()
    problems: list[str] = []
    with open_store(ctx) as store, syncing.exclusive(store.home):
        server_url, token = _connection(store)
        had_pending = bool(store.query_one("SELECT 1 FROM outbox WHERE state = 'pending' LIMIT 1"))

        pushed = syncing.push(store, server_url, token)
        network_down = pushed.error is not None
        if pushed.error:
            problems.append(pushed.error)

        uploaded, ready = 0, [] if network_down else syncing.photos_ready(store)
        if ready:
            client = TusClient(f"{server_url}/api/v1/uploads/", token)
            sizer = ChunkSizer(chunk_size)
            with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                          TimeRemainingColumn(), console=out) as progress:
                for photo in ready:
                    task = progress.add_task(photo["original_name"], total=photo["size"])
                    try:
                        syncing.upload_photo(store, client, photo, sizer=sizer,
                                             on_progress=lambda offset, task=task: progress.update(task,
                                                                                                  completed=offset))
                    except syncing.SyncError as error:
                        problems.append(str(error))
                        if error.network:
                            network_down = True
                            break
                    else:
                        uploaded += 1

        pulled = None
        if not network_down:
            try:
                pulled = syncing.pull(store, server_url, token)
            except ServerError as error:
                problems.append(f"下载服务器变化未完成：{error}")

        remaining = store.query_one("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")[0]
        photos_left = [photo for photo in syncing.photos_not_uploaded(store) if photo["op_state"] != "failed"]
        # Refusals still unsettled, this run's excepted (they are listed with their reasons below).
        unsettled_earlier = fieldwork.outstanding_refusals(store) - len(pushed.failed)

    if not had_pending and not ready and not problems and pulled is not None and pulled.changes == 0 \
            and not photos_left:
        out.print("没有需要同步的内容：本机没有待推送的操作和待上传的照片，服务器也没有新的变化；本机数据未作任何更改。")
        if unsettled_earlier:
            raise Fail(f"另有 {unsettled_earlier} 项操作此前被服务器拒绝，尚未解决。{HOW_TO_SETTLE}")
        return

    out.print(f"推送操作：成功 {pushed.done} 项，失败 {len(pushed.failed)} 项。")
    for failure in pushed.failed:
        out.print(f"  被拒绝：{failure['entity']} {failure['op_id'][:8]}：{failure['reason']}", markup=False)
    out.print(f"上传照片：{uploaded} 张。" + (f"另有 {pushed.photos_held} 张服务器已有，未重复上传。"
                                          if pushed.photos_held else ""))
    if pulled is not None:
        out.print(f"下载变化：{pulled.changes} 项。")
    if pushed.skew_flagged:
        minutes = abs(pushed.skew_seconds or 0) / 60
        out.print(f"警告：本机时钟与服务器相差约 {minutes:.0f} 分钟（服务器时间 {pushed.server_time or '未知'}），"
                  "请校正设备时间；记录的先后以服务器的顺序为准。", style="bold yellow", markup=False)

    left = []
    if pushed.failed:
        left.append(f"{len(pushed.failed)} 项操作被服务器拒绝")
    if unsettled_earlier:
        left.append(f"另有 {unsettled_earlier} 项此前被拒绝的操作尚未解决")
    if remaining:
        left.append(f"{remaining} 项操作仍待同步")
    if photos_left:
        left.append(f"{len(photos_left)} 张照片尚未上传")
    if left or problems:
        reasons = "；".join(dict.fromkeys(problems))
        settle = HOW_TO_SETTLE if pushed.failed or unsettled_earlier else ""
        raise Fail(f"同步未全部完成：{'，'.join(left) or '部分步骤失败'}。" + (f"原因：{reasons}" if reasons else "")
                   + settle + "（anfang-field status 查看详情，稍后再运行 anfang-field sync）")
    out.print("同步完成。")


@main.command(help="查看待同步的操作、失败原因、未上传的照片和残留的照片文件。")
@click.option("--clean", is_flag=True, help="删除残留的照片文件（中断的 photo 命令留下的）。")
@click.pass_context
@handled
def status(ctx, clean):
    out = console()
    with open_store(ctx) as store:
        operations = fieldwork.pending_operations(store)
        waiting = syncing.photos_not_uploaded(store)
        leftovers = fieldwork.orphans(store)
    pending, failed = operations["pending"], operations["failed"]
    out.print(f"待同步操作：{len(pending)} 项；被拒绝未解决：{len(failed)} 项。")
    if pending:
        counts: dict[str, int] = {}
        for operation in pending:
            counts[operation["entity"]] = counts.get(operation["entity"], 0) + 1
        table = Table("类型", "数量", title="待同步")
        for entity, count in counts.items():
            table.add_row(entity, str(count))
        out.print(table)
    if failed:
        table = Table("操作", "类型", "原因", title="同步失败")
        for operation in failed:
            table.add_row(operation["op_id"][:8], operation["entity"], escape(operation["last_error"] or ""))
        out.print(table)
        out.print(HOW_TO_SETTLE, markup=False)
    if waiting:
        table = Table("照片", "大小", "已上传", "情况", title=f"未上传的照片：{len(waiting)} 张")
        for photo in waiting:
            if photo["op_state"] == "failed":
                state = f"记录被服务器拒绝：{photo['op_error'] or ''}"
            elif photo["op_state"] != "done":
                state = "等待照片记录先同步"
            else:
                state = photo["upload_error"] or ("上传中断，下次同步时续传" if photo["upload_url"] else "待上传")
            table.add_row(escape(photo["original_name"]), str(photo["size"]), f"{photo['upload_offset']}", escape(state))
        out.print(table)
    if leftovers:
        if clean:
            for path in leftovers:
                path.unlink(missing_ok=True)
            out.print(f"已删除 {len(leftovers)} 个残留照片文件。")
        else:
            out.print(f"残留照片文件 {len(leftovers)} 个（未登记的中断拷贝，可用 status --clean 删除）：")
            for path in leftovers:
                out.print(f"  {path.name}")
