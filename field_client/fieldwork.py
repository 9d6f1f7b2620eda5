"""What an inspector does with an assignment, as verbs over the local store (no network here).

Each verb writes its rows and their outbox operations in one transaction. The commands in
`cli.py` parse, call these and print; every message meant for the inspector is Chinese.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from pathlib import Path

import rulecheck

from . import photos as photo_files
from .store import DROPPED_ENVELOPE_STATUSES, Store, StoreError, new_uuid, now_utc

PENALTY_TYPES = {"warning": "警告", "fine": "罚款", "suspend": "责令停业整顿"}
NOTE_KINDS = {"positive": "正面典型", "negative": "反面典型"}
SIGNATURE_ROLES = {"inspector": "督查人员", "venue_person": "被检查场所负责人"}
SIGNATURE_PNG_MAX = 256 * 1024  # the server refuses a larger signature image
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TRUE = {"是", "有", "y", "yes", "true", "1", "t", "对"}
_FALSE = {"否", "无", "没有", "n", "no", "false", "0", "f", "不"}


# --- lookups -----------------------------------------------------------------------------------


def find_assignment(store: Store, ident: str) -> sqlite3.Row:
    """An assignment by server id or by a unique prefix of its uuid."""
    ident = ident.strip()
    if ident.isdigit():
        row = store.query_one("SELECT * FROM assignments WHERE id = ?", (int(ident),))
        if row is not None:
            return row
    rows = store.query("SELECT * FROM assignments WHERE uuid LIKE ? ESCAPE '\\'",
                       (ident.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",))
    if len(rows) > 1:
        raise StoreError(f"编号前缀 {ident} 对应多项任务，请多输入几位。")
    if not rows or not ident:
        raise StoreError(f"本机没有任务 {ident}；请先运行 anfang-field pull，或用 anfang-field list 查看。")
    return rows[0]


def target_of(assignment: sqlite3.Row) -> dict | None:
    return json.loads(assignment["target"]) if assignment["target"] else None


def inspection_of(store: Store, assignment: sqlite3.Row) -> sqlite3.Row | None:
    return store.query_one("SELECT * FROM inspections WHERE assignment_uuid = ?", (assignment["uuid"],))


def open_inspection(store: Store, assignment: sqlite3.Row, *, for_amendment: bool = False) -> sqlite3.Row:
    """The assignment's inspection, refusing changes once it is submitted (or amendments before)."""
    inspection = inspection_of(store, assignment)
    if inspection is None:
        raise StoreError(f"任务 {assignment['id']} 尚未揭封签到；请先运行 anfang-field reveal {assignment['id']}。")
    if for_amendment and inspection["status"] != "submitted":
        raise StoreError("该督查记录尚未提交，可直接修改（record、photo、penalty、note），无需更正。")
    if not for_amendment and inspection["status"] == "submitted":
        raise StoreError(f"该督查记录已提交，不能再修改；如需更正，请用 anfang-field amend {assignment['id']} --reason 原因。")
    return inspection


def venue_facts(target: dict) -> dict:
    """The `venue.*` facts, as the server's `venue_facts` gives them, from the revealed target."""
    return {"category": target.get("category_code"), "county": target.get("county_code"),
            "approved_capacity": target.get("approved_capacity")}


def rules_for(store: Store, target: dict) -> list[dict]:
    """The pulled rules that apply to the target's venue category, in the server's order."""
    row = store.query_one("SELECT bundle FROM rules WHERE id = 1")
    if row is None:
        raise StoreError("本机还没有规则数据；请先联网运行 anfang-field pull。")
    category = target.get("category_code")
    return [rule for rule in json.loads(row["bundle"]) if category in (rule.get("categories") or ())]


def find_finding(store: Store, inspection: sqlite3.Row, ident: str) -> sqlite3.Row:
    rows = store.query("SELECT * FROM findings WHERE inspection_uuid = ? AND withdrawn_at IS NULL AND uuid LIKE ?",
                       (inspection["uuid"], ident.strip().lower() + "%"))
    if len(rows) != 1 or not ident.strip():
        problem = "对应多条问题" if rows and ident.strip() else "不存在"
        raise StoreError(f"问题编号 {ident} {problem}；用 anfang-field show 查看本任务的问题编号。")
    return rows[0]


# --- values ------------------------------------------------------------------------------------


