"""Field sync: apply a device's pushed operations exactly once, and hand out changes to pull.

DESIGN.md §5. Each operation `{op_id, entity, entity_id, payload, payload_sha256}`:

- its hash must be the SHA-256 of the payload's canonical JSON (sorted keys, no whitespace,
  UTF-8), else 422 for that operation;
- an op_id applied before answers its stored result again with the same hash (nothing is
  applied twice), and 409 with another hash;
- a refused operation undoes only itself, the rest of the batch applies and the request commits
  at the end. Most operations of a visit add one row (an observation, a finding, a note, a
  penalty): their planners (`PLANNERS`) check everything and say which row to write; runs of
  such operations are written together — their op_ids claimed in one INSERT … ON CONFLICT DO
  NOTHING, their rows in one per table — and a row that meets a held one is compared (same:
  success; different: 409, the claim deleted). No SAVEPOINT is needed for them. The other
  operations apply one by one inside a SAVEPOINT of their own;
- the applier of its entity (`APPLIERS`) checks that the user is a member of the assignment's
  team and that the inspection is still a draft (submitted records are immutable; amendments
  append); a record the server already holds under the same device UUID is success when
  identical (the same change queued twice) and 409 when not.

Applied operations are numbered by `sync_operation.id` (the server's sequence); the device's
clock is recorded with its skew and never used for ordering. Refusals are not stored: a device
may send the operation again once the cause is gone.

Photos: a `photo` operation adds an entry to the inspection's manifest; its bytes arrive by tus.
Whichever comes second marks the photo received (here, or in `on_evidence_stored`). A submitted
inspection is `awaiting_evidence` until every manifest photo is received, then `complete`.

Services flush and never commit; the request commits.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

import rulecheck

from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import as_utc, utcnow
from ..draws.assignments import (
    STATUS_LABELS,
    find_assignment,
    mark_in_progress,
    mark_submitted,
    record_offline_reveal,
)
from ..draws.changes import record_change
from ..draws.models.changes import SyncChange
from ..draws.models.draw import Assignment, AssignmentMember
from ..errors import Conflict, Invalid, NotFound, Problem
from ..extensions import db
from ..registry.loader import rules_bundle_for_category, venue_facts
from .models.evidence import EvidenceFile
from .models.inspection import (
    Amendment,
    ExampleNote,
    Finding,
    Inspection,
    Observation,
    Penalty,
    Photo,
    SyncOperation,
    Violation,
)
from .schemas import sync as schemas
from .signals import inspection_submitted

log = logging.getLogger(__name__)

SKEW_LIMIT_SECONDS = 300
PULL_PAGE_SIZE = 500
INSPECTION_STATUS_LABELS = {"draft": "草稿", "awaiting_evidence": "等待照片", "complete": "已完整"}
ENTITY_LABELS = {
    "assignment_reveal": "揭封记录", "inspection": "督查记录", "observation": "检查项记录", "finding": "问题",
    "finding_withdrawal": "问题撤回", "photo": "照片", "penalty": "处罚建议", "note": "典型材料",
    "inspection_submission": "提交", "amendment": "更正",
}


def canonical_json(value) -> bytes:
    """The bytes a payload's hash covers, exactly as the field client makes them."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def payload_sha256(payload) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()


@dataclass(frozen=True)
class Push:
    """Who pushes, from which device, and how far its clock is off."""

    user: User
    device_id: str
    device_time: datetime
    skew_seconds: float

    @property
    def skew_flagged(self) -> bool:
        return abs(self.skew_seconds) > SKEW_LIMIT_SECONDS


class _Replayed(Exception):
    """The op_id is already stored (by an earlier push, or a concurrent one that just committed)."""


class _RetryCarefully(Exception):
    """An optimistic insert (without its own savepoint) hit a UNIQUE constraint: the operation's
    savepoint is rolled back and the operation runs again on the careful path."""


