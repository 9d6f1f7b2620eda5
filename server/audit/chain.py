"""The audit log: append events to the hash chain, and verify the chain.

Every event carries `prev_hash` (the previous event's `hash`, or 64 zeros for the first) and
`hash` = SHA-256 over a canonical serialisation of its fields, so editing, inserting or deleting
any row breaks the chain from that row on. Appends are serialised through the single
`audit_chain_head` row: PostgreSQL row-locks it, SQLite takes its database write lock by
updating it first. `record_event` is the only writer; it flushes and never commits, so an event
is committed with the change it describes, or not at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Protocol

import sqlalchemy as sa
from flask import has_request_context

from ..access import MAX_ID, authorize, grant, register_policy
from ..columns import CHINA_STANDARD_TIME, utcnow
from ..errors import NotFound
from ..extensions import db
from ..pagination import Page, paginate
from .models.audit import AuditChainHead, AuditEvent

GENESIS_HASH = "0" * 64
HEAD_ID = 1
CHANNELS = ("api", "web", "cli", "system")
SYSTEM_ACTOR = "system"

# Bumped only together with a migration that re-chains the log: the hash of every stored event
# depends on it.
CANONICAL_VERSION = 1

# Column widths of audit_event, checked here because SQLite would store longer values silently
# and PostgreSQL would refuse them with a less helpful error.
_MAX_LENGTHS = {"action": 64, "actor_label": 64, "object_type": 32, "object_id": 64}

_VERIFY_BATCH = 1000


class AuditRecordError(ValueError):
    """An audit event that cannot be recorded as given (a programming error in the caller)."""


class AuditChainError(RuntimeError):
    """The chain cannot be appended to (its head row is missing)."""


# --- canonical serialisation -------------------------------------------------------------------


def _canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_timestamp(value: datetime) -> str:
    """ISO-8601 UTC with microseconds; SQLite hands back naive datetimes, and they are UTC here."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_bytes(*, seq, occurred_at, actor_id, actor_label, channel, action, object_type,
                    object_id, details, prev_hash) -> bytes:
    """The exact bytes an event's hash covers."""
    document = {
        "v": CANONICAL_VERSION,
        "seq": seq,
        "occurred_at": canonical_timestamp(occurred_at),
        "actor_id": actor_id,
        "actor_label": actor_label,
        "channel": channel,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "details": details,
        "prev_hash": prev_hash,
    }
    return _canonical_json(document).encode("utf-8")


def compute_hash(**fields) -> str:
    return hashlib.sha256(canonical_bytes(**fields)).hexdigest()


def _event_fields(event) -> dict:
    return dict(
        seq=event.seq, occurred_at=event.occurred_at, actor_id=event.actor_id,
        actor_label=event.actor_label, channel=event.channel, action=event.action,
        object_type=event.object_type, object_id=event.object_id, details=event.details,
        prev_hash=event.prev_hash,
    )


def event_hash(event) -> str:
    """The hash an event (an AuditEvent or a row with the same attributes) should carry."""
    return compute_hash(**_event_fields(event))


def event_canonical_text(event) -> str:
    """The canonical serialisation an event's hash covers, as text (shown to auditors)."""
    return canonical_bytes(**_event_fields(event)).decode("utf-8")



class Actor(Protocol):
    """Who an event is recorded for: a user account (accounts' User) with its id and username."""

    id: int
    username: str
    role: str

# --- recording ---------------------------------------------------------------------------------


def record_event(action: str, *, actor: Actor | None = None, channel: str = "system",
                 object_type: str | None = None, object_id=None, details: dict | None = None) -> AuditEvent | None:
    """Append one event to the audit chain; flushes, never commits.

    `actor` defaults to the logged-in user of the current request, if any. `details` must be
    JSON-serialisable; it is stored as it round-trips through JSON so that what is stored is
    exactly what was hashed. The chain head stays locked until the caller's transaction ends, so
    other writers of audit events wait until then: record late in a transaction, not early.
    Inside `capture_events` the event is checked now and appended later (None is returned).
    """
    actor = _resolve_actor(actor)
    actor_label = actor.username if actor is not None else SYSTEM_ACTOR
    object_id = None if object_id is None else str(object_id)
    _check_fields(action=action, channel=channel, object_type=object_type, object_id=object_id,
                  actor_label=actor_label)
    event = PendingEvent(action=action, actor=actor, actor_label=actor_label, channel=channel,
                         object_type=object_type, object_id=object_id, details=_normalise_details(details))
    captured = _captured.get()
    if captured is not None:
        captured.append(event)
        return None
    return _append(event)