def parse_value(item: dict, text: str):
    """A typed observation value from what the inspector typed; StoreError with the expected form."""
    text = text.strip()
    kind = item.get("value_type")
    if kind == "boolean":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise StoreError(f"{item['code']}（{item['prompt']}）应填 是 或 否，收到“{text}”。")
    if kind == "integer":
        try:
            value = int(text)
        except ValueError:
            raise StoreError(f"{item['code']}（{item['prompt']}）应填整数，收到“{text}”。") from None
        if value < 0:
            raise StoreError(f"{item['code']}（{item['prompt']}）不能为负数。")
        return value
    if kind == "choice":
        for choice in item.get("choices") or ():
            if text in (choice["value"], choice["label"]):
                return choice["value"]
        options = "、".join(choice["value"] for choice in item.get("choices") or ())
        raise StoreError(f"{item['code']}（{item['prompt']}）应为以下之一：{options}，收到“{text}”。")
    if not text:
        raise StoreError(f"{item['code']}（{item['prompt']}）不能为空。")
    return text


def coerce_value(item: dict, value):
    """A value from an observations file: JSON types taken as they are, text parsed as typed."""
    kind = item.get("value_type")
    if isinstance(value, bool) and kind == "boolean":
        return value
    if isinstance(value, int) and not isinstance(value, bool) and kind in ("integer", "choice", "text"):
        return parse_value(item, str(value))
    if isinstance(value, str):
        return parse_value(item, value)
    raise StoreError(f"{item['code']}（{item['prompt']}）的值类型不正确。")


def items_of(rules: list[dict]) -> dict[str, dict]:
    return {item["code"]: item for rule in rules for item in rule.get("items", ())}


def parse_assignments(rules: list[dict], pairs: list[str]) -> dict:
    """`ITEM=VALUE` pairs checked against the venue's checklist items."""
    items = items_of(rules)
    values = {}
    for pair in pairs:
        code, sep, text = pair.partition("=")
        code = code.strip()
        if not sep or not code:
            raise StoreError(f"--set 应写成 检查项=值，收到“{pair}”。")
        if code not in items:
            raise StoreError(f"检查项 {code} 不属于该场所适用的规则；可选：{'、'.join(items) or '无'}。")
        values[code] = parse_value(items[code], text)
    return values


# --- evaluation --------------------------------------------------------------------------------


def evaluate(rules: list[dict], venue: dict, observations: dict) -> list[tuple[dict, rulecheck.RuleResult]]:
    """Each rule with its verdict: the same evaluator and rule data as the server."""
    results = []
    for rule in rules:
        own = {code: observations[code] for code in (item["code"] for item in rule.get("items", ()))
               if code in observations}
        results.append((rule, rulecheck.evaluate_rule(rule, venue=venue, observations=own)))
    return results


def observations_of(store: Store, inspection: sqlite3.Row) -> dict:
    return {row["item_code"]: json.loads(row["value"])
            for row in store.query("SELECT item_code, value FROM observations WHERE inspection_uuid = ?",
                                   (inspection["uuid"],))}


# --- verbs -------------------------------------------------------------------------------------


def store_pull(store: Store, assignments: list[dict], rules: list[dict], rules_version: str) -> int:
    """Keep what the server sent; local reveals and targets are never overwritten by a pull."""
    pulled_at = now_utc()
    with store.change() as tx:
        for data in assignments:
            envelope = data.get("envelope")
            dropped = data["status"] in DROPPED_ENVELOPE_STATUSES
            tx.execute(
                """INSERT INTO assignments (id, uuid, draw_id, position, status, status_label, visit_date,
                       window_start, window_end, meeting_point, may_propose_penalties, members, envelope, pulled_at)
                   VALUES (:id, :uuid, :draw_id, :position, :status, :status_label, :visit_date, :window_start,
                       :window_end, :meeting_point, :may_propose_penalties, :members, :envelope, :pulled_at)
                   ON CONFLICT (id) DO UPDATE SET status = excluded.status, status_label = excluded.status_label,
                       visit_date = excluded.visit_date, window_start = excluded.window_start,
                       window_end = excluded.window_end, meeting_point = excluded.meeting_point,
                       may_propose_penalties = excluded.may_propose_penalties, members = excluded.members,
                       envelope = CASE WHEN :dropped THEN NULL
                                       ELSE COALESCE(excluded.envelope, assignments.envelope) END,
                       pulled_at = excluded.pulled_at""",
                {"id": data["id"], "uuid": data["uuid"], "draw_id": data.get("draw_id"),
                 "position": data.get("position"), "status": data["status"],
                 "status_label": data.get("status_label"), "visit_date": data.get("visit_date"),
                 "window_start": data.get("window_start"), "window_end": data.get("window_end"),
                 "meeting_point": data.get("meeting_point"),
                 "may_propose_penalties": bool(data.get("may_propose_penalties")),
                 "members": json.dumps(data.get("members") or [], ensure_ascii=False),
                 "envelope": None if dropped else envelope, "dropped": dropped, "pulled_at": pulled_at},
            )
        tx.execute("INSERT INTO rules (id, version, bundle, pulled_at) VALUES (1, ?, ?, ?)"
                   " ON CONFLICT (id) DO UPDATE SET version = excluded.version, bundle = excluded.bundle,"
                   " pulled_at = excluded.pulled_at",
                   (rules_version, json.dumps(rules, ensure_ascii=False, sort_keys=True), pulled_at))
    return len(assignments)