@dataclass
class _Batch:
    """Per-push lookups, so that a batch of 500 does not ask the same questions 500 times.

    `stored`: (hash, result) of the batch's op_ids already stored (one query up front, then the
    operations this push applies). `pending`: results written in one statement at the end.
    `assignment_ids` / `inspections`: by UUID, positive answers only (a row found or inserted
    stays; a missing one is asked again). `absent`: device UUIDs of new records no row had when
    the push began (asked once for the batch; each is trusted once, then asked again).
    `careful`: the operation being retried after an optimistic insert failed runs every insert
    in a savepoint of its own and trusts no cached absence.
    """

    stored: dict = field(default_factory=dict)  # op_id → (payload_sha256, result)
    pending: list = field(default_factory=list)  # (server_seq, result) whose result is not written yet
    assignment_ids: dict = field(default_factory=dict)
    inspections: dict = field(default_factory=dict)
    careful: bool = False
    absent: dict = field(default_factory=dict)  # model → device UUIDs of the batch no row had at its start
    planned: list = field(default_factory=list)  # _Planned operations not written yet, in order
    planned_op_ids: set = field(default_factory=set)


@dataclass(frozen=True)
class RowPlan:
    """The one row a planned operation writes. A row meeting a held one with the same `unique`
    values is compared (other content → 409), except the `update` columns, which the later
    operation overwrites (an observation corrected before submission)."""

    model: type
    label: str
    unique: tuple[str, ...]
    values: dict
    update: tuple[str, ...] = ()

    @property
    def key(self) -> tuple:
        return tuple(self.values[name] for name in self.unique)


@dataclass
class _Planned:
    """An operation checked and waiting to be written with the rest of its run."""

    operation: dict
    plan: RowPlan | None  # None: nothing to write (the same value again), success all the same
    answer: dict | None = None


_batch: contextvars.ContextVar[_Batch | None] = contextvars.ContextVar("anfang_sync_batch", default=None)


# --- push ------------------------------------------------------------------------------------


def apply_push(user: User, device_id: str, device_time: datetime, operations: list[dict]) -> dict:
    """Apply a batch in order; one result per operation. Flushes, never commits."""
    now = utcnow()
    push = Push(user=user, device_id=str(device_id), device_time=device_time,
                skew_seconds=round((device_time - now).total_seconds(), 3))
    batch = _Batch()
    op_ids = sorted({str(operation["op_id"]) for operation in operations})
    for start in range(0, len(op_ids), 400):
        for stored in db.session.scalars(sa.select(SyncOperation)
                                         .where(SyncOperation.op_id.in_(op_ids[start:start + 400]))
                                         .execution_options(populate_existing=True)):
            batch.stored[stored.op_id] = (stored.payload_sha256, stored.result)
    _prefetch_absent(batch, operations)
    token = _batch.set(batch)
    try:
        results = [_apply_operation(push, operation) for operation in operations]
        _write_planned(push, batch)
        _write_results(batch)
    finally:
        _batch.reset(token)
    results = [dict(result.answer) if isinstance(result, _Planned) else result for result in results]
    if push.skew_flagged:
        log.warning("device %s of %s pushed with a clock %.0f s off", push.device_id, user.username,
                    push.skew_seconds)
    return {"results": results, "server_time": now, "clock_skew_seconds": push.skew_seconds,
            "skew_flagged": push.skew_flagged}


def _prefetch_absent(batch: _Batch, operations: list[dict]) -> None:
    """Which records the batch names by device UUID are not on the server yet: one query per
    kind instead of one per operation."""
    wanted: dict = {}
    for operation in operations:
        model = _UUID_MODELS.get(operation["entity"])
        payload = operation["payload"]
        uuid = payload.get("uuid") if isinstance(payload, dict) else None
        if model is not None and isinstance(uuid, str):
            wanted.setdefault(model, set()).add(uuid)
    for model, uuids in wanted.items():
        uuids = sorted(uuids)
        present = set()
        for start in range(0, len(uuids), 400):
            present.update(db.session.scalars(sa.select(model.uuid).where(model.uuid.in_(uuids[start:start + 400]))))
        batch.absent[model] = set(uuids) - present


def _write_results(batch: _Batch) -> None:
    """Store the result of every operation this push applied, in one executemany UPDATE."""
    if not batch.pending:
        return
    table = SyncOperation.__table__
    db.session.execute(table.update().where(table.c.id == sa.bindparam("_id"))
                       .values(result=sa.bindparam("_result")),
                       [{"_id": seq, "_result": result} for seq, result in batch.pending])
    batch.pending.clear()


