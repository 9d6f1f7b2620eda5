"""`anfang-field`: the inspector's offline command line.

Only `login`, `pull`, `reveal` without `--code` and `sync` use the network; everything else works on the
local store alone. Bad input ends with one Chinese line on stderr and exit status 1, never a
traceback.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import socket
import sys
from pathlib import Path

import click
from rich.table import Table

from . import fieldwork
from . import sync as syncing
from .command_line import Fail, FieldGroup, console, handled, local_text, open_store, server_connection
from .http import normalise_server_url, request_json
from .record_commands import amend, finding, note, penalty, photo, record, reveal, sign, submit
from .store import canonical_json, resolve_home
from .sync_commands import status, sync

SERVER_INSPECTION_LABELS = {"draft": "已收到，记录中", "awaiting_evidence": "已提交，等待照片",
                            "complete": "已完整接收"}


@click.group(cls=FieldGroup, help="anfang 现场督查客户端（离线记录，联网后同步）。")
@click.version_option(package_name="anfang", message="anfang-field %(version)s")
@click.option("--home", type=click.Path(path_type=Path), envvar="ANFANG_FIELD_HOME",
              help="本地数据目录（默认 ~/.local/share/anfang-field，也可用环境变量 ANFANG_FIELD_HOME）。")
@click.pass_context
def main(ctx, home):
    ctx.obj = {"home": resolve_home(home)}


for command in (reveal, record, finding, photo, penalty, note, sign, submit, amend, sync, status):
    main.add_command(command)


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


@main.command(help="下载本组的督查任务（已派发的含密封信封）和检查规则，供离线使用。")
@click.pass_context
@handled
def pull(ctx):
    with open_store(ctx) as store:
        server_url, token = server_connection(store)
        # Both answers are fetched and checked before anything is written: all or nothing.
        assignments = _checked_assignments(request_json("GET", f"{server_url}/api/v1/assignments", token=token))
        rules = _checked_rules(request_json("GET", f"{server_url}/api/v1/reference/rules", token=token))
        version = hashlib.sha256(canonical_json(rules)).hexdigest()[:16]
        count = fieldwork.store_pull(store, assignments, rules, version)
        # Then the server's changes, as the phone app does: the statuses since, and the offline
        # reveal clock tolerance the reveal needs.
        syncing.pull(store, server_url, token)
        sealed = sum(1 for data in assignments if data["status"] == "sealed")
    click.echo(f"已下载 {count} 项任务、{len(rules)} 条规则（规则版本 {version}）。"
               + (f"其中 {sealed} 项尚未派发，派发后再次下载才有信封。" if sealed else ""))


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
    table = Table("编号", "任务号", "状态", "日期", "时间窗口（北京时间）", "集合地点", "本机记录")
    for row in rows:
        local = {"draft": "已签到，记录中", "submitted": "已提交"}.get(row["inspection_status"], "未揭封")
        window = f"{local_text(row['window_start'])} – {local_text(row['window_end'])}"
        table.add_row(str(row["id"]), row["uuid"][:8], row["status_label"] or row["status"], row["visit_date"] or "",
                      window, row["meeting_point"] or "", local)
    console().print(table)


def _print_penalties_and_notes(out, store, inspection) -> None:
    """Proposed penalties and notes with their numbers (what amend --withdraw-… takes); withdrawn
    ones stay listed, marked, as the record keeps them."""
    penalties = store.query("SELECT p.* FROM penalties p JOIN findings f ON f.uuid = p.finding_uuid"
                            " WHERE f.inspection_uuid = ? ORDER BY p.created_at, p.rowid", (inspection["uuid"],))
    if penalties:
        table = Table("编号", "问题", "处罚建议", "法律依据", "状态", title="处罚建议")
        for row in penalties:
            what = fieldwork.PENALTY_TYPES.get(row["type"], row["type"])
            what += f" {row['amount']} 元" if row["amount"] else ""
            table.add_row(row["uuid"][:8], row["finding_uuid"][:8], what, row["basis_code"] or "", _state(row))
        out.print(table)
    notes = store.query("SELECT * FROM notes WHERE inspection_uuid = ? ORDER BY created_at, rowid",
                        (inspection["uuid"],))
    if notes:
        table = Table("编号", "类型", "内容", "状态", title="典型材料")
        for row in notes:
            table.add_row(row["uuid"][:8], fieldwork.NOTE_KINDS.get(row["kind"], row["kind"]), row["text"], _state(row))
        out.print(table)


def _state(row) -> str:
    if row["withdrawn_at"]:
        return "已撤回（更正）"
    return "有效（更正补充）" if row["amendment_uuid"] else "有效"


@main.command(help="查看一项任务：时间窗口、集合地点、组员；揭封后显示督查对象和记录。")
@click.argument("assignment")
@click.pass_context
@handled
def show(ctx, assignment):
    out = console()
    with open_store(ctx) as store:
        row = fieldwork.find_assignment(store, assignment)
        out.print(f"任务 {row['id']}（{row['uuid']}） 状态：{row['status_label'] or row['status']}")
        out.print(f"时间窗口：{local_text(row['window_start'])} – {local_text(row['window_end'])}（北京时间）")
        out.print(f"集合地点：{row['meeting_point'] or '未指定'}")
        members = json.loads(row["members"])
        names = "、".join(f"{m.get('display_name')}（{m.get('username')}）" + ("·组长" if m.get("is_leader") else "")
                         for m in members)
        out.print(f"组员：{names or '无'}")
        target = fieldwork.target_of(row)
        if target is None:
            out.print("督查对象：尚未派发（派发后联网运行 anfang-field pull 下载信封）" if row["status"] == "sealed"
                      else "督查对象：未揭封（anfang-field reveal 揭封后显示）")
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
        out.print(f"签到：{local_text(inspection['checked_in_at'])}（北京时间）  记录状态：{status}"
                  + (f"  服务器：{server_status}" if server_status else ""))
        # The record as it stands corrected: amendments laid over what was recorded.
        for name, item in fieldwork.corrected_observations(store, inspection).items():
            text = f"  {name} = {json.dumps(item['value'], ensure_ascii=False)}"
            if item["corrected"]:
                text += ("（已更正，原记录 " + json.dumps(item["recorded"], ensure_ascii=False) + "）"
                         if item["recorded"] is not None else "（更正补充）")
            out.print(text, markup=False)
        findings = store.query("SELECT * FROM findings WHERE inspection_uuid = ? AND withdrawn_at IS NULL"
                               " ORDER BY created_at", (inspection["uuid"],))
        if findings:
            table = Table("问题编号", "规则", "描述", "来源", title="发现的问题")
            for finding in findings:
                source = "自动判定" if finding["source"] == "evaluator" else "手工"
                table.add_row(finding["uuid"][:8], finding["rule_code"], finding["description"],
                              source + ("（更正补充）" if finding["amendment_uuid"] else ""))
            out.print(table)
        _print_penalties_and_notes(out, store, inspection)
        counts = {name: store.query_one(f"SELECT COUNT(*) FROM {table_name} WHERE {column} = ?",
                                        (inspection["uuid"],))[0]
                  for name, table_name, column in (("照片", "photos", "inspection_uuid"),
                                                   ("说明", "notes", "inspection_uuid"),
                                                   ("更正", "amendments", "inspection_uuid"))}
        penalties = store.query_one("SELECT COUNT(*) FROM penalties p JOIN findings f ON f.uuid = p.finding_uuid"
                                    " WHERE f.inspection_uuid = ? AND p.withdrawn_at IS NULL", (inspection["uuid"],))[0]
        out.print("  ".join(f"{name} {count}" for name, count in counts.items()) + f"  处罚建议 {penalties}")
        signatures = fieldwork.signatures_of(store, inspection)
        if signatures:
            out.print("现场签字：")
            for signature in signatures:
                # One line each, not a table: a witness note is read in full, never cut to a column.
                who = f"{fieldwork.SIGNATURE_ROLES.get(signature['role'], signature['role'])} {signature['signer_name']}"
                when = local_text(signature["signed_at"])
                out.print(f"  {who}：拒绝签字（{when}），见证情况：{signature['witness_note']}" if signature["refused"]
                          else f"  {who}：已签字（{when}）", markup=False)
        else:
            out.print("现场签字：无（anfang-field sign 记录签字或拒绝签字）")
