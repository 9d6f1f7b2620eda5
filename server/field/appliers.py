"""Field sync appliers: what each pushed entity does to the server's records (a reveal, an
inspection, its observations, findings, photo manifest, penalties, notes, its submission and
amendments — the last in `amendments`; the check-in and photo position checks in `checkin_checks`).

The applier or planner of an entity checks that the user is a member of the assignment's team
and that the inspection is still a draft (submitted records are immutable; amendments append);
a record the server already holds under the same device UUID is success when identical (the
same change queued twice) and 409 when not. Operations that add one row (`PLANNERS`) only say
which row to write; `push` writes them in runs. The others (`APPLIERS`) write themselves.

Services flush and never commit; the request commits.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import utcnow
from ..draws.assignment_access import find_assignment
from ..draws.assignments import STATUS_LABELS, mark_in_progress, mark_submitted, record_offline_reveal
from ..draws.models.draw import Assignment
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..registry.loader import rules_bundle_for_category
from .amendments import apply_amendment
from .batch import Push, RetryCarefully, RowPlan, current_batch, differs, settle_with_held
from .checkin_checks import check_photo_position, with_checkin_checks
from .completion import complete_if_all_received, lock_sha256, photo_counts, record_inspection_change
from .models.evidence import EvidenceFile
from .models.inspection import ExampleNote, Finding, Inspection, Observation, Penalty, Photo
from .reveal_checks import check_offline_reveal
from .signals import inspection_submitted
from .violations import store_violations

# --- lookups ---------------------------------------------------------------------------------


def _same_id(entity_id: str, expected: str) -> None:
    if entity_id != expected:
        raise Invalid(f"entity_id {entity_id} 与载荷中的编号 {expected} 不一致。")


def _assignment(assignment_uuid, user: User, action: str = "work") -> Assignment:
    batch = current_batch.get()
    key = str(assignment_uuid)
    assignment_id = batch.assignment_ids.get(key) if batch is not None else None
    if assignment_id is None:
        assignment_id = db.session.scalar(sa.select(Assignment.id).where(Assignment.uuid == key))
        if assignment_id is None:
            raise NotFound(f"任务 {assignment_uuid} 不存在。")
        if batch is not None:
            batch.assignment_ids[key] = assignment_id
    return find_assignment(assignment_id, user, action)


def _inspection(inspection_uuid, user: User) -> Inspection:
    batch = current_batch.get()
    key = str(inspection_uuid)
    inspection = batch.inspections.get(key) if batch is not None else None
    if inspection is not None and inspection not in db.session:
        inspection = None  # rolled back with the savepoint that inserted it
    if inspection is None:
        inspection = db.session.scalar(sa.select(Inspection).where(Inspection.uuid == key))
        if inspection is None:
            raise NotFound(f"督查记录 {inspection_uuid} 不存在；请先同步揭封签到的操作。")
        if batch is not None:
            batch.inspections[key] = inspection
    find_assignment(inspection.assignment_id, user, "work")
    return inspection


def _finding(finding_uuid, user: User, inspection: Inspection | None = None) -> Finding:
    finding = db.session.scalar(sa.select(Finding).where(Finding.uuid == str(finding_uuid)))
    if finding is None:
        raise NotFound(f"问题 {finding_uuid} 不存在；请先同步该问题。")
    if inspection is None:
        inspection = db.session.get(Inspection, finding.inspection_id)
        find_assignment(inspection.assignment_id, user, "work")
    elif finding.inspection_id != inspection.id:
        raise Invalid(f"问题 {finding_uuid} 不属于该督查记录。")
    return finding


def _require_draft(inspection: Inspection) -> None:
    if inspection.status != "draft":
        raise Conflict("该督查记录已提交，不能再修改；如需更正，请提交更正（amendment）并写明原因。")


def _held(model, uuid: str):
    batch = current_batch.get()
    if batch is not None and not batch.careful:
        absent = batch.absent.get(model)
        if absent is not None and uuid in absent:
            # Absent when the push began; asked again from now on (this push may insert it).
            absent.discard(uuid)
            return None
    return db.session.scalar(sa.select(model).where(model.uuid == uuid)
                             .execution_options(populate_existing=True))


_NOT_LOOKED_UP = object()


def _insert_once(model, label: str, values: dict, existing=_NOT_LOOKED_UP) -> tuple[object, bool]:
    """The row with this device UUID: inserted now (True), or already held and identical (False).

    Held with other content → 409. The insert runs in a savepoint: a concurrent push of the
    same record under another op_id makes it fail on UNIQUE, and the row it committed is compared.
    Within a push, the insert first runs without a savepoint of its own; should it fail, the
    whole operation is rolled back and run again on this careful path. `existing`: the row the
    caller just read with `_held` (None when there is none), so it is not asked twice.
    """
    def held():
        return _held(model, values["uuid"])

    if existing is _NOT_LOOKED_UP:
        existing = held()
    batch = current_batch.get()
    if existing is None and batch is not None and not batch.careful:
        row = model(**values)
        db.session.add(row)
        try:
            db.session.flush()
        except IntegrityError:
            raise RetryCarefully() from None
        return row, True
    if existing is None:
        try:
            with db.session.begin_nested():
                row = model(**values)
                db.session.add(row)
                db.session.flush()
            return row, True
        except IntegrityError:
            existing = held()
            if existing is None:
                raise Conflict(f"{label} {values['uuid']} 与服务器上已有的记录冲突。") from None
    changed = sorted(name for name, value in values.items() if differs(getattr(existing, name), value))
    if changed:
        raise Conflict(f"编号为 {values['uuid']} 的{label}已存在，但内容不同（{', '.join(changed)}）。")
    return existing, False


# --- appliers, one per entity ----------------------------------------------------------------


def apply_assignment_reveal(push: Push, entity_id: str, data: dict) -> dict | None:
    """The device opened the envelope: with the reveal code (offline) or the server's key (online).

    An offline reveal is accepted whenever the device made it, and checked against the window
    by the device's reveal time (`reveal_checks`): what looks odd is flagged, never refused."""
    _same_id(entity_id, str(data["assignment_uuid"]))
    assignment = _assignment(data["assignment_uuid"], push.user, "reveal")
    if data["how"] != "code":
        # An online reveal was recorded (inside the window) when the server released the key.
        return None
    # The server's clock, not the device's, dates the transition.
    record_offline_reveal(assignment, push.user, channel="api")
    return {"reveal_flags": check_offline_reveal(push, assignment, data["revealed_at"])}