def _stored(op_id: str) -> SyncOperation | None:
    return db.session.scalar(sa.select(SyncOperation).where(SyncOperation.op_id == op_id)
                             .execution_options(populate_existing=True))


_OP_ID_REUSED = "该操作编号已用于内容不同的操作，本操作被拒绝；请用新的操作编号重新记录。"


def _answer_replay(stored: SyncOperation, digest: str) -> dict:
    if stored.payload_sha256 != digest:
        return {"op_id": stored.op_id, "status": 409, "detail": _OP_ID_REUSED}
    return dict(stored.result)


def _apply_operation(push: Push, operation: dict, *, retried: bool = False) -> dict:
    op_id = str(operation["op_id"])
    entity, entity_id, payload = operation["entity"], operation["entity_id"], operation["payload"]
    digest = operation["payload_sha256"]
    try:
        actual = payload_sha256(payload)
    except ValueError:
        actual = None
    if actual != digest:
        return {"op_id": op_id, "status": 422,
                "detail": "payload_sha256 与载荷的规范 JSON（键排序、无空白、UTF-8）的 SHA-256 不符。"}
    batch = _batch.get()
    if batch is not None and (entity not in PLANNERS or entity in _READS_PLANNED or op_id in batch.planned_op_ids):
        # It reads what the waiting run writes (or is the same operation again): write that first.
        _write_planned(push, batch)
    if batch is not None and not retried:
        held = batch.stored.get(op_id)
        if held is not None:
            stored_digest, stored_result = held
            if stored_digest != digest:
                return {"op_id": op_id, "status": 409, "detail": _OP_ID_REUSED}
            return dict(stored_result)
        stored = None
    else:
        stored = _stored(op_id)
    if stored is not None:
        return _answer_replay(stored, digest)
    if entity in PLANNERS:
        try:
            plan = PLANNERS[entity](push, entity_id, _load(entity, payload))
        except Problem as problem:
            return {"op_id": op_id, "status": problem.status, "detail": problem.detail}
        planned = _Planned(operation, plan)
        if batch is None:
            _write_run(push, [planned])
            return dict(planned.answer)
        batch.planned.append(planned)
        batch.planned_op_ids.add(op_id)
        return planned
    applier = APPLIERS.get(entity)
    if applier is None:
        return {"op_id": op_id, "status": 422, "detail": f"未知的实体类型：{entity}。"}
    try:
        with db.session.begin_nested():
            record = SyncOperation(op_id=op_id, device_id=push.device_id, user_id=push.user.id, entity=entity,
                                   entity_id=entity_id, payload_sha256=digest, device_time=push.device_time,
                                   skew_seconds=push.skew_seconds, skew_flagged=push.skew_flagged)
            # No savepoint of its own: a UNIQUE failure here rolls back the operation's savepoint,
            # which holds nothing else yet.
            db.session.add(record)
            try:
                db.session.flush()
            except IntegrityError:
                raise _Replayed() from None
            applier(push, entity_id, _load(entity, payload))
            result = {"op_id": op_id, "status": 200, "server_seq": record.id}
            if batch is None:
                record.result = result
                db.session.flush()
            else:
                batch.pending.append((record.id, result))
                batch.stored[op_id] = (digest, result)
            return dict(result)
    except _RetryCarefully:
        db.session.expire_all()
        batch.careful = True
        try:
            return _apply_operation(push, operation, retried=retried)
        finally:
            batch.careful = False
    except _Replayed:
        db.session.expire_all()
        stored = _stored(op_id)
        if stored is None:
            if retried:
                raise RuntimeError(f"operation {op_id} could neither be inserted nor found")
            # The concurrent transaction holding this op_id rolled back after all: try once more.
            return _apply_operation(push, operation, retried=True)
        return _answer_replay(stored, digest)
    except Problem as problem:
        # The savepoint is rolled back; objects whose rows it changed (an assignment's status)
        # must be read again rather than trusted from memory.
        db.session.expire_all()
        return {"op_id": op_id, "status": problem.status, "detail": problem.detail}


def _write_planned(push: Push, batch: _Batch) -> None:
    planned, batch.planned = batch.planned, []
    batch.planned_op_ids.clear()
    if planned:
        _write_run(push, planned, batch)


_ROWS_PER_STATEMENT = 200  # × ≤ 12 columns: well inside SQLite's and PostgreSQL's parameter limits