def reveal(store: Store, assignment: sqlite3.Row, target: dict, *, how: str, latitude: float | None,
           longitude: float | None) -> str:
    """Keep the opened target and check in: the inspection starts now, here."""
    if inspection_of(store, assignment) is not None:
        raise StoreError(f"任务 {assignment['id']} 已揭封签到。")
    moment = now_utc()
    inspection_uuid = new_uuid()
    with store.change() as tx:
        tx.execute("UPDATE assignments SET target = ?, revealed_at = ?, revealed_how = ? WHERE uuid = ?",
                   (json.dumps(target, ensure_ascii=False, sort_keys=True), moment, how, assignment["uuid"]))
        tx.enqueue("assignment_reveal", assignment["uuid"],
                   {"assignment_uuid": assignment["uuid"], "how": how, "revealed_at": moment, "device_time": moment})
        tx.insert("inspections",
                  {"uuid": inspection_uuid, "assignment_uuid": assignment["uuid"], "checked_in_at": moment,
                   "latitude": latitude, "longitude": longitude, "device_time": moment, "status": "draft"},
                  entity="inspection", entity_id=inspection_uuid)
    return inspection_uuid


def record(store: Store, inspection: sqlite3.Row, rules: list[dict], venue: dict, values: dict):
    """Store observations, evaluate, and keep the violated checks as findings (evaluator-made).

    Findings of checks that are no longer violated after a correction are withdrawn, not deleted:
    the server may already hold them.
    """
    moment = now_utc()
    observations = {**observations_of(store, inspection), **values}
    results = evaluate(rules, venue, observations)
    violated = {(rule["code"], check.code): check.description
                for rule, result in results for check in result.checks if check.outcome == rulecheck.VIOLATION}
    existing = {(row["rule_code"], row["check_code"]): row["uuid"]
                for row in store.query("SELECT * FROM findings WHERE inspection_uuid = ? AND source = 'evaluator'"
                                       " AND withdrawn_at IS NULL", (inspection["uuid"],))}
    with store.change() as tx:
        for code, value in values.items():
            entity_id = f"{inspection['uuid']}/{code}"
            tx.execute("INSERT INTO observations (inspection_uuid, item_code, value, recorded_at) VALUES (?, ?, ?, ?)"
                       " ON CONFLICT (inspection_uuid, item_code) DO UPDATE SET value = excluded.value,"
                       " recorded_at = excluded.recorded_at",
                       (inspection["uuid"], code, json.dumps(value, ensure_ascii=False), moment))
            tx.enqueue("observation", entity_id, {"inspection_uuid": inspection["uuid"], "item_code": code,
                                                  "value": value, "recorded_at": moment})
        for (rule_code, check_code), description in violated.items():
            if (rule_code, check_code) in existing:
                continue
            finding_uuid = new_uuid()
            tx.insert("findings", {"uuid": finding_uuid, "inspection_uuid": inspection["uuid"], "rule_code": rule_code,
                                   "check_code": check_code, "description": description, "source": "evaluator",
                                   "created_at": moment},
                      entity="finding", entity_id=finding_uuid)
        for key, finding_uuid in existing.items():
            if key not in violated:
                tx.execute("UPDATE findings SET withdrawn_at = ? WHERE uuid = ?", (moment, finding_uuid))
                tx.enqueue("finding_withdrawal", finding_uuid, {"finding_uuid": finding_uuid, "withdrawn_at": moment})
    return results