def _start(assignment: Assignment, user: User) -> None:
    """The first record of the visit moves the assignment to in_progress (revealing it if the
    device's offline reveal has not been reported)."""
    if assignment.status == "dispatched":
        record_offline_reveal(assignment, user, channel="api")
    if assignment.status == "revealed":
        mark_in_progress(assignment, user, channel="api")
    elif assignment.status != "in_progress":
        raise Conflict(f"任务{STATUS_LABELS[assignment.status]}，不能再记录督查。")


PARALLEL_RECORD_NOTICE = "本任务组内另一台设备也提交了记录，已作为并行记录保存，由办公室核定以哪份为准。"


def _lock_assignment(assignment: Assignment) -> None:
    """PostgreSQL: serialise the first records of one assignment, so that of two devices checking
    in at once exactly one finds no primary record (the unique (assignment_id, is_primary) would
    refuse the other's insert otherwise). SQLite runs one writer at a time and needs nothing."""
    if db.session.get_bind(mapper=Assignment).dialect.name == "postgresql":
        db.session.execute(sa.select(Assignment.id).where(Assignment.id == assignment.id).with_for_update())


def _join(assignment: Assignment) -> None:
    """A parallel record joins a visit under way or already submitted: another device of the team
    recorded it first, and nothing a team member recorded is dropped."""
    if assignment.status not in ("in_progress", "submitted", "closed"):
        raise Conflict(f"任务{STATUS_LABELS[assignment.status]}，不能再记录督查。")


def apply_inspection(push: Push, entity_id: str, data: dict) -> dict | None:
    """The device checked in. The assignment's first record is its primary record; a record from
    another device of the team (a second phone on the same visit) is kept as a parallel record,
    audited, and the answer tells the device so (`parallel_record`, `notice`)."""
    _same_id(entity_id, str(data["uuid"]))
    assignment = _assignment(data["assignment_uuid"], push.user)
    values = {"uuid": str(data["uuid"]), "assignment_id": assignment.id, "checked_in_at": data["checked_in_at"],
              "latitude": data["latitude"], "longitude": data["longitude"]}
    held = db.session.scalar(sa.select(Inspection).where(Inspection.uuid == values["uuid"]))
    primary = None
    if held is None:
        _lock_assignment(assignment)
        primary = db.session.scalar(sa.select(Inspection).where(Inspection.assignment_id == assignment.id,
                                                                Inspection.is_primary.is_(True)))
        if primary is None:
            _start(assignment, push.user)
        else:
            _join(assignment)
    inspection, created = _insert_once(Inspection, "督查记录", values if held is not None else {
        **values, "device_id": push.device_id, "inspector_id": push.user.id, "status": "draft",
        # SQL NULL, not None: the ORM would fill a None with the column's default (primary).
        "is_primary": True if primary is None else sa.null()})
    if created:
        record_event("inspection.checked_in", actor=push.user, channel="api", object_type="inspection",
                     object_id=values["uuid"], details={"assignment_id": assignment.id, "device_id": push.device_id})
        if primary is not None:
            record_event("inspection.parallel_record", actor=push.user, channel="api", object_type="inspection",
                         object_id=values["uuid"],
                         details={"assignment_id": assignment.id, "parallel": values["uuid"],
                                  "parallel_device_id": push.device_id, "primary": primary.uuid,
                                  "primary_device_id": primary.device_id})
    if inspection.is_primary is None:
        return {"parallel_record": True, "notice": PARALLEL_RECORD_NOTICE}
    return None