def _write_run(push: Push, run: list[_Planned], batch: _Batch | None = None) -> None:
    """Write a run of planned operations: claim their op_ids, insert their rows, settle the rows
    that met held ones; fill in each `answer`.

    The claims come first and in the operations' order (so server_seq follows it): an op_id a
    concurrent push holds is not claimed here — on PostgreSQL the insert waits for that push and
    then skips its row — and is answered with that push's stored result, its row never written.
    """
    table = SyncOperation.__table__
    claims: dict[str, int] = {}
    for start in range(0, len(run), _ROWS_PER_STATEMENT):
        rows = [{"op_id": str(item.operation["op_id"]), "device_id": push.device_id, "user_id": push.user.id,
                 "entity": item.operation["entity"], "entity_id": item.operation["entity_id"],
                 "payload_sha256": item.operation["payload_sha256"], "device_time": push.device_time,
                 "skew_seconds": push.skew_seconds, "skew_flagged": push.skew_flagged, "created_at": utcnow()}
                for item in run[start:start + _ROWS_PER_STATEMENT]]
        claims.update((op_id, seq) for seq, op_id in db.session.execute(
            _insert_ignoring_held(table, ("op_id",), (table.c.id, table.c.op_id)), rows))
    refused: list[int] = []
    by_model: dict = {}
    for item in run:
        op_id = str(item.operation["op_id"])
        if op_id not in claims:
            item.answer = _answer_replay(_stored(op_id), item.operation["payload_sha256"])
        elif item.plan is not None:
            by_model.setdefault(item.plan.model, []).append(item)
    for model, items in by_model.items():
        plan = items[0].plan
        columns = [model.__table__.c[name] for name in plan.unique]
        inserted: set = set()
        for start in range(0, len(items), _ROWS_PER_STATEMENT):
            rows = [item.plan.values for item in items[start:start + _ROWS_PER_STATEMENT]]
            inserted.update(tuple(row) for row in db.session.execute(
                _insert_ignoring_held(model.__table__, plan.unique, tuple(columns)), rows))
        for item in items:
            key = item.plan.key
            if key in inserted:
                inserted.discard(key)  # a later operation with the same key meets this row
                continue
            try:
                _settle_with_held(item.plan)
            except Problem as problem:
                item.answer = {"op_id": str(item.operation["op_id"]), "status": problem.status,
                               "detail": problem.detail}
                refused.append(claims[str(item.operation["op_id"])])
    if refused:
        db.session.execute(sa.delete(SyncOperation).where(SyncOperation.id.in_(refused)),
                           execution_options={"synchronize_session": False})
    for item in run:
        if item.answer is None:
            op_id = str(item.operation["op_id"])
            item.answer = {"op_id": op_id, "status": 200, "server_seq": claims[op_id]}
            if batch is None:
                db.session.execute(sa.update(SyncOperation).where(SyncOperation.id == claims[op_id])
                                   .values(result=item.answer), execution_options={"synchronize_session": False})
            else:
                batch.pending.append((claims[op_id], item.answer))
                batch.stored[op_id] = (item.operation["payload_sha256"], item.answer)


def _insert_ignoring_held(table, unique: tuple[str, ...], returning: tuple):
    """INSERT … ON CONFLICT (unique) DO NOTHING RETURNING …, in the session's dialect, built once:
    executed with a list of rows, SQLAlchemy sends them as multi-row VALUES ("insertmanyvalues")
    without compiling a statement per run."""
    dialect = db.session.get_bind(mapper=SyncOperation).dialect.name
    key = (dialect, table.name, unique, tuple(column.name for column in returning))
    statement = _INSERTS_IGNORING_HELD.get(key)
    if statement is None:
        insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
        statement = insert(table).on_conflict_do_nothing(index_elements=list(unique)).returning(*returning)
        _INSERTS_IGNORING_HELD[key] = statement
    return statement


_INSERTS_IGNORING_HELD: dict = {}