def add_manual_finding(store: Store, inspection: sqlite3.Row, rules: list[dict], rule_code: str,
                       description: str) -> str:
    if rule_code not in {rule["code"] for rule in rules}:
        raise StoreError(f"规则 {rule_code} 不适用于该场所；可选：{'、'.join(rule['code'] for rule in rules) or '无'}。")
    if not description.strip():
        raise StoreError("问题描述不能为空。")
    finding_uuid = new_uuid()
    with store.change() as tx:
        tx.insert("findings", {"uuid": finding_uuid, "inspection_uuid": inspection["uuid"], "rule_code": rule_code,
                               "check_code": None, "description": description.strip(), "source": "manual",
                               "created_at": now_utc()},
                  entity="finding", entity_id=finding_uuid)
    return finding_uuid


def add_photo(store: Store, inspection: sqlite3.Row, source: Path, *, finding_uuid: str | None,
              caption: str | None) -> sqlite3.Row:
    """Copy one photo durably into the store, then add its row and operation in one transaction."""
    if not source.is_file():
        raise StoreError(f"找不到文件 {source}。")
    extension, media_type, facts = photo_files.inspect_image(source)
    sha256, size, filename = photo_files.copy_into_store(source, store.photos_dir, extension)
    photo_uuid = new_uuid()
    row = {"uuid": photo_uuid, "inspection_uuid": inspection["uuid"], "finding_uuid": finding_uuid,
           "sha256": sha256, "size": size, "filename": filename, "original_name": source.name,
           "media_type": media_type, "caption": caption, **facts, "created_at": now_utc()}
    with store.change() as tx:
        tx.insert("photos", row, entity="photo", entity_id=photo_uuid)
    return store.query_one("SELECT * FROM photos WHERE uuid = ?", (photo_uuid,))


def add_penalty(store: Store, assignment: sqlite3.Row, finding: sqlite3.Row, kind: str, amount: int | None,
                basis: str | None) -> str:
    if not assignment["may_propose_penalties"]:
        raise StoreError("该任务不允许提出处罚建议（组内无持执法证人员）。")
    if kind == "fine" and (amount is None or amount <= 0):
        raise StoreError("罚款须用 --amount 给出大于 0 的金额（元）。")
    if kind != "fine" and amount is not None:
        raise StoreError(f"{PENALTY_TYPES[kind]}不需要金额，请去掉 --amount。")
    penalty_uuid = new_uuid()
    with store.change() as tx:
        tx.insert("penalties", {"uuid": penalty_uuid, "finding_uuid": finding["uuid"], "type": kind, "amount": amount,
                                "basis_code": basis.strip() if basis else None, "created_at": now_utc()},
                  entity="penalty", entity_id=penalty_uuid)
    return penalty_uuid


def add_note(store: Store, inspection: sqlite3.Row, kind: str, text: str) -> str:
    if not text.strip():
        raise StoreError("说明文字不能为空。")
    note_uuid = new_uuid()
    with store.change() as tx:
        tx.insert("notes", {"uuid": note_uuid, "inspection_uuid": inspection["uuid"], "kind": kind,
                            "text": text.strip(), "created_at": now_utc()},
                  entity="note", entity_id=note_uuid)
    return note_uuid


def add_signature(store: Store, inspection: sqlite3.Row, role: str, name: str, *, png: bytes | None = None,
                  witness_note: str | None = None) -> str:
    """A signature on site (`png`: the handwriting as a PNG) or, without one, a refusal to sign
    with the witness note; checked here as the server will, so it is not refused after the visit."""
    name = name.strip()
    if not 1 <= len(name) <= 64:
        raise StoreError("签字人姓名须为 1–64 个字符。")
    refused = png is None
    note = (witness_note or "").strip() or None
    if refused and note is None:
        raise StoreError("拒绝签字须写明见证情况（--witness）。")
    if note is not None and len(note) > 500:
        raise StoreError("见证情况不能超过 500 个字符。")
    if png is not None:
        if len(png) > SIGNATURE_PNG_MAX:
            raise StoreError(f"签名图片超过 {SIGNATURE_PNG_MAX // 1024} KiB，请缩小后再签。")
        if not png.startswith(PNG_SIGNATURE):
            raise StoreError("签名图片须为 PNG 格式。")
    signature_uuid = new_uuid()
    digest = hashlib.sha256(png).hexdigest() if png is not None else None
    row = {"uuid": signature_uuid, "inspection_uuid": inspection["uuid"], "role": role, "signer_name": name,
           "signed_at": now_utc(), "refused": int(refused), "witness_note": note, "png": png, "png_sha256": digest}
    # The operation carries the image as standard base64 (the contract the phone app shares).
    payload = {**{key: value for key, value in row.items() if key != "png"}, "refused": refused,
               "png_base64": base64.b64encode(png).decode("ascii") if png is not None else None}
    with store.change() as tx:
        tx.insert("signatures", row, entity="signature", entity_id=signature_uuid, payload=payload)
    return signature_uuid


