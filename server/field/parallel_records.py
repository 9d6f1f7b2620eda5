"""Parallel records: two (or more) devices of one team recorded the same assignment.

The server keeps every record (DESIGN.md §5). The first to arrive is the assignment's primary
record — the only one that moves the assignment, stores violations and so feeds cases,
statistics, accountability and bulletins; the others are parallel records, kept whole and
compared with it here (组内记录不一致). The office may adopt another record with a reason
(`adopt_record`): it becomes primary, the one it replaces stays, marked as not adopted.

The comparison reads each record as it stands (observations with its amendments laid over them)
and evaluates every record with the venue category's rules, without storing anything: a
parallel record's violations are never stored, so they cannot be counted twice.

Services flush and never commit; the request commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

import rulecheck

from ..access import authorize
from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import as_utc
from ..draws.assignments import transition
from ..draws.models.draw import Assignment
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..registry.loader import rules_bundle_for_category, venue_facts
from .completion import INSPECTION_STATUS_LABELS, record_inspection_change
from .models.adoption import RecordAdoption
from .models.inspection import ExampleNote, Finding, Inspection, Penalty, Photo, Violation
from .signals import inspection_submitted, primary_record_replacing
from .violations import effective_observations, store_violations

# Records are named 甲, 乙, 丙 … in the order they arrived, the way a written report would.
RECORD_NAMES = "甲乙丙丁戊己庚辛壬癸"
OUTCOME_LABELS = {rulecheck.VIOLATION: "违反", rulecheck.COMPLIANT: "未违反", rulecheck.NOT_APPLICABLE: "未违反",
                  rulecheck.INCOMPLETE: "未能判定（检查项未记录）"}
REASON_MAX = 1000


def records_of(assignment: Assignment) -> list[Inspection]:
    """Every record of the assignment in the order the server received them."""
    return list(db.session.scalars(sa.select(Inspection).where(Inspection.assignment_id == assignment.id)
                                   .order_by(Inspection.id)))


def primary_of(assignment: Assignment) -> Inspection | None:
    """The record that stands for the assignment (None before any record arrived)."""
    return db.session.scalar(sa.select(Inspection).where(Inspection.assignment_id == assignment.id,
                                                         Inspection.is_primary.is_(True)))


def _record_name(index: int) -> str:
    return f"{RECORD_NAMES[index]}记录" if index < len(RECORD_NAMES) else f"第 {index + 1} 份记录"


def _value_text(value) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if value is None:
        return "未记录"
    return str(value)


def _outcomes(inspection: Inspection, rules: list[dict], facts: dict) -> dict[tuple[str, str], str]:
    """(rule, check) → the outcome the record's observations give, as the server would store it."""
    observations = effective_observations(inspection)
    outcomes = {}
    for rule in rules:
        own = {item["code"]: observations[item["code"]] for item in rule["items"] if item["code"] in observations}
        try:
            result = rulecheck.evaluate_rule(rule, venue=facts, observations=own)
        except rulecheck.ExpressionError:
            continue  # a rule that cannot be evaluated says nothing either way, for every record alike
        for check in result.checks:
            outcomes[(rule["code"], check.code)] = check.outcome
    return outcomes


def _counts(inspection: Inspection) -> dict[str, int]:
    live_findings = sa.select(Finding.id).where(Finding.inspection_id == inspection.id, Finding.withdrawn_at.is_(None))
    count = lambda query: db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))  # noqa: E731
    return {
        "findings": count(live_findings),
        "penalties": count(sa.select(Penalty.id).where(Penalty.finding_id.in_(live_findings),
                                                       Penalty.withdrawn_at.is_(None))),
        "photos": count(sa.select(Photo.id).where(Photo.inspection_id == inspection.id)),
        "notes": count(sa.select(ExampleNote.id).where(ExampleNote.inspection_id == inspection.id,
                                                       ExampleNote.withdrawn_at.is_(None))),
    }


COUNT_LABELS = {"findings": "记录的问题数", "penalties": "处罚建议数", "photos": "照片数", "notes": "典型材料数"}