def _settle_with_held(plan: RowPlan) -> None:
    """A planned row met a held one: overwrite its `update` columns, or require the same content."""
    model = plan.model
    where = [model.__table__.c[name] == value for name, value in zip(plan.unique, plan.key)]
    if plan.update:
        db.session.execute(sa.update(model).where(*where).values({name: plan.values[name] for name in plan.update}),
                           execution_options={"synchronize_session": False})
        return
    existing = db.session.scalar(sa.select(model).where(*where).execution_options(populate_existing=True))
    label = f"编号为 {plan.values.get('uuid', '')} 的{plan.label}"
    if existing is None:
        raise Conflict(f"{label}与服务器上已有的记录冲突。")
    changed = sorted(name for name, value in plan.values.items() if _differs(getattr(existing, name), value))
    if changed:
        raise Conflict(f"{label}已存在，但内容不同（{', '.join(changed)}）。")


def _load(entity: str, payload: dict) -> dict:
    try:
        return _PAYLOAD_LOADERS[entity].load(payload)
    except ma.ValidationError as error:
        messages = error.normalized_messages()
        summary = "；".join(f"{field}：{'、'.join(map(str, problems)) if isinstance(problems, list) else problems}"
                           for field, problems in messages.items())
        raise Invalid(f"{ENTITY_LABELS[entity]}内容无效：{summary}", errors=messages) from None


# --- lookups ---------------------------------------------------------------------------------


def _same_id(entity_id: str, expected: str) -> None:
    if entity_id != expected:
        raise Invalid(f"entity_id {entity_id} 与载荷中的编号 {expected} 不一致。")


def _assignment(assignment_uuid, user: User, action: str = "work") -> Assignment:
    batch = _batch.get()
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
    batch = _batch.get()
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


def _differs(current, wanted) -> bool:
    if isinstance(current, datetime) or isinstance(wanted, datetime):
        return as_utc(current) != as_utc(wanted)
    return current != wanted


def _held(model, uuid: str):
    batch = _batch.get()
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
    batch = _batch.get()
    if existing is None and batch is not None and not batch.careful:
        row = model(**values)
        db.session.add(row)
        try:
            db.session.flush()
        except IntegrityError:
            raise _RetryCarefully() from None
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
    changed = sorted(name for name, value in values.items() if _differs(getattr(existing, name), value))
    if changed:
        raise Conflict(f"编号为 {values['uuid']} 的{label}已存在，但内容不同（{', '.join(changed)}）。")
    return existing, False


def photo_counts(inspection: Inspection) -> tuple[int, int]:
    """(photos in the manifest, photos received), counted in the database: rows this push just
    inserted are not in an `inspection.photos` loaded earlier."""
    expected, received = db.session.execute(
        sa.select(sa.func.count(Photo.id), sa.func.count(Photo.received_at)).where(Photo.inspection_id == inspection.id)
    ).one()
    return expected, received


def _inspection_change(inspection: Inspection) -> None:
    expected, received = photo_counts(inspection)
    record_change(inspection.assignment_id, "inspection", inspection.uuid, {
        "uuid": inspection.uuid, "assignment_id": inspection.assignment_id, "status": inspection.status,
        "status_label": INSPECTION_STATUS_LABELS[inspection.status], "photos_expected": expected,
        "photos_received": received})


# --- appliers, one per entity ----------------------------------------------------------------


def apply_assignment_reveal(push: Push, entity_id: str, data: dict) -> None:
    """The device opened the envelope: with the reveal code (offline) or the server's key (online)."""
    _same_id(entity_id, str(data["assignment_uuid"]))
    assignment = _assignment(data["assignment_uuid"], push.user, "reveal")
    if data["how"] == "code":
        # The server's clock, not the device's, dates the transition.
        record_offline_reveal(assignment, push.user, channel="api")
    # An online reveal was recorded when the server released the key.


def _start(assignment: Assignment, user: User) -> None:
    """The first record of the visit moves the assignment to in_progress (revealing it if the
    device's offline reveal has not been reported)."""
    if assignment.status == "dispatched":
        record_offline_reveal(assignment, user, channel="api")
    if assignment.status == "revealed":
        mark_in_progress(assignment, user, channel="api")
    elif assignment.status != "in_progress":
        raise Conflict(f"任务{STATUS_LABELS[assignment.status]}，不能再记录督查。")