def signatures_of(store: Store, inspection: sqlite3.Row) -> list[sqlite3.Row]:
    return store.query("SELECT * FROM signatures WHERE inspection_uuid = ?"
                       " ORDER BY CASE role WHEN 'inspector' THEN 0 ELSE 1 END, signed_at, rowid",
                       (inspection["uuid"],))


def submit(store: Store, inspection: sqlite3.Row) -> str:
    moment = now_utc()
    with store.change() as tx:
        # The status guard makes a second submit (e.g. from another shell) change nothing.
        changed = tx.execute("UPDATE inspections SET status = 'submitted', submitted_at = ?"
                             " WHERE uuid = ? AND status = 'draft'", (moment, inspection["uuid"])).rowcount
        if not changed:
            raise StoreError("该督查记录已提交。")
        tx.enqueue("inspection_submission", inspection["uuid"],
                   {"inspection_uuid": inspection["uuid"], "submitted_at": moment, "device_time": moment})
    return moment


# What an amendment may carry besides corrected observations (the server's contract, kept exactly).
AMENDMENT_PARTS = ("findings_added", "findings_withdrawn", "penalties_added", "penalties_withdrawn",
                   "notes_added", "notes_withdrawn")
_PENALTY_WORDS = {**{kind: kind for kind in PENALTY_TYPES}, **{label: kind for kind, label in PENALTY_TYPES.items()},
                  "责令停业": "suspend", "停业": "suspend"}
_NOTE_WORDS = {**{kind: kind for kind in NOTE_KINDS}, **{label: kind for kind, label in NOTE_KINDS.items()},
               "正面": "positive", "反面": "negative"}


def _live_row(store: Store, table: str, inspection: sqlite3.Row, ident: str, label: str) -> sqlite3.Row:
    """A live (not withdrawn) penalty or note of the inspection by a unique prefix of its uuid."""
    prefix = ident.strip().lower()
    join, owner = (("JOIN findings f ON f.uuid = t.finding_uuid", "f.inspection_uuid") if table == "penalties"
                   else ("", "t.inspection_uuid"))
    rows = store.query(f"SELECT t.* FROM {table} t {join} WHERE {owner} = ? AND t.withdrawn_at IS NULL"
                       " AND t.uuid LIKE ?", (inspection["uuid"], prefix.replace("%", "").replace("_", "") + "%"))
    if len(rows) != 1 or not prefix:
        problem = "对应多条" if rows and prefix else "不存在或已撤回"
        raise StoreError(f"{label}编号 {ident} {problem}；用 anfang-field show 查看本任务的{label}编号。")
    return rows[0]