def _checklist_item(inspection: Inspection, item_code: str) -> dict:
    category = inspection.assignment.venue.category
    for rule in rules_bundle_for_category(category):
        for item in rule["items"]:
            if item["code"] == item_code:
                return item
    raise Invalid(f"检查项 {item_code} 不属于该场所类别适用的规则。")


def _check_value(item: dict, value) -> None:
    kind = item["value_type"]
    valid = {
        "boolean": lambda: isinstance(value, bool),
        "integer": lambda: isinstance(value, int) and not isinstance(value, bool) and value >= 0,
        "choice": lambda: value in [choice["value"] for choice in item.get("choices") or ()],
        "text": lambda: isinstance(value, str) and bool(value.strip()),
    }.get(kind, lambda: False)()
    if not valid:
        expected = {"boolean": "是/否（true/false）", "integer": "非负整数", "choice": "给定选项之一",
                    "text": "非空文字"}.get(kind, kind)
        raise Invalid(f"检查项 {item['code']}（{item['prompt']}）的值应为{expected}。")


def plan_observation(push: Push, entity_id: str, data: dict) -> RowPlan | None:
    _same_id(entity_id, f"{data['inspection_uuid']}/{data['item_code']}")
    inspection = _inspection(data["inspection_uuid"], push.user)
    if inspection.status != "draft":
        held = db.session.scalar(sa.select(Observation.value).where(Observation.inspection_id == inspection.id,
                                                                    Observation.item_code == data["item_code"]))
        if held is not None and held == data["value"]:
            return None  # the same value again: nothing to change
        _require_draft(inspection)
    _check_value(_checklist_item(inspection, data["item_code"]), data["value"])
    # Operations apply in the server's order: a later value for the item stands.
    return RowPlan(Observation, "检查项记录", ("inspection_id", "item_code"),
                   {"inspection_id": inspection.id, "item_code": data["item_code"], "value": data["value"],
                    "recorded_at": data["recorded_at"]}, update=("value", "recorded_at"))


def plan_finding(push: Push, entity_id: str, data: dict) -> RowPlan | None:
    _same_id(entity_id, str(data["uuid"]))
    inspection = _inspection(data["inspection_uuid"], push.user)
    return _new_record(RowPlan(Finding, "问题", ("uuid",), {
        "uuid": str(data["uuid"]), "inspection_id": inspection.id, "rule_code": data["rule_code"],
        "check_code": data["check_code"], "description": data["description"], "source": data["source"],
        "created_at": data["created_at"]}), inspection)


def _new_record(plan: RowPlan, inspection: Inspection) -> RowPlan | None:
    """A record of a draft inspection is planned (its write settles a held twin); a submitted
    inspection takes no new records, but the same record again is no change."""
    if inspection.status == "draft":
        return plan
    if _held(plan.model, plan.values["uuid"]) is None:
        _require_draft(inspection)
    settle_with_held(plan)
    return None


def apply_finding_withdrawal(push: Push, entity_id: str, data: dict) -> None:
    _same_id(entity_id, str(data["finding_uuid"]))
    finding = _finding(data["finding_uuid"], push.user)
    if finding.withdrawn_at is not None:
        return
    _require_draft(db.session.get(Inspection, finding.inspection_id))
    finding.withdrawn_at = data["withdrawn_at"]
    db.session.flush()


def apply_photo(push: Push, entity_id: str, data: dict) -> dict:
    """The photo's manifest entry; the answer says whether the server holds its bytes already (the
    same SHA-256, uploaded before the record or for another record), so that they are not sent again."""
    _same_id(entity_id, str(data["uuid"]))
    inspection = _inspection(data["inspection_uuid"], push.user)
    finding = _finding(data["finding_uuid"], push.user, inspection) if data["finding_uuid"] else None
    values = {"uuid": str(data["uuid"]), "inspection_id": inspection.id,
              "finding_id": finding.id if finding else None, "sha256": data["sha256"], "size": data["size"],
              "filename": data["filename"], "original_name": data["original_name"],
              "media_type": data["media_type"], "caption": data["caption"], "exif_time": data["exif_time"],
              "exif_latitude": data["latitude"], "exif_longitude": data["longitude"],
              "exif_orientation": data["orientation"], "taken_at": data["created_at"]}
    existing = _held(Photo, values["uuid"])
    if existing is None:
        _require_draft(inspection)
    photo, created = _insert_once(Photo, "照片", values, existing)
    if created:
        check_photo_position(photo, inspection, push.user)
        # The bytes may have arrived before the record that names them.
        lock_sha256(photo.sha256)
        evidence = db.session.scalar(sa.select(EvidenceFile).where(EvidenceFile.sha256 == photo.sha256))
        if evidence is not None:
            photo.evidence_file_id, photo.received_at = evidence.id, utcnow()
            db.session.flush()
    return {"photo_received": photo.received_at is not None}