def apply_inspection(push: Push, entity_id: str, data: dict) -> None:
    _same_id(entity_id, str(data["uuid"]))
    assignment = _assignment(data["assignment_uuid"], push.user)
    values = {"uuid": str(data["uuid"]), "assignment_id": assignment.id, "checked_in_at": data["checked_in_at"],
              "latitude": data["latitude"], "longitude": data["longitude"]}
    held = db.session.scalar(sa.select(Inspection).where(Inspection.uuid == values["uuid"]))
    if held is None:
        other = db.session.scalar(sa.select(Inspection.uuid).where(Inspection.assignment_id == assignment.id))
        if other is not None:
            raise Conflict(f"该任务已有另一台设备的督查记录（{other}），同一任务只能有一份督查记录。")
        _start(assignment, push.user)
    _, created = _insert_once(Inspection, "督查记录", values if held is not None else {
        **values, "device_id": push.device_id, "inspector_id": push.user.id, "status": "draft"})
    if created:
        record_event("inspection.checked_in", actor=push.user, channel="api", object_type="inspection",
                     object_id=values["uuid"], details={"assignment_id": assignment.id, "device_id": push.device_id})


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
    _settle_with_held(plan)
    return None


def apply_finding_withdrawal(push: Push, entity_id: str, data: dict) -> None:
    _same_id(entity_id, str(data["finding_uuid"]))
    finding = _finding(data["finding_uuid"], push.user)
    if finding.withdrawn_at is not None:
        return
    _require_draft(db.session.get(Inspection, finding.inspection_id))
    finding.withdrawn_at = data["withdrawn_at"]
    db.session.flush()


def apply_photo(push: Push, entity_id: str, data: dict) -> None:
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
        # The bytes may have arrived before the record that names them.
        lock_sha256(photo.sha256)
        evidence = db.session.scalar(sa.select(EvidenceFile).where(EvidenceFile.sha256 == photo.sha256))
        if evidence is not None:
            photo.evidence_file_id, photo.received_at = evidence.id, utcnow()
            db.session.flush()


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
    if assignment.status == "in_progress":
        mark_submitted(assignment, push.user, channel="api")
    elif assignment.status not in ("submitted", "closed"):
        raise Conflict(f"任务{STATUS_LABELS[assignment.status]}，不能提交督查记录。")
    inspection.status = "awaiting_evidence"
    inspection.submitted_at = data["submitted_at"]
    inspection.submission_received_at = utcnow()
    db.session.flush()
    violations, _ = store_violations(inspection)
    record_event("inspection.submitted", actor=push.user, channel="api", object_type="inspection",
                 object_id=inspection.uuid,
                 details={"assignment_id": assignment.id, "photos": photo_counts(inspection)[0],
                          "violations": [f"{v.rule_code}/{v.check_code}" for v in violations]})
    # A re-inspection (复查) decides its rectification order (enforcement subscribes).
    inspection_submitted.send(inspection, violations=violations, actor=push.user)
    if not complete_if_all_received(inspection):
        _inspection_change(inspection)


def apply_amendment(push: Push, entity_id: str, data: dict) -> None:
    """A correction to a submitted record: appended, never applied over the original; the
    record's rules are evaluated again with the corrected observations."""
    _same_id(entity_id, str(data["uuid"]))
    inspection = _inspection(data["inspection_uuid"], push.user)
    values = {"uuid": str(data["uuid"]), "inspection_id": inspection.id, "reason": data["reason"],
              "payload": data["payload"], "created_at": data["created_at"]}
    held = db.session.scalar(sa.select(Amendment.id).where(Amendment.uuid == values["uuid"]))
    if held is None:
        if inspection.status == "draft":
            raise Conflict("该督查记录尚未提交，请直接修改，无需更正。")
        _check_amended_observations(inspection, data["payload"])
    amendment, created = _insert_once(Amendment, "更正", values)
    if created:
        added, withdrawn = store_violations(inspection, amendment=amendment)
        record_event("inspection.amended", actor=push.user, channel="api", object_type="inspection",
                     object_id=inspection.uuid,
                     details={"amendment": values["uuid"], "reason": data["reason"],
                              "observations": data["payload"]["observations"],
                              "violations_added": [f"{v.rule_code}/{v.check_code}" for v in added],
                              "violations_withdrawn": [f"{v.rule_code}/{v.check_code}" for v in withdrawn]})