def amendment_changes(store: Store, assignment: sqlite3.Row, inspection: sqlite3.Row, rules: list[dict], *,
                      add_findings=(), withdraw_findings=(), add_penalties=(), withdraw_penalties=(),
                      add_notes=(), withdraw_notes=()) -> dict:
    """The amendment's parts from what the inspector typed, checked as the first recording of
    each would be (so that the server does not refuse it after the visit):

    add_findings `规则:描述`; add_penalties `问题编号:种类[:金额[:法律依据]]`; add_notes
    `positive|negative:文字`; the withdraw_* lists are id prefixes as `show` lists them."""
    changes: dict[str, list] = {part: [] for part in AMENDMENT_PARTS}
    rule_codes = [rule["code"] for rule in rules]
    for spec in add_findings:
        rule_code, sep, description = spec.partition(":")
        rule_code, description = rule_code.strip().upper(), description.strip()
        if not sep or not description:
            raise StoreError(f"--add-finding 应写成 规则:问题描述，如 K3:入口未限流；收到“{spec}”。")
        if rule_code not in rule_codes:
            raise StoreError(f"规则 {rule_code} 不适用于该场所；可选：{'、'.join(rule_codes) or '无'}。")
        changes["findings_added"].append({"uuid": new_uuid(), "rule_code": rule_code, "description": description})
    withdrawn_findings = []
    for ident in withdraw_findings:
        finding = find_finding(store, inspection, ident)
        if finding["uuid"] in withdrawn_findings:
            raise StoreError(f"问题 {ident} 重复撤回。")
        withdrawn_findings.append(finding["uuid"])
    changes["findings_withdrawn"] = withdrawn_findings
    if add_penalties and not assignment["may_propose_penalties"]:
        raise StoreError("该任务不允许提出处罚建议（组内无持执法证人员）。")
    for spec in add_penalties:
        parts = [part.strip() for part in spec.split(":")]
        if len(parts) < 2 or len(parts) > 4:
            raise StoreError(f"--add-penalty 应写成 问题编号:种类[:金额[:法律依据]]，如 1a2b3c4d:fine:5000；收到“{spec}”。")
        ident, word = parts[0], parts[1]
        kind = _PENALTY_WORDS.get(word.lower() if word.isascii() else word)
        if kind is None:
            raise StoreError(f"处罚种类应为 warning（警告）、fine（罚款）或 suspend（责令停业整顿），收到“{word}”。")
        amount_text = parts[2] if len(parts) > 2 else ""
        try:
            amount = int(amount_text) if amount_text else None
        except ValueError:
            raise StoreError(f"罚款金额应为整数（元），收到“{amount_text}”。") from None
        if kind == "fine" and (amount is None or amount <= 0):
            raise StoreError("罚款须写明大于 0 的金额（元），如 1a2b3c4d:fine:5000。")
        if kind != "fine" and amount is not None:
            raise StoreError(f"{PENALTY_TYPES[kind]}不需要金额，可写成 {ident}:{word} 或 {ident}:{word}::法律依据。")
        finding = find_finding(store, inspection, ident)
        if finding["uuid"] in withdrawn_findings:
            raise StoreError(f"问题 {ident} 在本次更正中撤回，不能再针对它提出处罚建议。")
        basis = parts[3] if len(parts) > 3 and parts[3] else None
        changes["penalties_added"].append({"uuid": new_uuid(), "finding_uuid": finding["uuid"], "type": kind,
                                           "amount": amount, "basis_code": basis})
    for part, table, label, idents in (("penalties_withdrawn", "penalties", "处罚建议", withdraw_penalties),
                                       ("notes_withdrawn", "notes", "典型材料", withdraw_notes)):
        for ident in idents:
            row = _live_row(store, table, inspection, ident, label)
            if row["uuid"] in changes[part]:
                raise StoreError(f"{label} {ident} 重复撤回。")
            changes[part].append(row["uuid"])
    for spec in add_notes:
        word, sep, text = spec.partition(":")
        kind = _NOTE_WORDS.get(word.strip().lower() if word.isascii() else word.strip())
        if not sep or kind is None or not text.strip():
            raise StoreError(f"--add-note 应写成 positive:文字 或 negative:文字（正面/反面典型），收到“{spec}”。")
        changes["notes_added"].append({"uuid": new_uuid(), "kind": kind, "text": text.strip()})
    return {part: rows for part, rows in changes.items() if rows}