def plan_penalty(push: Push, entity_id: str, data: dict) -> RowPlan | None:
    _same_id(entity_id, str(data["uuid"]))
    finding = _finding(data["finding_uuid"], push.user)
    inspection = db.session.get(Inspection, finding.inspection_id)
    if inspection.status == "draft" and not inspection.assignment.may_propose_penalties:
        raise Conflict("该任务不允许提出处罚建议（组内无持执法证人员）。")
    return _new_record(RowPlan(Penalty, "处罚建议", ("uuid",), {
        "uuid": str(data["uuid"]), "finding_id": finding.id, "type": data["type"], "amount": data["amount"],
        "basis_code": data["basis_code"], "created_at": data["created_at"]}), inspection)


def plan_note(push: Push, entity_id: str, data: dict) -> RowPlan | None:
    _same_id(entity_id, str(data["uuid"]))
    inspection = _inspection(data["inspection_uuid"], push.user)
    return _new_record(RowPlan(ExampleNote, "典型材料", ("uuid",), {
        "uuid": str(data["uuid"]), "inspection_id": inspection.id, "kind": data["kind"], "text": data["text"],
        "created_at": data["created_at"]}), inspection)


def apply_submission(push: Push, entity_id: str, data: dict) -> None:
    """Freeze the record, move the assignment to submitted, store the violations the server's own
    evaluation finds; complete at once when every manifest photo is already here."""
    _same_id(entity_id, str(data["inspection_uuid"]))
    inspection = _inspection(data["inspection_uuid"], push.user)
    if inspection.status != "draft":
        return  # submitted before (the same submission queued twice)
    assignment = inspection.assignment
    primary = inspection.is_primary is True
    if assignment.status == "in_progress" and primary:
        mark_submitted(assignment, push.user, channel="api")
    elif assignment.status not in ("in_progress", "submitted", "closed"):
        raise Conflict(f"任务{STATUS_LABELS[assignment.status]}，不能提交督查记录。")
    inspection.status = "awaiting_evidence"
    inspection.submitted_at = data["submitted_at"]
    inspection.submission_received_at = utcnow()
    db.session.flush()
    # A parallel record stores no violations and moves nothing downstream: the assignment, its
    # cases and reports follow the primary record alone (store_violations stores none for it).
    violations, _ = store_violations(inspection)
    record_event("inspection.submitted", actor=push.user, channel="api", object_type="inspection",
                 object_id=inspection.uuid,
                 details={"assignment_id": assignment.id, "photos": photo_counts(inspection)[0],
                          "violations": [f"{v.rule_code}/{v.check_code}" for v in violations],
                          **({} if primary else {"parallel_record": True})})
    if primary:
        # A re-inspection (复查) decides its rectification order (enforcement subscribes).
        inspection_submitted.send(inspection, violations=violations, actor=push.user)
    if not complete_if_all_received(inspection):
        record_inspection_change(inspection)


def _signatures():
    # Imported when first used: `signatures` is built on this module's helpers.
    from . import signatures

    return signatures


# What each applier may add to its operation's answer (a dict of extra fields), or None.
APPLIERS: dict[str, Callable[[Push, str, dict], dict | None]] = {
    "assignment_reveal": apply_assignment_reveal,
    "inspection": with_checkin_checks(apply_inspection),
    "finding_withdrawal": apply_finding_withdrawal,
    "photo": apply_photo,
    "inspection_submission": apply_submission,
    "amendment": apply_amendment,
    "signature": lambda *operation: _signatures().apply_signature(*operation),
}

# Operations that write one row, planned and written in runs (see `push._write_run`).
PLANNERS: dict[str, Callable[[Push, str, dict], RowPlan | None]] = {
    "observation": plan_observation,
    "finding": plan_finding,
    "penalty": plan_penalty,
    "note": plan_note,
}
# Planners that read rows a waiting run may hold (a penalty looks up its finding).
READS_PLANNED = frozenset({"penalty"})
