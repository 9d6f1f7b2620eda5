"""`anfang-field` commands that write the record: reveal and check in, checklist values with
their verdicts, findings, photos, proposed penalties, notes, submission and amendments. They
work on the local store alone (an online reveal excepted)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.table import Table

import rulecheck
import sealing

from . import fieldwork, reveal_window
from .command_line import Fail, console, handled, local_text, open_store, server_connection
from .http import request_json
from .photos import inspect_image
from .store import Store, StoreError

OUTCOME_LABELS = {rulecheck.COMPLIANT: "符合", rulecheck.VIOLATION: "违规", rulecheck.NOT_APPLICABLE: "不适用",
                  rulecheck.INCOMPLETE: "未填完"}
OUTCOME_STYLES = {rulecheck.VIOLATION: "bold red", rulecheck.COMPLIANT: "green", rulecheck.INCOMPLETE: "yellow"}
VALUE_HINTS = {"boolean": "是/否", "integer": "整数", "choice": "选项", "text": "文字"}


def _coordinates(lat, lon) -> tuple[float | None, float | None]:
    if (lat is None) != (lon is None):
        raise Fail("--lat 和 --lon 须同时给出。")
    if lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise Fail("坐标超出范围：纬度 -90–90，经度 -180–180。")
    return lat, lon


@click.command(help="揭封任务并签到：有揭封码时离线打开（--code），否则联网向服务器领取密钥。")
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
        if code is not None:
            _check_offline_reveal(store, row)
        if row["envelope"] is None:
            raise Fail(f"本机没有任务 {row['id']} 的信封；请联网运行 anfang-field pull。")
        if code is not None:
            target = sealing.open_with_code(row["envelope"], code, row["uuid"])
            how = "code"
        else:
            server_url, token = server_connection(store)
            answer = request_json("POST", f"{server_url}/api/v1/assignments/{row['id']}/reveal", token=token)
            if not isinstance(answer, dict) or not isinstance(answer.get("key"), str):
                raise Fail("服务器的回答中没有密钥，未揭封。")
            target = sealing.open_with_key(row["envelope"], sealing.key_from_text(answer["key"]), row["uuid"])
            how = "online"
        fieldwork.reveal(store, row, target, how=how, latitude=latitude, longitude=longitude)
    click.echo(f"已揭封并签到。督查对象：{target.get('name')}，地址：{target.get('address')}")


def _check_offline_reveal(store: Store, row) -> None:
    """Refuse an offline reveal the server would flag: before dispatch, after cancellation or
    expiry, or outside the window (by this device's clock, with the server's tolerance)."""
    refusal = reveal_window.offline_reveal_refusal(store, row, datetime.now(UTC))
    if refusal is None:
        return
    reason, start, end = refusal
    if reason == "sealed":
        raise Fail(f"任务 {row['id']} 尚未派发，不能揭封；派发后请联网运行 anfang-field pull 下载信封。")
    if reason == "dropped":
        raise Fail(f"任务 {row['id']} {row['status_label'] or row['status']}，不能揭封。")
    when = "尚未开始" if reason == "before" else "已结束"
    raise Fail(f"任务 {row['id']} 的时间窗口{when}，不能离线揭封：时间窗口为 {local_text(start.isoformat())} 至 "
               f"{local_text(end.isoformat())}（北京时间），本机时间 {local_text(datetime.now(UTC).isoformat())}。")


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
    # The check's description says what was checked; its code is internal.
    table = Table("规则", "检查项", "结果", title="规则判定")
    for rule, result in results:
        for check in result.checks:
            note = check.description
            if check.missing:
                note += "（缺：" + "、".join(name.removeprefix("obs.") for name in check.missing) + "）"
            style = OUTCOME_STYLES.get(check.outcome, "")
            table.add_row(rule["code"], note, f"[{style}]{OUTCOME_LABELS[check.outcome]}[/]" if style
                          else OUTCOME_LABELS[check.outcome])
    console().print(table)
    violated = [rule["code"] for rule, result in results if result.verdict == rulecheck.VIOLATION]
    click.echo(f"违反规则：{'、'.join(violated)}" if violated else "未发现违规。")


@click.command(help="记录检查项并按规则判定（不带参数时逐项提问）；违规的检查自动记为问题。")
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


@click.command(help="手工记录一个问题（规则未能自动判定的情形）。")
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


@click.command(help="添加照片（原件逐字节保存，作为证据）。")
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


@click.command(help="提出处罚建议：警告、罚款（须金额）或责令停业整顿。")
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


@click.command(help="记录正面或反面典型素材。")
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


@click.command(help="现场签字：督查人员或被检查场所负责人阅读记录后签字（--png 签名图片），"
                    "或拒绝签字并写明见证情况（--refused --witness）。须在提交前完成。")
@click.argument("assignment")
@click.option("--role", required=True, type=click.Choice(sorted(fieldwork.SIGNATURE_ROLES)),
              help="inspector＝督查人员，venue_person＝被检查场所负责人")
@click.option("--name", required=True, help="签字人姓名（按本人书写）")
@click.option("--png", "png_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="签名图片（PNG，不超过 256 KiB）")
@click.option("--refused", is_flag=True, help="拒绝签字（须同时用 --witness 写明见证情况）")
@click.option("--witness", default=None, help="拒绝签字时的见证情况，如见证人和经过")
@click.pass_context
@handled
def sign(ctx, assignment, role, name, png_path, refused, witness):
    if (png_path is None) == (not refused):
        raise Fail("请给出 --png 签名图片，或 --refused 表示拒绝签字（二者取一）。")
    if refused and not (witness or "").strip():
        raise Fail("拒绝签字须用 --witness 写明见证情况。")
    png = None
    if png_path is not None:
        try:
            png = png_path.read_bytes()
        except OSError as error:
            raise Fail(f"无法读取 {png_path}：{error.strerror or error}") from None
    with open_store(ctx) as store:
        row = fieldwork.find_assignment(store, assignment)
        inspection = fieldwork.open_inspection(store, row)
        fieldwork.add_signature(store, inspection, role, name, png=png, witness_note=witness if refused else None)
    label = fieldwork.SIGNATURE_ROLES[role]
    click.echo(f"已记录{label}{name.strip()}拒绝签字及见证情况。" if refused else f"已记录{label}{name.strip()}的签字。")


@click.command(help="提交督查记录；提交后不能再修改，只能更正（amend）。")
@click.argument("assignment")
@click.pass_context
@handled
def submit(ctx, assignment):
    with open_store(ctx) as store:
        row = fieldwork.find_assignment(store, assignment)
        inspection = fieldwork.open_inspection(store, row)
        fieldwork.submit(store, inspection)
    click.echo(f"任务 {row['id']} 的督查记录已提交，联网后同步到服务器。")


@click.command(help="更正已提交的记录（只追加，须写明原因）：更正检查项，补充或撤回问题、处罚建议、典型材料。"
                    "撤回的记录仍保留，标明由哪次更正撤回。编号见 anfang-field show。")
@click.argument("assignment")
@click.option("--reason", required=True, help="更正原因")
@click.option("--set", "pairs", multiple=True, metavar="ITEM=VALUE", help="更正后的检查项=值，可重复。")
@click.option("--add-finding", "add_findings", multiple=True, metavar="规则:描述",
              help="补充一个问题，如 --add-finding \"K3:入口未限流\"；可重复。")
@click.option("--withdraw-finding", "withdraw_findings", multiple=True, metavar="问题编号",
              help="撤回一个问题（其处罚建议一并撤回）；可重复。")
@click.option("--add-penalty", "add_penalties", multiple=True, metavar="问题编号:种类[:金额[:法律依据]]",
              help="补充处罚建议。种类：warning（警告）、fine（罚款，须金额，单位元）、suspend（责令停业整顿）。"
                   "如 1a2b3c4d:fine:5000:B01、1a2b3c4d:warning；可重复。")
@click.option("--withdraw-penalty", "withdraw_penalties", multiple=True, metavar="处罚建议编号",
              help="撤回一项处罚建议；可重复。")
@click.option("--add-note", "add_notes", multiple=True, metavar="positive|negative:文字",
              help="补充典型材料：positive（正面典型）或 negative（反面典型），如 negative:出口人员聚集；可重复。")
@click.option("--withdraw-note", "withdraw_notes", multiple=True, metavar="典型材料编号",
              help="撤回一条典型材料；可重复。")
@click.option("--settles", multiple=True, metavar="OP",
              help="本次更正答复的被拒操作（anfang-field status 列出的编号），服务器接受更正后不再算未解决；可重复。")
@click.pass_context
@handled
def amend(ctx, assignment, reason, pairs, add_findings, withdraw_findings, add_penalties, withdraw_penalties,
          add_notes, withdraw_notes, settles):
    with open_store(ctx) as store:
        row, inspection, rules, venue = _record_context(store, assignment, for_amendment=True)
        values = fieldwork.parse_assignments(rules, list(pairs))
        changes = fieldwork.amendment_changes(
            store, row, inspection, rules, add_findings=add_findings, withdraw_findings=withdraw_findings,
            add_penalties=add_penalties, withdraw_penalties=withdraw_penalties, add_notes=add_notes,
            withdraw_notes=withdraw_notes)
        fieldwork.amend(store, inspection, reason, values, settles=list(settles), changes=changes)
        if values:
            corrected = fieldwork.corrected_observations(store, inspection)
            corrected = {code: item["value"] for code, item in corrected.items()}
            _print_results(fieldwork.evaluate(rules, venue, corrected))
    for part, label in (("findings_added", "补充问题"), ("penalties_added", "补充处罚建议"), ("notes_added", "补充典型材料")):
        for added in changes.get(part, ()):
            click.echo(f"{label} {added['uuid'][:8]}。")
    withdrawn = sum(len(changes.get(part, ()))
                    for part in ("findings_withdrawn", "penalties_withdrawn", "notes_withdrawn"))
    if withdrawn:
        click.echo(f"撤回 {withdrawn} 项记录（仍保留，标明由本次更正撤回）。")
    click.echo("已追加更正记录。")