def amend(store: Store, inspection: sqlite3.Row, reason: str, values: dict, settles: list[str] = (),
          changes: dict | None = None) -> str:
    """Append a correction: corrected observations (`values`) and the other parts
    (`amendment_changes`), applied to the local store as the server applies them — added rows
    name the amendment, withdrawn rows keep everything and get the withdrawal; nothing is
    deleted. `settles` names refused operations (op_id or its first characters, as `status`
    shows them) that this amendment answers once the server accepts it."""
    if not reason.strip():
        raise StoreError("更正须写明原因（--reason）。")
    refused = [refused_operation(store, prefix) for prefix in settles]
    changes = changes or {}
    amendment_uuid = new_uuid()
    payload = {"observations": values, **changes}
    moment = now_utc()
    with store.change() as tx:
        op_id = tx.insert("amendments", {"uuid": amendment_uuid, "inspection_uuid": inspection["uuid"],
                                         "reason": reason.strip(), "payload": json.dumps(payload, ensure_ascii=False),
                                         "created_at": moment},
                          entity="amendment", entity_id=amendment_uuid,
                          payload={"uuid": amendment_uuid, "inspection_uuid": inspection["uuid"],
                                   "reason": reason.strip(), "payload": payload, "created_at": moment})
        # The amendment operation carries these rows: none is queued on its own.
        for row in changes.get("findings_added", ()):
            tx.execute("INSERT INTO findings (uuid, inspection_uuid, rule_code, check_code, description, source,"
                       " created_at, amendment_uuid) VALUES (?, ?, ?, NULL, ?, 'manual', ?, ?)",
                       (row["uuid"], inspection["uuid"], row["rule_code"], row["description"], moment, amendment_uuid))
        for row in changes.get("penalties_added", ()):
            tx.execute("INSERT INTO penalties (uuid, finding_uuid, type, amount, basis_code, created_at,"
                       " amendment_uuid) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (row["uuid"], row["finding_uuid"], row["type"], row["amount"], row["basis_code"], moment,
                        amendment_uuid))
        for row in changes.get("notes_added", ()):
            tx.execute("INSERT INTO notes (uuid, inspection_uuid, kind, text, created_at, amendment_uuid)"
                       " VALUES (?, ?, ?, ?, ?, ?)",
                       (row["uuid"], inspection["uuid"], row["kind"], row["text"], moment, amendment_uuid))
        for table, part in (("findings", "findings_withdrawn"), ("penalties", "penalties_withdrawn"),
                            ("notes", "notes_withdrawn")):
            for uuid in changes.get(part, ()):
                tx.execute(f"UPDATE {table} SET withdrawn_at = ?, withdrawn_by = ? WHERE uuid = ?",
                           (moment, amendment_uuid, uuid))
        # A withdrawn finding's penalties go with it, as the server withdraws them.
        for uuid in changes.get("findings_withdrawn", ()):
            tx.execute("UPDATE penalties SET withdrawn_at = ?, withdrawn_by = ? WHERE finding_uuid = ?"
                       " AND withdrawn_at IS NULL", (moment, amendment_uuid, uuid))
        for operation in refused:
            tx.execute("UPDATE outbox SET settled_by = ? WHERE op_id = ?", (op_id, operation["op_id"]))
    return amendment_uuid


def corrected_observations(store: Store, inspection: sqlite3.Row) -> dict[str, dict]:
    """Each item's value with the amendments laid over it in order, as the server reads the
    record: {item: {"value", "corrected", "recorded"}}; the recorded rows are never changed."""
    recorded = observations_of(store, inspection)
    values = dict(recorded)
    for row in store.query("SELECT payload FROM amendments WHERE inspection_uuid = ? ORDER BY rowid",
                           (inspection["uuid"],)):
        values.update(json.loads(row["payload"]).get("observations") or {})
    return {code: {"value": value, "corrected": code not in recorded or recorded[code] != value,
                   "recorded": recorded.get(code)} for code, value in values.items()}


def refused_operation(store: Store, prefix: str) -> sqlite3.Row:
    """The one outstanding refused operation whose op_id starts with `prefix`."""
    prefix = prefix.strip().lower()
    matches = store.query("SELECT * FROM outbox WHERE state = 'failed' AND settled_at IS NULL AND op_id LIKE ?",
                          (prefix.replace("%", "").replace("_", "") + "%",)) if len(prefix) >= 4 else []
    if len(matches) != 1:
        raise StoreError(f"找不到编号以 {prefix} 开头的未解决的被拒操作（至少 4 位，见 anfang-field status）。"
                         if not matches else f"编号 {prefix} 对应多项被拒操作，请多写几位。")
    return matches[0]


def pending_operations(store: Store) -> dict[str, list[sqlite3.Row]]:
    """Operations still to push, and refused ones not yet settled (a refusal stays until a
    corrected resend or an amendment naming it is accepted)."""
    return {"pending": store.query("SELECT * FROM outbox WHERE state = 'pending' ORDER BY seq"),
            "failed": store.query("SELECT * FROM outbox WHERE state = 'failed' AND settled_at IS NULL ORDER BY seq")}


def outstanding_refusals(store: Store) -> int:
    return store.query_one("SELECT COUNT(*) FROM outbox WHERE state = 'failed' AND settled_at IS NULL")[0]


def orphans(store: Store, *, grace_seconds: float = photo_files.ORPHAN_GRACE_SECONDS) -> list[Path]:
    referenced = {row["filename"] for row in store.query("SELECT DISTINCT filename FROM photos")}
    return photo_files.orphan_files(store.photos_dir, referenced, grace_seconds=grace_seconds)
