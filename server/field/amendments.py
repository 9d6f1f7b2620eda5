"""Amendments: corrections to a submitted inspection, appended with their reason, never applied
over the original.

An amendment's payload (the phone app codes against it exactly; every key optional, none at all
makes the amendment an explanation only):

    {"observations": {"<item code>": value},
     "findings_added": [{"uuid", "rule_code", "description"}], "findings_withdrawn": ["<uuid>"],
     "penalties_added": [{"uuid", "finding_uuid", "type", "amount", "basis_code"}],
     "penalties_withdrawn": ["<uuid>"],
     "notes_added": [{"uuid", "kind", "text"}], "notes_withdrawn": ["<uuid>"]}

Each part is checked as a first recording of it would be (the payload schemas and the
appliers' rules) before anything is written, so an amendment applies whole or not at all. Added
rows name the amendment that added them; withdrawn rows keep everything and get a withdrawal
time and the amendment; nothing is deleted. The record's rules are then evaluated again with the
corrected observations (`store_violations`).

Services flush and never commit; the request commits.
"""

from __future__ import annotations

import uuid as uuid_module
from dataclasses import dataclass, field

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..audit.chain import record_event
from ..errors import Conflict, Invalid
from ..extensions import db
from ..registry.loader import rules_bundle_for_category
from .batch import Push
from .models.inspection import Amendment, ExampleNote, Finding, Inspection, Penalty, Violation
from .schemas import sync as schemas
from .violations import store_violations

# What people call each part of the payload, for the 422 detail.
PART_LABELS = {
    "observations": "检查项更正",
    "findings_added": "新增问题",
    "findings_withdrawn": "撤回问题",
    "penalties_added": "新增处罚建议",
    "penalties_withdrawn": "撤回处罚建议",
    "notes_added": "新增典型材料",
    "notes_withdrawn": "撤回典型材料",
}
_ADDED_SCHEMAS = {"findings_added": schemas.AmendedFinding(), "penalties_added": schemas.AmendedPenalty(),
                  "notes_added": schemas.AmendedNote()}


def _appliers():
    """The appliers' shared lookups (team check, draft check, insert-once). Imported when used:
    appliers imports this module to register `apply_amendment`, whichever is imported first."""
    from . import appliers

    return appliers


@dataclass
class AmendmentPlan:
    """An amendment's payload checked against the record: what it adds and withdraws."""

    observations: dict = field(default_factory=dict)
    findings_added: list[dict] = field(default_factory=list)
    findings_withdrawn: list[Finding] = field(default_factory=list)
    penalties_added: list[dict] = field(default_factory=list)
    penalties_withdrawn: list[Penalty] = field(default_factory=list)
    notes_added: list[dict] = field(default_factory=list)
    notes_withdrawn: list[ExampleNote] = field(default_factory=list)


def apply_amendment(push: Push, entity_id: str, data: dict) -> None:
    """A correction to a submitted record: appended, never applied over the original; the
    record's rules are evaluated again with the corrected observations."""
    lookups = _appliers()
    lookups._same_id(entity_id, str(data["uuid"]))
    inspection = lookups._inspection(data["inspection_uuid"], push.user)
    values = {"uuid": str(data["uuid"]), "inspection_id": inspection.id, "reason": data["reason"],
              "payload": data["payload"], "created_at": data["created_at"]}
    held = db.session.scalar(sa.select(Amendment.id).where(Amendment.uuid == values["uuid"]))
    plan = None
    if held is None:
        if inspection.status == "draft":
            raise Conflict("该督查记录尚未提交，请直接修改，无需更正。")
        plan = check_amendment(inspection, data["payload"])
    amendment, created = lookups._insert_once(Amendment, "更正", values)
    if not created:
        return  # the same amendment again: applied when it first arrived
    if plan is None:  # inserted on the careful path after a concurrent twin rolled back
        plan = check_amendment(inspection, data["payload"])
    try:
        changes = _apply_plan(inspection, amendment, plan)
    except IntegrityError:
        # A concurrent push took one of the new rows' device UUIDs after the check: this
        # operation's savepoint is rolled back and the device may send it again.
        raise Conflict("更正中新增记录的编号已被服务器上的另一条记录使用，请换用新的编号后重新更正。") from None
    live_before = set(db.session.scalars(sa.select(Violation.id).where(Violation.inspection_id == inspection.id,
                                                                       Violation.withdrawn_at.is_(None))))
    added, withdrawn = store_violations(inspection, amendment=amendment)
    record_event("inspection.amended", actor=push.user, channel="api", object_type="inspection",
                 object_id=inspection.uuid,
                 details={"amendment": values["uuid"], "reason": data["reason"],
                          "observations": plan.observations, **changes,
                          # The live violations after the amendment (named "added" before the
                          # next key existed), and those of them this amendment found.
                          "violations_added": [f"{v.rule_code}/{v.check_code}" for v in added],
                          "violations_found": [f"{v.rule_code}/{v.check_code}" for v in added
                                               if v.id not in live_before],
                          "violations_withdrawn": [f"{v.rule_code}/{v.check_code}" for v in withdrawn]})


