"""Field sync push: apply a device's pushed operations exactly once, one result per operation.

DESIGN.md §5. Each operation `{op_id, entity, entity_id, payload, payload_sha256}`:

- its hash must be the SHA-256 of the payload's canonical JSON (sorted keys, no whitespace,
  UTF-8), else 422 for that operation;
- an op_id applied before answers its stored result again with the same hash (nothing is
  applied twice), and 409 with another hash;
- a refused operation undoes only itself, the rest of the batch applies and the request commits
  at the end. Most operations of a visit add one row (an observation, a finding, a note, a
  penalty): their planners (`appliers.PLANNERS`) check everything and say which row to write;
  runs of such operations are written together — their op_ids claimed in one INSERT … ON
  CONFLICT DO NOTHING, their rows in one per table — and a row that meets a held one is compared
  (same: success; different: 409, the claim deleted). No SAVEPOINT is needed for them. The other
  operations apply one by one inside a SAVEPOINT of their own;
- the applier of its entity (`appliers.APPLIERS`) checks the team and the draft, and settles a
  record the server already holds under the same device UUID.

Applied operations are numbered by `sync_operation.id` (the server's sequence); the device's
clock is recorded with its skew and never used for ordering. Refusals are not stored: a device
may send the operation again once the cause is gone.

Services flush and never commit; the request commits.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime

import marshmallow as ma
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from ..accounts.models.user import User
from ..audit.chain import append_events, capture_events
from ..columns import utcnow
from ..errors import Invalid, Problem
from ..extensions import db
from ..observability import metrics
from .appliers import APPLIERS, PLANNERS, READS_PLANNED
from .batch import Batch, Push, RetryCarefully, RowPlan, current_batch, settle_with_held
from .models.inspection import Photo, SyncOperation
from .models.signature import Signature
from .reveal_checks import FLAG_ACTION
from .schemas import sync as schemas

log = logging.getLogger(__name__)

ENTITY_LABELS = {
    "assignment_reveal": "揭封记录", "inspection": "督查记录", "observation": "检查项记录", "finding": "问题",
    "finding_withdrawal": "问题撤回", "photo": "照片", "penalty": "处罚建议", "note": "典型材料",
    "inspection_submission": "提交", "amendment": "更正", "signature": "签字",
}


def canonical_json(value) -> bytes:
    """The bytes a payload's hash covers, exactly as the field client makes them."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def payload_sha256(payload) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()


class _Replayed(Exception):
    """The op_id is already stored (by an earlier push, or a concurrent one that just committed)."""


@dataclass
class _Planned:
    """An operation checked and waiting to be written with the rest of its run."""

    operation: dict
    plan: RowPlan | None  # None: nothing to write (the same value again), success all the same
    answer: dict | None = None


def apply_push(user: User, device_id: str, device_time: datetime, operations: list[dict]) -> dict:
    """Apply a batch in order; one result per operation. Flushes, never commits."""
    now = utcnow()
    push = Push(user=user, device_id=str(device_id), device_time=device_time,
                skew_seconds=round((device_time - now).total_seconds(), 3))
    batch = Batch()
    op_ids = sorted({str(operation["op_id"]) for operation in operations})
    for start in range(0, len(op_ids), 400):
        for stored in db.session.scalars(sa.select(SyncOperation)
                                         .where(SyncOperation.op_id.in_(op_ids[start:start + 400]))
                                         .execution_options(populate_existing=True)):
            batch.stored[stored.op_id] = (stored.payload_sha256, stored.result)
    _prefetch_absent(batch, operations)
    stored_before = set(batch.stored)  # what a 200 answer replays rather than applies (metrics)
    token = current_batch.set(batch)
    try:
        results = [_apply_operation(push, operation) for operation in operations]
        _write_planned(push, batch)
        # The batch's audit events, appended last: the chain head is locked from here to the commit.
        append_events(batch.events)
        _write_results(batch)
    finally:
        current_batch.reset(token)
    results = [dict(result.answer) if isinstance(result, _Planned) else result for result in results]
    metrics.sync_pushed(results, stored_before)
    if push.skew_flagged:
        log.warning("device %s of %s pushed with a clock %.0f s off", push.device_id, user.username,
                    push.skew_seconds)
    return {"results": results, "server_time": now, "clock_skew_seconds": push.skew_seconds,
            "skew_flagged": push.skew_flagged}


def _prefetch_absent(batch: Batch, operations: list[dict]) -> None:
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


_UUID_MODELS = {"photo": Photo, "signature": Signature}
# Operations that read audit events of these actions (a check-in looks for a flagged reveal).
READS_EVENTS = {"inspection": {FLAG_ACTION}}


def _write_results(batch: Batch) -> None:
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
    batch = current_batch.get()
    if batch is not None and (entity not in PLANNERS or entity in READS_PLANNED or op_id in batch.planned_op_ids):
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
    if batch is not None and any(event.action in READS_EVENTS.get(entity, ()) for event in batch.events):
        # It reads events the batch holds back: append them first.
        append_events(batch.events)
        batch.events.clear()
    try:
        with db.session.begin_nested(), capture_events() as events:
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
            told = applier(push, entity_id, _load(entity, payload))
            result = {"op_id": op_id, "status": 200, "server_seq": record.id, **(told or {})}
            if batch is None:
                record.result = result
                append_events(events)
                db.session.flush()
            else:
                batch.pending.append((record.id, result))
                batch.stored[op_id] = (digest, result)
                # Kept only if the operation went through: a refused one's events go with it.
                batch.events.extend(events)
            return dict(result)
    except RetryCarefully:
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


def _write_planned(push: Push, batch: Batch) -> None:
    planned, batch.planned = batch.planned, []
    batch.planned_op_ids.clear()
    if planned:
        _write_run(push, planned, batch)


_ROWS_PER_STATEMENT = 200  # × ≤ 12 columns: well inside SQLite's and PostgreSQL's parameter limits


def _write_run(push: Push, run: list[_Planned], batch: Batch | None = None) -> None:
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
                settle_with_held(item.plan)
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


def _load(entity: str, payload: dict) -> dict:
    try:
        return _PAYLOAD_LOADERS[entity].load(payload)
    except ma.ValidationError as error:
        messages = error.normalized_messages()
        summary = "；".join(f"{field}：{'、'.join(map(str, problems)) if isinstance(problems, list) else problems}"
                           for field, problems in messages.items())
        raise Invalid(f"{ENTITY_LABELS[entity]}内容无效：{summary}", errors=messages) from None


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
    "signature": schemas.SignaturePayload,
}
# One instance per schema, shared: loading does not change a marshmallow schema, and building
# its fields for each of 500 operations costs more than the load itself.
_PAYLOAD_LOADERS = {entity: schema() for entity, schema in PAYLOAD_SCHEMAS.items()}