@dataclass
class Difference:
    """One point on which the records disagree: what, each record's value in order, and a sentence."""

    kind: str  # observation | violation | count
    subject: str
    values: list[str]
    text: str


@dataclass
class Comparison:
    """An assignment's records side by side and where they differ."""

    records: list[dict]
    differences: list[Difference] = field(default_factory=list)
    adoptions: list[dict] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        return not self.differences


def _sentence(subject: str, names: list[str], values: list[str]) -> str:
    return f"{subject}：" + "，".join(f"{name}为{value}" for name, value in zip(names, values, strict=True))


def compare_records(assignment: Assignment) -> Comparison | None:
    """The assignment's records compared (None when it has fewer than two): each checklist
    observation whose values differ, each rule check one record violates and another does not,
    and differing counts of findings, penalties, photos and notes."""
    records = records_of(assignment)
    if len(records) < 2:
        return None
    venue = assignment.venue
    rules = rules_bundle_for_category(venue.category)
    facts = venue_facts(venue)
    names = [_record_name(index) for index in range(len(records))]
    adoptions = list(db.session.scalars(sa.select(RecordAdoption).where(RecordAdoption.assignment_id == assignment.id)
                                        .order_by(RecordAdoption.id)))
    inspectors = dict(db.session.execute(sa.select(User.id, User.display_name).where(
        User.id.in_({record.inspector_id for record in records} | {a.decided_by_id for a in adoptions}))).all())
    comparison = Comparison(records=[{
        "id": record.id, "uuid": record.uuid, "name": name, "is_primary": record.is_primary is True,
        "standing": _standing(record, adoptions), "inspector": inspectors.get(record.inspector_id),
        "device_id": record.device_id, "status": record.status, "status_label": INSPECTION_STATUS_LABELS[record.status],
        "checked_in_at": as_utc(record.checked_in_at), "received_at": as_utc(record.received_at),
    } for name, record in zip(names, records, strict=True)])
    by_id = {record.id: name for name, record in zip(names, records, strict=True)}
    comparison.adoptions = [{"adopted": by_id.get(a.adopted_id), "replaced": by_id.get(a.replaced_id),
                             "reason": a.reason, "decided_by": inspectors.get(a.decided_by_id),
                             "decided_at": as_utc(a.decided_at)} for a in adoptions]

    observations = [effective_observations(record) for record in records]
    prompts = {item["code"]: item["prompt"] for rule in rules for item in rule["items"]}
    order = list(prompts) + sorted({code for values in observations for code in values} - set(prompts))
    for code in order:
        values = [held.get(code) for held in observations]
        if all(code not in held for held in observations):
            continue
        if any(code not in held for held in observations) or any(value != values[0] for value in values[1:]):
            texts = [_value_text(value) if code in held else "未记录" for value, held in zip(values, observations,
                                                                                         strict=True)]
            subject = prompts.get(code, code)
            comparison.differences.append(Difference("observation", subject, texts, _sentence(subject, names, texts)))

    outcomes = [_outcomes(record, rules, facts) for record in records]
    titles = {rule["code"]: rule.get("title") or "" for rule in rules}
    descriptions = {(rule["code"], check["code"]): check.get("description") or check["code"]
                    for rule in rules for check in rule.get("checks") or ()}
    checks = sorted({key for held in outcomes for key in held})
    for key in checks:
        violated = [held.get(key) == rulecheck.VIOLATION for held in outcomes]
        if any(violated) and not all(violated):
            texts = [OUTCOME_LABELS.get(held.get(key), "未能判定（检查项未记录）") for held in outcomes]
            subject = f"{key[0]} {titles.get(key[0], '')}（{descriptions.get(key, key[1])}）".replace(" （", "（")
            comparison.differences.append(Difference("violation", subject, texts, _sentence(subject, names, texts)))

    counts = [_counts(record) for record in records]
    for key, label in COUNT_LABELS.items():
        values = [held[key] for held in counts]
        if any(value != values[0] for value in values[1:]):
            texts = [str(value) for value in values]
            comparison.differences.append(Difference("count", label, texts, _sentence(label, names, texts)))
    return comparison


