"""Offline reveal checks: did the team open its envelope inside the assignment's window?

A device opens the envelope offline with the reveal code and reports it at its next sync (the
`assignment_reveal` operation, with the device's clock at the reveal). The clients refuse an
offline reveal outside the window by their own clock, but a device's clock is the device's: it
can be wrong, or set. So the server checks every reported offline reveal when it arrives and,
as with the check-in checks (`checkin_checks`), never refuses it — the field's data is never
lost — but flags what looks odd for the office to verify (异常提示):

- 离线揭封时间不在任务时间窗口内: the device's reveal time is outside [window_start, window_end);
- 离线揭封时间晚于服务器收到报告的时间: the device says it opened the envelope in the future;
- 离线揭封时间早于任务派发: the envelope reaches devices only once dispatched, so an earlier
  reveal time means a wrong (or set) clock;
- 设备时钟与服务器相差…: the push's clock skew is beyond the tolerance and the reveal time
  corrected by it falls outside the window.

Clock tolerance: phones keep network time to within seconds, but a device that was offline for
days, or a laptop without time sync, drifts by minutes. A team standing at the meeting point
when the window opens must not be refused for a clock two minutes slow, so both the clients
and these checks allow `REVEAL_CLOCK_TOLERANCE_SECONDS` (600 s by default) on each
side of the window (`server.config`, environment `REVEAL_CLOCK_TOLERANCE_SECONDS`). The value
is the server's alone: the field pull hands it to the devices (`pull_changes` →
`reveal_clock_tolerance_s`), so the clients never carry a copy of their own.

Each flagged reveal is recorded as an audit event (`assignment.reveal_flagged`, with the device's
times and the flags); that event is where the office's pages and the API read the flags from —
the append-only log is the one store no one can quietly clean up. The assignment's inspections
are marked `checkin_flagged`, so the record list's 签到异常 filter finds them too.

Services flush and never commit; the request commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ..accounts.models.user import User
from ..audit.chain import record_event
from ..audit.models.audit import AuditEvent
from ..columns import as_utc, local_text, utcnow
from ..draws.models.draw import Assignment
from ..extensions import db
from .batch import Push
from .models.inspection import Inspection

FLAG_ACTION = "assignment.reveal_flagged"
OUTSIDE_WINDOW = "离线揭封时间不在任务时间窗口内"
IN_THE_FUTURE = "离线揭封时间晚于服务器收到报告的时间"
BEFORE_DISPATCH = "离线揭封时间早于任务派发"
CLOCK_OFF = "设备时钟与服务器相差"


def reveal_clock_tolerance_seconds() -> int:
    """How far (seconds) a device's clock may be off at an offline reveal before it counts (a
    negative setting counts as none)."""
    return max(0, int(current_app.config["REVEAL_CLOCK_TOLERANCE_SECONDS"]))


def _window_text(start: datetime, end: datetime) -> str:
    return f"窗口 {local_text(start)} 至 {local_text(end)}"


def _minutes(seconds: float) -> str:
    return f"{abs(seconds) / 60:.0f} 分钟" if abs(seconds) >= 60 else f"{abs(seconds):.0f} 秒"


def reveal_flags(assignment: Assignment, revealed_at: datetime, *, received_at: datetime, skew_seconds: float,
                 tolerance_seconds: int) -> list[str]:
    """The flags (Chinese) for an offline reveal the device dates `revealed_at` (its own clock),
    reported at `received_at` (the server's) from a device whose clock was `skew_seconds` ahead."""
    tolerance = timedelta(seconds=tolerance_seconds)
    revealed_at = as_utc(revealed_at)
    start, end = as_utc(assignment.window_start), as_utc(assignment.window_end)
    dispatched = as_utc(assignment.dispatched_at)
    flags = []
    outside = not start - tolerance <= revealed_at < end + tolerance
    if outside:
        flags.append(f"{OUTSIDE_WINDOW}（揭封 {local_text(revealed_at)}，{_window_text(start, end)}，"
                     "北京时间，按设备时钟）")
    if revealed_at > received_at + tolerance:
        flags.append(f"{IN_THE_FUTURE}（揭封 {local_text(revealed_at)}，收到 {local_text(received_at)}，"
                     "设备时钟可能不准）")
    if dispatched is not None and revealed_at < dispatched - tolerance:
        flags.append(f"{BEFORE_DISPATCH}（揭封 {local_text(revealed_at)}，派发 {local_text(dispatched)}，"
                     "设备时钟可能不准）")
    if abs(skew_seconds) > tolerance_seconds and not outside:
        corrected = revealed_at - timedelta(seconds=skew_seconds)
        if not start <= corrected < end:
            ahead = "快" if skew_seconds > 0 else "慢"
            flags.append(f"{CLOCK_OFF} {_minutes(skew_seconds)}（设备{ahead}），按服务器时间推算揭封于 "
                         f"{local_text(corrected)}，不在任务时间窗口内（{_window_text(start, end)}，北京时间）")
    return flags


def check_offline_reveal(push: Push, assignment: Assignment, revealed_at: datetime) -> list[str]:
    """Check a reported offline reveal once it is accepted; flag and audit what looks odd.

    Returns the flags (empty when none), which the operation's answer carries to the device."""
    received_at = utcnow()
    tolerance = reveal_clock_tolerance_seconds()
    flags = reveal_flags(assignment, revealed_at, received_at=received_at, skew_seconds=push.skew_seconds,
                         tolerance_seconds=tolerance)
    if not flags:
        return []
    db.session.execute(sa.update(Inspection).where(Inspection.assignment_id == assignment.id)
                       .values(checkin_flagged=True).execution_options(synchronize_session="fetch"))
    record_event(FLAG_ACTION, actor=push.user, channel="api", object_type="assignment", object_id=assignment.id,
                 details={"draw_id": assignment.draw_id, "device_id": push.device_id,
                          "device_revealed_at": as_utc(revealed_at).isoformat(),
                          "received_at": received_at.isoformat(), "clock_skew_seconds": push.skew_seconds,
                          "tolerance_seconds": tolerance, "flags": flags})
    return flags


def _flag_events(assignment_id: int):
    return sa.select(AuditEvent).where(AuditEvent.action == FLAG_ACTION, AuditEvent.object_type == "assignment",
                                       AuditEvent.object_id == str(assignment_id))


def has_reveal_flags(assignment_id: int) -> bool:
    return db.session.scalar(_flag_events(assignment_id).with_only_columns(AuditEvent.id).limit(1)) is not None


def reveal_anomalies(assignment: Assignment) -> list[dict]:
    """The flagged offline reveals of `assignment`, oldest first: who, from which device, when by
    the device's clock and when the server heard of it, and the flags."""
    events = db.session.scalars(_flag_events(assignment.id).order_by(AuditEvent.seq)).all()
    names = dict(db.session.execute(sa.select(User.id, User.display_name).where(
        User.id.in_({event.actor_id for event in events if event.actor_id is not None}))).all())
    out = []
    for event in events:
        details = event.details or {}
        out.append({"reported_by": names.get(event.actor_id, event.actor_label), "device_id": details.get("device_id"),
                    "device_revealed_at": _parsed(details.get("device_revealed_at")),
                    "received_at": _parsed(details.get("received_at")) or as_utc(event.occurred_at),
                    "clock_skew_seconds": details.get("clock_skew_seconds"),
                    "flags": [str(flag) for flag in details.get("flags") or []]})
    return out


def _parsed(text) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        return None