def _check_amended_observations(inspection: Inspection, payload: dict) -> None:
    """An amendment corrects observations: {"observations": {item code: value}}, each value
    valid for its checklist item, as a first recording would have to be. No observations: the
    amendment is an explanation only (its reason)."""
    observations = payload.get("observations")
    if set(payload) != {"observations"} or not isinstance(observations, dict):
        raise Invalid("更正内容应为 {\"observations\": {检查项代码: 值}}。",
                      errors={"payload": ["只能包含 observations。"]})
    for item_code, value in observations.items():
        _check_value(_checklist_item(inspection, item_code), value)


APPLIERS: dict[str, Callable[[Push, str, dict], None]] = {
    "assignment_reveal": apply_assignment_reveal,
    "inspection": apply_inspection,
    "finding_withdrawal": apply_finding_withdrawal,
    "photo": apply_photo,
    "inspection_submission": apply_submission,
    "amendment": apply_amendment,
}

# Operations that write one row, planned and written in runs (see `_write_run`).
PLANNERS: dict[str, Callable[[Push, str, dict], RowPlan | None]] = {
    "observation": plan_observation,
    "finding": plan_finding,
    "penalty": plan_penalty,
    "note": plan_note,
}
# Planners that read rows a waiting run may hold (a penalty looks up its finding).
_READS_PLANNED = frozenset({"penalty"})

_UUID_MODELS = {"photo": Photo}

PAYLOAD_SCHEMAS: dict[str, type[ma.Schema]] = {
    "assignment_reveal": schemas.AssignmentRevealPayload,
    "inspection": schemas.InspectionPayload,
    "observation": schemas.ObservationPayload,
    "finding": schemas.FindingPayload,
    "finding_withdrawal": schemas.FindingWithdrawalPayload,
    "photo": schemas.PhotoPayload,
    "penalty": schemas.PenaltyPayload,
    "note": schemas.NotePayload,
    "inspection_submission": schemas.SubmissionPayload,
    "amendment": schemas.AmendmentPayload,
}
# One instance per schema, shared: loading does not change a marshmallow schema, and building
# its fields for each of 500 operations costs more than the load itself.
_PAYLOAD_LOADERS = {entity: schema() for entity, schema in PAYLOAD_SCHEMAS.items()}


# --- violations and completion ---------------------------------------------------------------


def effective_observations(inspection: Inspection) -> dict:
    """The record's observations with its amendments laid over them in the server's order."""
    observations = dict(db.session.execute(
        sa.select(Observation.item_code, Observation.value).where(Observation.inspection_id == inspection.id)).all())
    for payload in db.session.scalars(sa.select(Amendment.payload).where(Amendment.inspection_id == inspection.id)
                                      .order_by(Amendment.id)):
        observations.update((payload or {}).get("observations") or {})
    return observations


def store_violations(inspection: Inspection, *, amendment: Amendment | None = None
                     ) -> tuple[list[Violation], list[Violation]]:
    """Evaluate the observations (amendments applied) with the rules of the venue's category (the
    bundle the device used) and store each violated check with the venue, its county and the
    departments responsible for its category.

    Idempotent: a check already stored is not stored again. With an `amendment`, a live
    violation the corrected observations clear is withdrawn, and one withdrawn before that they
    break again is live again. Returns (live violations, violations withdrawn now).
    """
    venue = inspection.assignment.venue
    facts = venue_facts(venue)
    observations = effective_observations(inspection)
    findings = {(finding.rule_code, finding.check_code): finding.id for finding in db.session.scalars(
        sa.select(Finding).where(Finding.inspection_id == inspection.id, Finding.withdrawn_at.is_(None)))}
    held = {(v.rule_code, v.check_code): v for v in db.session.scalars(
        sa.select(Violation).where(Violation.inspection_id == inspection.id))}
    department_ids = sorted(department.id for department in venue.category.departments)
    violated, evaluated = set(), set()
    for rule in rules_bundle_for_category(venue.category):
        own = {item["code"]: observations[item["code"]] for item in rule["items"] if item["code"] in observations}
        try:
            result = rulecheck.evaluate_rule(rule, venue=facts, observations=own)
        except rulecheck.ExpressionError:
            log.exception("rule %s could not be evaluated for inspection %s", rule["code"], inspection.uuid)
            continue
        for check in result.checks:
            key = (rule["code"], check.code)
            evaluated.add(key)
            if check.outcome != rulecheck.VIOLATION:
                continue
            violated.add(key)
            existing = held.get(key)
            if existing is None:
                held[key] = Violation(inspection_id=inspection.id, finding_id=findings.get(key),
                                      rule_code=rule["code"], check_code=check.code, description=check.description,
                                      venue_id=venue.id, county_id=venue.county_id, department_ids=department_ids,
                                      amendment_id=amendment.id if amendment else None)
                db.session.add(held[key])
            elif existing.withdrawn_at is not None and amendment is not None:
                existing.withdrawn_at = existing.withdrawn_by_amendment_id = None
                existing.amendment_id = amendment.id
    withdrawn = []
    if amendment is not None:
        now = utcnow()
        for key, violation in held.items():
            # Only a check evaluated now and passing is cleared; one whose rule could not be
            # evaluated keeps its standing.
            if violation.withdrawn_at is None and key in evaluated and key not in violated:
                violation.withdrawn_at, violation.withdrawn_by_amendment_id = now, amendment.id
                withdrawn.append(violation)
    db.session.flush()
    live = sorted((v for v in held.values() if v.withdrawn_at is None), key=lambda v: (v.rule_code, v.check_code))
    return live, sorted(withdrawn, key=lambda v: (v.rule_code, v.check_code))


