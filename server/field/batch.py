"""What a push's operations share: who pushes, the batch's per-push lookups, and the one row a
planned operation writes (with how it settles against a row the server already holds).

`push` sets the batch for the length of a push; the appliers read it through `current_batch`.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from ..accounts.models.user import User
from ..columns import as_utc
from ..errors import Conflict
from ..extensions import db

SKEW_LIMIT_SECONDS = 300


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


class RetryCarefully(Exception):
    """An optimistic insert (without its own savepoint) hit a UNIQUE constraint: the operation's
    savepoint is rolled back and the operation runs again on the careful path."""


@dataclass
class Batch:
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
    planned: list = field(default_factory=list)  # planned operations not written yet, in order
    planned_op_ids: set = field(default_factory=set)
    # Audit events of the operations applied, appended at the end of the push (`capture_events`).
    events: list = field(default_factory=list)


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


current_batch: contextvars.ContextVar[Batch | None] = contextvars.ContextVar("anfang_sync_batch", default=None)


def settle_with_held(plan: RowPlan) -> None:
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
    changed = sorted(name for name, value in plan.values.items() if differs(getattr(existing, name), value))
    if changed:
        raise Conflict(f"{label}已存在，但内容不同（{', '.join(changed)}）。")


def differs(current, wanted) -> bool:
    if isinstance(wanted, sa.sql.elements.Null):  # written as SQL NULL (see appliers.apply_inspection)
        return current is not None
    if isinstance(current, datetime) or isinstance(wanted, datetime):
        return as_utc(current) != as_utc(wanted)
    return current != wanted