# --- checks ------------------------------------------------------------------------------------


def _refuse(part: str, message: str, position: int | None = None, *, errors: dict | None = None,
            conflict: bool = False):
    where = f"第 {position} 项" if position is not None else ""
    detail = f"更正内容无效：{PART_LABELS[part]}{where}：{message}"
    if conflict:
        raise Conflict(detail)
    raise Invalid(detail, errors={f"payload.{part}": errors or [message]})


def _summary(messages) -> str:
    if isinstance(messages, dict):
        return "；".join(f"{name}：{_summary(problems)}" for name, problems in messages.items())
    if isinstance(messages, list):
        return "、".join(_summary(problem) for problem in messages)
    return str(messages)


def _uuid_text(part: str, position: int, value) -> str:
    if isinstance(value, str):
        try:
            return str(uuid_module.UUID(value))
        except ValueError:
            pass
    _refuse(part, "须为 UUID。", position)


def _list_of(payload: dict, part: str) -> list:
    value = payload.get(part)
    if value is None:
        return []
    if not isinstance(value, list):
        _refuse(part, "须为列表。")
    return value


def check_amendment(inspection: Inspection, payload: dict) -> AmendmentPlan:
    """The payload checked whole against the record; Invalid (422) or Conflict (409) naming the
    part and item that is wrong. Writes nothing."""
    unknown = sorted(set(payload) - set(PART_LABELS))
    if unknown:
        raise Invalid(f"更正内容应为 {'、'.join(PART_LABELS)} 中的若干项；不认识：{'、'.join(unknown)}。",
                      errors={"payload": [f"未知的更正内容：{'、'.join(unknown)}。"]})
    plan = AmendmentPlan()
    lookups = _appliers()
    observations = payload.get("observations")
    if observations is not None:
        if not isinstance(observations, dict):
            raise Invalid("更正内容应为 {\"observations\": {检查项代码: 值}, …}：检查项更正须为对象。",
                          errors={"payload.observations": ["须为 {检查项代码: 值}。"]})
        for item_code, value in observations.items():
            lookups._check_value(lookups._checklist_item(inspection, item_code), value)
        plan.observations = dict(observations)

    loaded: dict[str, list[dict]] = {}
    for part, schema in _ADDED_SCHEMAS.items():
        loaded[part] = []
        for position, item in enumerate(_list_of(payload, part), start=1):
            if not isinstance(item, dict):
                _refuse(part, "须为对象。", position)
            try:
                row = schema.load(item)
            except ma.ValidationError as error:
                messages = error.normalized_messages()
                _refuse(part, _summary(messages), position, errors=messages)
            loaded[part].append({**row, **{name: str(row[name]) for name in ("uuid", "finding_uuid") if name in row}})
    withdrawn: dict[str, list[str]] = {}
    for part in ("findings_withdrawn", "penalties_withdrawn", "notes_withdrawn"):
        withdrawn[part] = [_uuid_text(part, position, value)
                           for position, value in enumerate(_list_of(payload, part), start=1)]
        for position, value in enumerate(withdrawn[part], start=1):
            if withdrawn[part].index(value) != position - 1:
                _refuse(part, f"{value} 重复出现。", position)

    _check_new_uuids(loaded)
    plan.findings_added = _checked_new_findings(inspection, loaded["findings_added"])
    plan.findings_withdrawn = _held_rows(inspection, Finding, "findings_withdrawn", withdrawn["findings_withdrawn"])
    plan.penalties_withdrawn = _held_rows(inspection, Penalty, "penalties_withdrawn",
                                          withdrawn["penalties_withdrawn"])
    plan.notes_withdrawn = _held_rows(inspection, ExampleNote, "notes_withdrawn", withdrawn["notes_withdrawn"])
    plan.penalties_added = _checked_new_penalties(inspection, loaded["penalties_added"], plan)
    plan.notes_added = loaded["notes_added"]
    return plan


def _check_new_uuids(loaded: dict[str, list[dict]]) -> None:
    """New rows carry device-made UUIDs no row of their kind has yet (nor another item here)."""
    seen: set[str] = set()
    for part, model in (("findings_added", Finding), ("penalties_added", Penalty), ("notes_added", ExampleNote)):
        uuids = [row["uuid"] for row in loaded[part]]
        for position, value in enumerate(uuids, start=1):
            if value in seen:
                _refuse(part, f"编号 {value} 重复出现。", position)
            seen.add(value)
        taken = set(db.session.scalars(sa.select(model.uuid).where(model.uuid.in_(uuids)))) if uuids else set()
        for position, value in enumerate(uuids, start=1):
            if value in taken:
                _refuse(part, f"编号 {value} 已被服务器上的另一条记录使用，请换用新的编号。", position, conflict=True)


def _checked_new_findings(inspection: Inspection, rows: list[dict]) -> list[dict]:
    rule_codes = [rule["code"] for rule in rules_bundle_for_category(inspection.assignment.venue.category)]
    for position, row in enumerate(rows, start=1):
        if row["rule_code"] not in rule_codes:
            _refuse("findings_added", f"规则 {row['rule_code']} 不适用于该场所类别"
                                      f"（适用：{'、'.join(rule_codes) or '无'}）。", position)
    return rows