@dataclass(frozen=True)
class PendingEvent:
    """An event checked and waiting to be appended (see `capture_events`)."""

    action: str
    actor: Actor | None
    actor_label: str
    channel: str
    object_type: str | None
    object_id: str | None
    details: dict


_captured: ContextVar[list[PendingEvent] | None] = ContextVar("anfang_captured_audit_events", default=None)


@contextmanager
def capture_events() -> Iterator[list[PendingEvent]]:
    """Events recorded in the block are checked at once but kept in the list this yields instead
    of being appended. A long write (a sync batch) appends them at its end (`append_events`), in
    order, so the chain head — one row every audited write in every process waits for — is locked
    from then to the commit instead of from its first event. A block that raised leaves its list
    unappended: its events go with the work they described."""
    events: list[PendingEvent] = []
    token = _captured.set(events)
    try:
        yield events
    finally:
        _captured.reset(token)


def append_events(events: list[PendingEvent]) -> None:
    """Append events captured earlier, in their order (the head is locked from the first)."""
    for event in events:
        _append(event)


def _append(pending: PendingEvent) -> AuditEvent:
    head = _lock_head()
    # Taken under the lock, so that time never runs backwards along the chain.
    occurred_at = utcnow()
    event = AuditEvent(
        seq=head.last_seq + 1,
        occurred_at=occurred_at,
        # Read after the lock's autoflush, which gives a just-created actor its id.
        actor_id=pending.actor.id if pending.actor is not None else None,
        actor_label=pending.actor_label,
        channel=pending.channel,
        action=pending.action,
        object_type=pending.object_type,
        object_id=pending.object_id,
        details=pending.details,
        prev_hash=head.last_hash,
    )
    event.hash = event_hash(event)
    head.last_seq = event.seq
    head.last_hash = event.hash
    db.session.add(event)
    db.session.flush()
    return event


def _resolve_actor(actor):
    if actor is not None:
        if not _is_account(actor):
            raise AuditRecordError(f"audit actor must be a User or None, not {type(actor).__name__}")
        return actor
    if not has_request_context():
        return None
    from flask_login import current_user

    user = current_user._get_current_object() if current_user else None
    return user if _is_account(user) and user.is_authenticated else None


def _is_account(actor) -> bool:
    """A user account row (accounts' User), not a proxy's anonymous user or any other value.

    The log sits below the accounts domain, so it knows an account by its shape: a mapped row
    with a username."""
    return isinstance(actor, db.Model) and isinstance(getattr(actor, "username", None), str)