def _standing(record: Inspection, adoptions: list[RecordAdoption]) -> str:
    """How the record stands, in the office's words."""
    if record.is_primary:
        return "采用（办公室核定）" if any(a.adopted_id == record.id for a in adoptions) else "主记录（先到）"
    return "未采用" if adoptions else "并行记录（待办公室核定）"


# --- the office's decision ------------------------------------------------------------------------


def find_record_of(assignment: Assignment, inspection_id: int) -> Inspection:
    inspection = db.session.get(Inspection, inspection_id) if 0 < inspection_id < 2**31 else None
    if inspection is None or inspection.assignment_id != assignment.id:
        raise NotFound(f"任务 {assignment.id} 没有编号为 {inspection_id} 的督查记录。")
    return inspection


def adopt_record(assignment: Assignment, inspection: Inspection, *, reason: str, actor: User,
                 channel: str = "web") -> RecordAdoption:
    """The office adopts `inspection` as the assignment's record, with a reason.

    It becomes primary; the record it replaces stays, not adopted, and its stored violations
    are removed (the adopted record's are stored instead, if it was submitted), so that the venue's
    violations count once. Refused (409) when enforcement already acted on the replaced
    record's violations (a receiver of `primary_record_replacing` names the case). A submitted
    adopted record on an assignment still under way submits the assignment. Audited with the reason.
    """
    authorize(actor, "manage", assignment)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("请填写核定理由。", errors={"reason": ["请填写核定理由。"]})
    if len(reason) > REASON_MAX:
        raise Invalid(f"核定理由至多 {REASON_MAX} 字。", errors={"reason": [f"至多 {REASON_MAX} 字。"]})
    if inspection.assignment_id != assignment.id:
        raise NotFound(f"任务 {assignment.id} 没有编号为 {inspection.id} 的督查记录。")
    if db.session.get_bind(mapper=Assignment).dialect.name == "postgresql":
        # Serialise with a device's first records and a concurrent decision on the same assignment.
        db.session.execute(sa.select(Assignment.id).where(Assignment.id == assignment.id).with_for_update())
    db.session.refresh(inspection)
    replaced = primary_of(assignment)
    if inspection.is_primary or replaced is None:
        raise Conflict("该督查记录已是本任务采用的记录，无需改换。")
    dropped = list(db.session.scalars(sa.select(Violation).where(Violation.inspection_id == replaced.id)
                                      .order_by(Violation.rule_code, Violation.check_code)))
    # Domains above the field (enforcement) refuse here if they acted on what would be removed.
    primary_record_replacing.send(replaced, adopted=inspection, violations=dropped)
    for violation in dropped:
        db.session.delete(violation)
    replaced.is_primary = None
    db.session.flush()  # the old primary steps down first: the database allows one at a time
    inspection.is_primary = True
    adoption = RecordAdoption(assignment_id=assignment.id, adopted_id=inspection.id, replaced_id=replaced.id,
                              reason=reason, decided_by_id=actor.id)
    db.session.add(adoption)
    db.session.flush()
    stored = []
    if inspection.status != "draft":
        stored, _ = store_violations(inspection)
        if assignment.status == "in_progress":
            transition(assignment, "submitted", actor, channel=channel, note="办公室核定采用已提交的并行记录")
    record_event("inspection.record_adopted", actor=actor, channel=channel, object_type="assignment",
                 object_id=assignment.id,
                 details={"adopted": inspection.uuid, "adopted_device_id": inspection.device_id,
                          "replaced": replaced.uuid, "replaced_device_id": replaced.device_id, "reason": reason,
                          "violations_removed": [f"{v.rule_code}/{v.check_code}" for v in dropped],
                          "violations_stored": [f"{v.rule_code}/{v.check_code}" for v in stored]})
    if inspection.status != "draft":
        # As when a primary record is submitted: a re-inspection decides its order on it.
        inspection_submitted.send(inspection, violations=stored, actor=actor)
    for record in (replaced, inspection):
        record_inspection_change(record)
    return adoption