def _held_rows(inspection: Inspection, model, part: str, uuids: list[str]) -> list:
    """The rows named for withdrawal: each of this record and still live."""
    if not uuids:
        return []
    query = sa.select(model).where(model.uuid.in_(uuids))
    if model is Penalty:
        query = query.join(Finding, Finding.id == Penalty.finding_id).where(Finding.inspection_id == inspection.id)
    else:
        query = query.where(model.inspection_id == inspection.id)
    rows = {row.uuid: row for row in db.session.scalars(query.execution_options(populate_existing=True))}
    for position, value in enumerate(uuids, start=1):
        row = rows.get(value)
        if row is None:
            _refuse(part, f"{value} 不是该督查记录的记录。", position)
        if row.withdrawn_at is not None:
            _refuse(part, f"{value} 已撤回，不能再撤回。", position)
    return [rows[value] for value in uuids]


def _checked_new_penalties(inspection: Inspection, rows: list[dict], plan: AmendmentPlan) -> list[dict]:
    """A penalty is proposed for a live finding of this record (or one this amendment adds), and
    only on an assignment that may propose penalties (as `plan_penalty`)."""
    if not rows:
        return rows
    if not inspection.assignment.may_propose_penalties:
        _refuse("penalties_added", "该任务不允许提出处罚建议（组内无持执法证人员）。", conflict=True)
    wanted = {row["finding_uuid"] for row in rows}
    held = {finding.uuid: finding for finding in db.session.scalars(
        sa.select(Finding).where(Finding.uuid.in_(wanted), Finding.inspection_id == inspection.id))}
    added = {row["uuid"] for row in plan.findings_added}
    withdrawn = {finding.uuid for finding in plan.findings_withdrawn}
    for position, row in enumerate(rows, start=1):
        finding_uuid = row["finding_uuid"]
        finding = held.get(finding_uuid)
        if finding is None and finding_uuid not in added:
            _refuse("penalties_added", f"问题 {finding_uuid} 不是该督查记录的问题。", position)
        if (finding is not None and finding.withdrawn_at is not None) or finding_uuid in withdrawn:
            _refuse("penalties_added", f"问题 {finding_uuid} 已撤回，不能再针对它提出处罚建议。", position)
    return rows


# --- writing -----------------------------------------------------------------------------------


def _apply_plan(inspection: Inspection, amendment: Amendment, plan: AmendmentPlan) -> dict:
    """Write what the plan adds and withdraws; the device UUIDs of each kind, for the audit event."""
    moment = amendment.created_at  # the device clock, as every other time of these rows
    for row in plan.findings_added:
        db.session.add(Finding(uuid=row["uuid"], inspection_id=inspection.id, rule_code=row["rule_code"],
                               check_code=None, description=row["description"], source="manual",
                               created_at=moment, amendment_id=amendment.id))
    db.session.flush()
    wanted = {row["finding_uuid"] for row in plan.penalties_added}
    finding_ids = dict(db.session.execute(sa.select(Finding.uuid, Finding.id).where(Finding.uuid.in_(wanted))).all())
    for row in plan.penalties_added:
        db.session.add(Penalty(uuid=row["uuid"], finding_id=finding_ids[row["finding_uuid"]], type=row["type"],
                               amount=row["amount"], basis_code=row["basis_code"], created_at=moment,
                               amendment_id=amendment.id))
    for row in plan.notes_added:
        db.session.add(ExampleNote(uuid=row["uuid"], inspection_id=inspection.id, kind=row["kind"],
                                   text=row["text"], created_at=moment, amendment_id=amendment.id))
    for row in (*plan.findings_withdrawn, *plan.penalties_withdrawn, *plan.notes_withdrawn):
        row.withdrawn_at, row.withdrawn_by_amendment_id = moment, amendment.id
    db.session.flush()
    # A withdrawn finding's proposed penalties go with it: a penalty for a problem no longer on
    # record must not reach the enforcement bureau as live.
    cascaded = []
    if plan.findings_withdrawn:
        cascaded = list(db.session.scalars(sa.select(Penalty).where(
            Penalty.finding_id.in_([finding.id for finding in plan.findings_withdrawn]),
            Penalty.withdrawn_at.is_(None))))
        for penalty in cascaded:
            penalty.withdrawn_at, penalty.withdrawn_by_amendment_id = moment, amendment.id
        db.session.flush()
    return {
        "findings_added": [row["uuid"] for row in plan.findings_added],
        "findings_withdrawn": [row.uuid for row in plan.findings_withdrawn],
        "penalties_added": [row["uuid"] for row in plan.penalties_added],
        "penalties_withdrawn": [row.uuid for row in (*plan.penalties_withdrawn, *cascaded)],
        "notes_added": [row["uuid"] for row in plan.notes_added],
        "notes_withdrawn": [row.uuid for row in plan.notes_withdrawn],
    }