def _check_fields(*, action, channel, **others) -> None:
    if not isinstance(action, str) or not action:
        raise AuditRecordError("audit action must be a non-empty string")
    if channel not in CHANNELS:
        raise AuditRecordError(f"audit channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
    for name, value in dict(others, action=action).items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise AuditRecordError(f"audit {name} must be a string, not {type(value).__name__}")
        if len(value) > _MAX_LENGTHS[name]:
            raise AuditRecordError(f"audit {name} is longer than {_MAX_LENGTHS[name]} characters: {value!r}")


def _normalise_details(details) -> dict:
    if details is None:
        return {}
    if not isinstance(details, dict):
        raise AuditRecordError(f"audit details must be a dict, not {type(details).__name__}")
    try:
        text = _canonical_json(details)
        text.encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise AuditRecordError(f"audit details must be JSON-serialisable (finite numbers; no datetimes, "
                               f"sets, bytes or objects; keys all strings): {exc}") from exc
    # Tuples become lists, non-string keys become strings: store what the hash will see on reload.
    return json.loads(text)


def _lock_head() -> AuditChainHead:
    """The chain head, locked until the transaction ends."""
    session = db.session
    head_row = AuditChainHead.id == HEAD_ID
    if session.get_bind(mapper=AuditChainHead).dialect.name == "sqlite":
        # SQLite has no row locks and ignores FOR UPDATE; a no-op UPDATE takes the database write
        # lock now, so the head read below cannot be overtaken by another writer's commit.
        session.execute(sa.update(AuditChainHead).where(head_row).values(last_seq=AuditChainHead.last_seq),
                        execution_options={"synchronize_session": False})
    # populate_existing: the head may sit in the identity map from earlier in this session, and
    # only the value read under the lock is current.
    head = session.scalars(
        sa.select(AuditChainHead).where(head_row).with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if head is None:
        raise AuditChainError("审计链头记录（audit_chain_head id=1）缺失：请先运行 anfang db upgrade；"
                              "若数据库已有审计事件，请运行 anfang audit verify 检查")
    return head


# --- verification ------------------------------------------------------------------------------

REASONS = {
    "seq_gap": "序号不连续（事件被删除或插入）",
    "prev_hash_mismatch": "前一哈希不符（链被改接）",
    "hash_mismatch": "哈希不符（事件内容被改动）",
    "unreadable": "事件无法读取（字段被改为无效值）",
    "head_mismatch": "链头不符（链尾事件被删除或链头被改动）",
}


@dataclass(frozen=True)
class BrokenLink:
    """The first event at which the chain does not hold."""

    seq: int | None
    event_id: int | None
    action: str | None
    reason: str  # a key of REASONS
    detail: str  # what was expected and what was found

    @property
    def reason_label(self) -> str:
        return REASONS[self.reason]


@dataclass(frozen=True)
class ChainReport:
    """`count` is the number of events that verified (all of them when the chain is intact)."""

    count: int
    first_broken: BrokenLink | None = None

    @property
    def ok(self) -> bool:
        return self.first_broken is None


def verify_chain() -> ChainReport:
    """Walk the chain in seq order, streaming rows, and report the first broken link."""
    session = db.session
    # Read the head before the events: a writer commits event and head together, so every event
    # up to this head is visible to the scan below even while others keep appending.
    head = session.execute(
        sa.select(AuditChainHead.last_seq, AuditChainHead.last_hash).where(AuditChainHead.id == HEAD_ID)
    ).one_or_none()
    if head is None:
        return ChainReport(0, BrokenLink(None, None, None, "head_mismatch", "链头记录（id=1）缺失"))

    dialect = session.get_bind(mapper=AuditEvent).dialect
    rows = session.execute(
        _event_columns(dialect).order_by(AuditEvent.seq, AuditEvent.id),
        execution_options={"yield_per": _VERIFY_BATCH},
    )
    count, prev_hash = 0, GENESIS_HASH
    try:
        for row in rows:
            broken = _check_row(row, expected_seq=count + 1, expected_prev=prev_hash, dialect=dialect)
            if broken is not None:
                return ChainReport(count, broken)
            if row.seq == head.last_seq and row.hash != head.last_hash:
                return ChainReport(count, BrokenLink(
                    row.seq, row.id, row.action, "head_mismatch",
                    f"链头记录第 {head.last_seq} 条的哈希为 {head.last_hash}，该事件的哈希为 {row.hash}"))
            count, prev_hash = count + 1, row.hash
    finally:
        rows.close()
    if count < head.last_seq:
        return ChainReport(count, BrokenLink(
            count + 1, None, None, "head_mismatch",
            f"链头记录共 {head.last_seq} 条事件，但链只到第 {count} 条"))
    # Events past the first head may be appends that committed during the scan; the head read
    # now covers all of them, so an event beyond it was added (or the head rewound) by hand.
    last_seq = session.scalar(sa.select(AuditChainHead.last_seq).where(AuditChainHead.id == HEAD_ID)) or 0
    if count > last_seq:
        stray = session.execute(
            sa.select(AuditEvent.id, AuditEvent.action).where(AuditEvent.seq == last_seq + 1)
        ).one_or_none()
        return ChainReport(last_seq, BrokenLink(
            last_seq + 1, stray.id if stray else None, stray.action if stray else None, "head_mismatch",
            f"链上有 {count} 条事件，但链头只记录了 {last_seq} 条"))
    return ChainReport(count)


def _event_columns(dialect) -> sa.Select:
    occurred_at, details = AuditEvent.occurred_at, AuditEvent.details
    if dialect.name == "sqlite":
        # SQLite keeps whatever text it is given; decode in Python so that a garbage value is
        # reported at its row instead of aborting the whole scan.
        occurred_at = sa.type_coerce(occurred_at, sa.String)
        details = sa.type_coerce(details, sa.Text)
    return sa.select(
        AuditEvent.id, AuditEvent.seq, occurred_at.label("occurred_at"), AuditEvent.actor_id,
        AuditEvent.actor_label, AuditEvent.channel, AuditEvent.action, AuditEvent.object_type,
        AuditEvent.object_id, details.label("details"), AuditEvent.prev_hash, AuditEvent.hash,
    )


def _check_row(row, *, expected_seq: int, expected_prev: str, dialect) -> BrokenLink | None:
    def broken(reason: str, detail: str) -> BrokenLink:
        return BrokenLink(row.seq, row.id, row.action, reason, detail)

    if row.seq != expected_seq:
        return broken("seq_gap", f"应为第 {expected_seq} 条，实为第 {row.seq} 条")
    if row.prev_hash != expected_prev:
        return broken("prev_hash_mismatch", f"前一哈希应为 {expected_prev}，记录为 {row.prev_hash}")
    try:
        fields = _decoded_fields(row, dialect)
        computed = compute_hash(**fields)
    except (TypeError, ValueError) as exc:
        return broken("unreadable", str(exc))
    if computed != row.hash:
        return broken("hash_mismatch", f"按内容计算的哈希为 {computed}，记录为 {row.hash}")
    return None


def _decoded_fields(row, dialect) -> dict:
    fields = {name: getattr(row, name) for name in (
        "seq", "occurred_at", "actor_id", "actor_label", "channel", "action", "object_type",
        "object_id", "details", "prev_hash")}
    if dialect.name == "sqlite":
        fields["occurred_at"] = _sqlite_datetime(dialect)(fields["occurred_at"])
        fields["details"] = None if fields["details"] is None else json.loads(fields["details"])
    if not isinstance(fields["occurred_at"], datetime):
        raise ValueError(f"occurred_at 不是时间：{fields['occurred_at']!r}")
    return fields


def _sqlite_datetime(dialect):
    return AuditEvent.__table__.c.occurred_at.type.dialect_impl(dialect).result_processor(dialect, None)


# --- reading -----------------------------------------------------------------------------------

register_policy(AuditEvent, "审计日志")
# DESIGN §1: the auditor (纪检/审计) reads the log and verifies it; the administrator answers for
# the system the log records. The office is among those the log watches, so it does not read it.
grant(AuditEvent, "read", ("auditor", "admin"))

# As every list sorts: "-seq" descending, "seq" ascending.
EVENT_SORTS = {"-seq": AuditEvent.seq.desc(), "seq": AuditEvent.seq.asc()}
EVENT_SORT_LABELS = {"-seq": "序号从新到旧", "seq": "序号从旧到新"}
CHANNEL_LABELS = {"api": "接口", "web": "网页", "cli": "命令行", "system": "系统"}


def _china_midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time(0), CHINA_STANDARD_TIME).astimezone(timezone.utc)


def list_events(user: Actor, *, action: str | None = None, actor: str | None = None,
                object_type: str | None = None, date_from: date | None = None, date_to: date | None = None,
                sort: str = "-seq", page: int = 1, per_page: int = 50) -> Page:
    """Audit events filtered by exact action, actor (username or "system") and object type, and by
    China-time dates (both inclusive), sorted by seq."""
    authorize(user, "read", AuditEvent)
    query = sa.select(AuditEvent)
    if action:
        query = query.where(AuditEvent.action == action)
    if actor:
        query = query.where(AuditEvent.actor_label == actor)
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if date_from is not None:
        query = query.where(AuditEvent.occurred_at >= _china_midnight_utc(date_from))
    if date_to is not None:
        query = query.where(AuditEvent.occurred_at < _china_midnight_utc(date_to + timedelta(days=1)))
    return paginate(query.order_by(EVENT_SORTS.get(sort, EVENT_SORTS["-seq"])), page, per_page)


def event_filter_choices() -> dict[str, list[str]]:
    """The actions and object types that occur in the log, for the filter lists."""
    def distinct(column) -> list[str]:
        return list(db.session.scalars(sa.select(column).where(column.is_not(None)).distinct().order_by(column)))

    return {"actions": distinct(AuditEvent.action), "object_types": distinct(AuditEvent.object_type)}


def find_event(seq: int, user: Actor) -> AuditEvent:
    """The event at position `seq` of the chain, or NotFound."""
    authorize(user, "read", AuditEvent)
    event = None
    if 0 < seq <= MAX_ID:
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.seq == seq))
    if event is None:
        raise NotFound(f"序号为 {seq} 的审计事件不存在。")
    return event


def last_seq() -> int:
    """The chain head's position: the number of events the log should hold."""
    return db.session.scalar(sa.select(AuditChainHead.last_seq).where(AuditChainHead.id == HEAD_ID)) or 0


@dataclass(frozen=True)
class ChainHead:
    """Where the chain ends: the number of events and the last one's hash (64 zeros when empty)."""

    seq: int
    hash: str

    @property
    def printed(self) -> str:
        return printed_head(self.seq, self.hash)


def current_head() -> ChainHead:
    """The chain head as this transaction sees it (not locked: a snapshot, not a place to append)."""
    row = db.session.execute(
        sa.select(AuditChainHead.last_seq, AuditChainHead.last_hash).where(AuditChainHead.id == HEAD_ID)
    ).one_or_none()
    return ChainHead(0, GENESIS_HASH) if row is None else ChainHead(row.last_seq, row.last_hash)


def printed_head(seq: int, hash_hex: str) -> str:
    """How paper states a chain head: the position and the first 16 hex digits of the hash, enough
    for anyone to compare with the log, which keeps the whole hash. 第N条 is written without spaces,
    as one word, beside the page number's 第 N 页 in a document's foot."""
    return f"第{seq}条，哈希 {hash_hex[:16]}…"
