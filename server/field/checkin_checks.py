"""Check-in checks: was the team where and when its assignment said?

"直奔基层、直插现场" is checked after the fact, never enforced: the record is always accepted
(GPS fails indoors, clocks drift, a venue's registered position may be wrong), and what looks
odd is recorded with the record and shown to the office as 异常提示 to verify:

- 签到位置距场所 N 米（超过 R 米）: the check-in position is farther than the policy's radius
  from the venue's registered coordinates (haversine, metres);
- 未提供签到位置: the device sent no check-in position;
- 签到时间不在任务时间窗口内: the check-in time (device clock) is outside the assignment's window;
- 照片拍摄位置距场所 N 米（超过 R 米）: a photo's EXIF GPS is farther than the radius.

The radius is data: `checkin.radius_m` of the draw policy (server/reference/draw_policy.yaml),
read when the record arrives. The results are stored on the inspection and photo rows (the
list's 签到异常 filter reads `Inspection.checkin_flagged`, set as well when the assignment's
offline reveal was flagged, `reveal_checks`) and in an audit event.

Services flush and never commit; the request commits.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import sqlalchemy as sa

from ..audit.chain import record_event
from ..columns import as_utc, local_text
from ..extensions import db
from ..registry.models.reference import DrawPolicy
from .batch import Push
from .models.inspection import Inspection, Photo
from .reveal_checks import has_reveal_flags

# The policy whose `checkin` section applies (the one draws use, server.draws.creation).
POLICY_CODE = "default"
# Mean Earth radius (IUGG), metres: a constant of nature, not policy.
EARTH_RADIUS_M = 6_371_008.8
NO_POSITION = "未提供签到位置"
OUTSIDE_WINDOW = "签到时间不在任务时间窗口内"


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine): well within GPS error at these distances."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi, d_lambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def checkin_radius_m() -> int | None:
    """The policy's radius; None when the loaded policy has none (distances are kept, not flagged)."""
    settings = db.session.scalar(sa.select(DrawPolicy.settings).where(DrawPolicy.code == POLICY_CODE)) or {}
    radius = (settings.get("checkin") or {}).get("radius_m")
    return radius if isinstance(radius, int) and not isinstance(radius, bool) else None


def _venue_distance(venue, latitude, longitude) -> int | None:
    if latitude is None or longitude is None or venue.latitude is None or venue.longitude is None:
        return None
    return round(distance_m(float(latitude), float(longitude), float(venue.latitude), float(venue.longitude)))


def _far(what: str, metres: int | None, radius: int | None) -> str | None:
    if metres is None or radius is None or metres <= radius:
        return None
    return f"{what}距场所 {metres} 米（超过 {radius} 米）"


def checkin_flags(inspection: Inspection, radius: int | None) -> tuple[int | None, list[str]]:
    """(metres from the check-in position to the venue, the flags in Chinese)."""
    assignment = inspection.assignment
    flags = []
    metres = _venue_distance(assignment.venue, inspection.latitude, inspection.longitude)
    if inspection.latitude is None or inspection.longitude is None:
        flags.append(NO_POSITION)
    elif (far := _far("签到位置", metres, radius)) is not None:
        flags.append(far)
    checked_in = as_utc(inspection.checked_in_at)
    start, end = as_utc(assignment.window_start), as_utc(assignment.window_end)
    if checked_in is not None and start is not None and end is not None and not start <= checked_in <= end:
        flags.append(f"{OUTSIDE_WINDOW}（签到 {local_text(checked_in)}，"
                     f"窗口 {local_text(start)} 至 {local_text(end)}，北京时间）")
    return metres, flags


def record_checkin_checks(inspection: Inspection, actor=None) -> dict:
    """Check the record's check-in once (when it first arrives) and keep the result; the same
    answer for the same record sent again. The fields merged into the operation's answer."""
    if inspection.checkin_flags is None:
        metres, flags = checkin_flags(inspection, checkin_radius_m())
        inspection.checkin_distance_m, inspection.checkin_flags = metres, flags
        # A flagged offline reveal of the assignment (reveal_checks) marks its records too.
        inspection.checkin_flagged = (bool(flags) or inspection.checkin_flagged
                                      or has_reveal_flags(inspection.assignment_id))
        db.session.flush()
        if flags:
            record_event("inspection.checkin_flagged", actor=actor, channel="api", object_type="inspection",
                         object_id=inspection.uuid,
                         details={"assignment_id": inspection.assignment_id, "distance_m": metres, "flags": flags})
    return {"checkin_distance_m": inspection.checkin_distance_m, "checkin_flags": list(inspection.checkin_flags)}


def with_checkin_checks(apply_inspection: Callable[[Push, str, dict], dict | None]):
    """The inspection applier, with the check-in checks recorded after it and their result added
    to its answer. Kept outside the applier so that the checks never decide whether a record is
    accepted: they run only once it has been."""

    @functools.wraps(apply_inspection)
    def applier(push: Push, entity_id: str, data: dict) -> dict:
        answer = apply_inspection(push, entity_id, data) or {}
        inspection = db.session.scalar(sa.select(Inspection).where(Inspection.uuid == str(data["uuid"])))
        return {**answer, **record_checkin_checks(inspection, push.user)}

    return applier


def check_photo_position(photo: Photo, inspection: Inspection, actor=None) -> None:
    """A new photo's camera position against the venue; a photo without GPS is not flagged (many
    cameras leave it out)."""
    metres = _venue_distance(inspection.assignment.venue, photo.exif_latitude, photo.exif_longitude)
    if metres is None:
        return
    photo.distance_m = metres
    photo.position_flag = _far("照片拍摄位置", metres, checkin_radius_m())
    if photo.position_flag is not None:
        inspection.checkin_flagged = True
        record_event("photo.position_flagged", actor=actor, channel="api", object_type="inspection",
                     object_id=inspection.uuid,
                     details={"photo": photo.uuid, "distance_m": metres, "flag": photo.position_flag})
    db.session.flush()