def complete_if_all_received(inspection: Inspection) -> bool:
    """`awaiting_evidence` → `complete` once every manifest photo is received; True if it moved."""
    if inspection.status != "awaiting_evidence":
        return False
    expected, received = photo_counts(inspection)
    if received < expected:
        return False
    inspection.status = "complete"
    inspection.completed_at = utcnow()
    db.session.flush()
    record_event("inspection.completed", channel="api", object_type="inspection", object_id=inspection.uuid,
                 details={"assignment_id": inspection.assignment_id, "photos": expected})
    _inspection_change(inspection)
    return True


def lock_sha256(sha256: str) -> None:
    """PostgreSQL: serialise, per SHA-256, a photo record meeting its bytes.

    A push inserting a photo and an upload storing its bytes each take this lock after their
    own insert and before looking for the other: whichever comes second sees the first one's
    committed row, so a photo is never left waiting for bytes that are already stored. SQLite
    runs one writer at a time and needs nothing.
    """
    if db.session.get_bind(mapper=Photo).dialect.name == "postgresql":
        db.session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(f"anfang-sha256:{sha256}"))))


def mark_photos_received(evidence: EvidenceFile) -> list[Photo]:
    """Manifest photos with this SHA-256 are received; their submitted inspections may complete."""
    lock_sha256(evidence.sha256)
    photos = db.session.scalars(sa.select(Photo).where(Photo.sha256 == evidence.sha256,
                                                       Photo.received_at.is_(None))).all()
    now = utcnow()
    for photo in photos:
        photo.evidence_file_id, photo.received_at = evidence.id, now
    db.session.flush()
    for inspection_id in sorted({photo.inspection_id for photo in photos}):
        # Locked and read afresh: a submission committing meanwhile is seen, and it counts
        # the photos received here once this transaction commits.
        inspection = db.session.scalars(sa.select(Inspection).where(Inspection.id == inspection_id)
                                        .with_for_update().execution_options(populate_existing=True)).one()
        if not complete_if_all_received(inspection) and inspection.status == "awaiting_evidence":
            _inspection_change(inspection)
    return photos


# --- pull ------------------------------------------------------------------------------------


def pull_changes(user: User, cursor: int, limit: int | None = None) -> dict:
    """Changes after `cursor` for the assignments of the user's team, in the server's order;
    at most `limit` (default PULL_PAGE_SIZE), with `more` when another page follows."""
    limit = limit or PULL_PAGE_SIZE
    team = sa.select(AssignmentMember.assignment_id).where(AssignmentMember.user_id == user.id)
    rows = db.session.scalars(sa.select(SyncChange).where(SyncChange.id > cursor,
                                                          SyncChange.assignment_id.in_(team))
                              .order_by(SyncChange.id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {"changes": [{"seq": row.id, "entity": row.entity, "entity_id": row.entity_id, "data": row.data}
                        for row in rows],
            "cursor": rows[-1].id if rows else cursor, "more": more}
