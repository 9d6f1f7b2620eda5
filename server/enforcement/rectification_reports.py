"""Reports that a rectification is done (整改完成报告): the county (属地) or the department (部门)
answerable for the order's venue says it is put right, with a note and photos; the office
confirms the report or sends it back with a reason.

A confirmed report makes the order due for its re-inspection at once
(`RectificationOrder.rectification_confirmed_at`, read by `reinspection.due_for_reinspection`):
the daily scheduling run draws it without waiting for the deadline, and the re-inspection's
result decides the order as always. A report sent back leaves the order as it was; a new report
may follow. An order has at most one report waiting for the office (the database's unique
(order_id, pending) pair).

Reporting is open while the order is open, drawn or not: refusing a report once a re-inspection
is drawn would tell the county what "四不两直" keeps from it.

The photos go into the evidence store like every other photo — the original bytes by SHA-256,
checked by content (JPEG or PNG), the EXIF (time, GPS) kept with the evidence for the office;
everyone else sees only re-encoded variants without EXIF (`report_photo_file`).

Services flush and never commit; the request or CLI command commits.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from ..access import authorize
from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import utcnow
from ..errors import Conflict, Invalid, NotFound, Problem
from ..extensions import db
from ..field.evidence_backend import evidence_store
from ..field.evidence_store import VARIANTS, evidence_root, original_path, variant_file, variant_path
from ..field.models.evidence import EvidenceFile
from ..field.photo_checks import inspect_image
from ..races import conflict_on_race
from .models.rectification import RectificationOrder, RectificationReport, RectificationReportPhoto
from .rectification import OPEN_STATES

REPORT_STATE_LABELS = {"submitted": "待确认", "confirmed": "已确认", "returned": "已退回"}
REPORTED_AS_LABELS = {"county": "属地", "department": "部门"}
# Photos a report carries, and how large one may be: enough to show each covered problem put
# right, small enough for a phone's upload.
MAX_PHOTOS = 6
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_NOTE = 2000
MAX_REASON = 2000
# The photo formats a browser shows and the variants are made from (HEIC is the field app's).
REPORT_MEDIA_TYPES = ("image/jpeg", "image/png")
# What a reader other than the office may fetch of a report's or a finding's photo.
SHOWN_VARIANTS = ("thumbnail", "public")
INCOMING = "incoming"


@dataclass(frozen=True)
class PhotoUpload:
    filename: str | None
    data: bytes


def size_text(size: int) -> str:
    return f"{size // (1024 * 1024)} MB"


# --- checks ---------------------------------------------------------------------------------------


def _clean_text(value, field: str, *, missing: str, maximum: int) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise Invalid("提交的内容有误，请按提示修改。", errors={field: [missing]})
    if len(text) > maximum:
        raise Invalid("提交的内容有误，请按提示修改。", errors={field: [f"不能超过 {maximum} 个字。"]})
    return text


def check_photo_count(count: int) -> None:
    if count < 1:
        raise Invalid("提交的内容有误，请按提示修改。", errors={"photos": ["请至少上传一张整改后的照片。"]})
    if count > MAX_PHOTOS:
        raise Invalid("提交的内容有误，请按提示修改。", errors={"photos": [f"最多上传 {MAX_PHOTOS} 张照片。"]})


def store_photo(photo: PhotoUpload, *, actor: User, channel: str) -> EvidenceFile:
    """Keep one photo in the evidence store as uploads do: checked by content, stored once by its
    SHA-256 (the same bytes again are the same row), read-only, audited when new."""
    name = photo.filename or "照片"
    if len(photo.data) > MAX_PHOTO_BYTES:
        raise Invalid("提交的内容有误，请按提示修改。",
                      errors={"photos": [f"{name}：文件过大，每张照片不超过 {size_text(MAX_PHOTO_BYTES)}。"]})
    if not photo.data:
        raise Invalid("提交的内容有误，请按提示修改。", errors={"photos": [f"{name}：文件是空的。"]})
    sha256 = hashlib.sha256(photo.data).hexdigest()
    temporary = evidence_root() / INCOMING / f"report-{uuid.uuid4().hex}.tmp"
    temporary.parent.mkdir(parents=True, exist_ok=True)
    try:
        temporary.write_bytes(photo.data)
        try:
            facts = inspect_image(temporary, current_app.config["MAX_IMAGE_PIXELS"])
        except Invalid as problem:
            raise Invalid("提交的内容有误，请按提示修改。", errors={"photos": [f"{name}：{problem.detail}"]}) from None
    finally:
        temporary.unlink(missing_ok=True)
    if facts.media_type not in REPORT_MEDIA_TYPES:
        raise Invalid("提交的内容有误，请按提示修改。", errors={"photos": [f"{name}：只接受 JPEG 或 PNG 格式的照片。"]})
    store = evidence_store()
    if not store.exists(original_path(sha256)):  # content-addressed: a file there holds these very bytes
        store.write(original_path(sha256), photo.data, read_only=True)  # originals are never changed, as for uploads
    evidence = db.session.scalar(sa.select(EvidenceFile).where(EvidenceFile.sha256 == sha256))
    if evidence is None:
        with conflict_on_race("同一张照片正被同时保存，请重试。"):
            evidence = EvidenceFile(sha256=sha256, size=len(photo.data), media_type=facts.media_type,
                                    width=facts.width, height=facts.height, exif_taken_at=facts.taken_at,
                                    gps_lat=facts.gps_lat, gps_lon=facts.gps_lon, stored_path=original_path(sha256),
                                    variants={variant: variant_path(sha256, variant) for variant in VARIANTS},
                                    uploaded_by_id=actor.id)
            db.session.add(evidence)
        details = {"sha256": sha256, "size": evidence.size, "media_type": evidence.media_type,
                   "source": "rectification_report"}
        record_event("evidence.stored", actor=actor, channel=channel, object_type="evidence_file",
                     object_id=evidence.id, details=details)
    return evidence


# --- state changes ----------------------------------------------------------------------------------


def submit_report(order: RectificationOrder, *, note, photos: list[PhotoUpload], actor: User,
                  channel: str = "web") -> RectificationReport:
    """The county or department answerable for the venue reports the order put right."""
    authorize(actor, "report", order)
    note = _clean_text(note, "note", missing="请填写整改情况说明。", maximum=MAX_NOTE)
    check_photo_count(len(photos))
    _require_open(order)
    if _confirmed(order):
        raise Conflict("整改完成已经领导小组办公室确认，等待复查，无需再次报告。")
    if _waiting(order) is not None:
        raise Conflict("该整改通知已有待确认的整改完成报告，请等待领导小组办公室处理。")
    evidences = []
    for photo in photos:
        evidence = store_photo(photo, actor=actor, channel=channel)
        if evidence.id not in {e.id for e, _ in evidences}:  # the same photo twice is one photo
            evidences.append((evidence, (photo.filename or "")[:255] or None))
    with conflict_on_race("该整改通知已有待确认的整改完成报告，请等待领导小组办公室处理。"):
        report = RectificationReport(order_id=order.id, state="submitted", pending=True, reported_as=actor.role,
                                     note=note, reported_by_id=actor.id, reported_at=utcnow())
        report.photos = [RectificationReportPhoto(evidence_file_id=evidence.id, position=position, filename=filename)
                         for position, (evidence, filename) in enumerate(evidences, start=1)]
        db.session.add(report)
    record_event("rectification.reported_done", actor=actor, channel=channel, object_type="rectification_order",
                 object_id=order.id, details={"report_id": report.id, "reported_as": report.reported_as,
                                              "note": note, "photos": [e.sha256 for e, _ in evidences]})
    return report


def confirm_report(report: RectificationReport, *, actor: User, channel: str = "web") -> RectificationReport:
    """The office confirms the report: the order is due for its re-inspection from now."""
    order = report.order
    authorize(actor, "review_report", order)
    _require_open(order)
    now = utcnow()
    _claim_report(report, "confirmed", decided_by_id=actor.id, decided_at=now)
    if order.rectification_confirmed_at is None:
        order.rectification_confirmed_at = now
        db.session.flush()
    record_event("rectification.report_confirmed", actor=actor, channel=channel, object_type="rectification_order",
                 object_id=order.id, details={"report_id": report.id})
    return report


def return_report(report: RectificationReport, *, reason, actor: User, channel: str = "web") -> RectificationReport:
    """The office sends the report back with a reason; the county or department may report again."""
    authorize(actor, "review_report", report.order)
    reason = _clean_text(reason, "reason", missing="请填写退回原因。", maximum=MAX_REASON)
    _claim_report(report, "returned", decided_by_id=actor.id, decided_at=utcnow(), return_reason=reason)
    record_event("rectification.report_returned", actor=actor, channel=channel, object_type="rectification_order",
                 object_id=report.order_id, details={"report_id": report.id, "reason": reason})
    return report


def _require_open(order: RectificationOrder) -> None:
    if order.state not in OPEN_STATES:
        raise Conflict("该整改通知已有复查结果或已撤回，不能再报告或确认整改完成。")


def _claim_report(report: RectificationReport, to_state: str, **values) -> None:
    """Decide a waiting report only if it is still waiting: of two office users at once, one wins."""
    changed = db.session.execute(
        sa.update(RectificationReport)
        .where(RectificationReport.id == report.id, RectificationReport.state == "submitted")
        .values(state=to_state, pending=None, **values).execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise Conflict("该整改完成报告已经处理过了，请刷新后查看。")
    db.session.refresh(report)


# --- reading -----------------------------------------------------------------------------------------


def _confirmed(order: RectificationOrder) -> bool:
    return order.rectification_confirmed_at is not None


def _waiting(order: RectificationOrder) -> RectificationReport | None:
    return db.session.scalar(sa.select(RectificationReport).where(RectificationReport.order_id == order.id,
                                                                  RectificationReport.state == "submitted"))


def reports_of(order: RectificationOrder) -> list[RectificationReport]:
    return list(db.session.scalars(sa.select(RectificationReport).where(RectificationReport.order_id == order.id)
                                   .options(selectinload(RectificationReport.photos))
                                   .order_by(RectificationReport.id)))


def waiting_reports(actor: User) -> list[RectificationReport]:
    """Reports waiting for the office, oldest first."""
    authorize(actor, "review_report", RectificationOrder)
    return list(db.session.scalars(sa.select(RectificationReport).where(RectificationReport.state == "submitted")
                                   .options(selectinload(RectificationReport.order))
                                   .order_by(RectificationReport.reported_at, RectificationReport.id)))


def may(user: User, action: str, order: RectificationOrder) -> bool:
    try:
        authorize(user, action, order)
    except Problem:
        return False
    return True


def may_report(user: User, order: RectificationOrder) -> bool:
    """Whether the report form is offered: the answerable county or department, an open order,
    nothing confirmed and nothing waiting."""
    return (may(user, "report", order) and order.state in OPEN_STATES and not _confirmed(order)
            and _waiting(order) is None)


def find_report(order: RectificationOrder, report_id) -> RectificationReport:
    try:
        key = int(report_id)
    except (TypeError, ValueError):
        key = 0
    report = db.session.get(RectificationReport, key) if 0 < key < 2**31 else None
    if report is None or report.order_id != order.id:
        raise NotFound(f"第 {order.id} 号整改通知没有编号为 {report_id} 的整改完成报告。")
    return report


def report_photo_file(report: RectificationReport, position, variant: str) -> tuple[EvidenceFile, Path]:
    """A re-encoded variant (no EXIF, no GPS) of the report's photo at `position`; the caller has
    checked that the reader may read the order."""
    photo = next((p for p in report.photos if str(p.position) == str(position)), None)
    if photo is None or variant not in SHOWN_VARIANTS:
        raise NotFound("照片不存在。")
    return photo.evidence_file, variant_file(photo.evidence_file, variant)


def report_summary(report: RectificationReport, photo_url=None) -> dict:
    """A report as its readers see it; `photo_url(report, position, variant)` gives the photos' addresses."""
    return {
        "id": report.id, "state": report.state, "state_label": REPORT_STATE_LABELS[report.state],
        "reported_as": report.reported_as, "reported_as_label": REPORTED_AS_LABELS.get(report.reported_as, ""),
        "note": report.note, "reported_at": report.reported_at,
        "reported_by": report.reported_by.display_name or report.reported_by.username,
        "decided_at": report.decided_at,
        "decided_by": (report.decided_by.display_name or report.decided_by.username) if report.decided_by else None,
        "return_reason": report.return_reason,
        "photos": [{"position": photo.position, "sha256": photo.evidence_file.sha256,
                    "thumbnail_url": photo_url(report, photo.position, "thumbnail") if photo_url else None,
                    "public_url": photo_url(report, photo.position, "public") if photo_url else None}
                   for photo in report.photos],
    }
