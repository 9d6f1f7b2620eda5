"""A submitted inspection's photos and completion: the manifest counted, photos marked received
when their bytes are stored, and `awaiting_evidence` → `complete` once every one is here.

A `photo` operation adds an entry to the inspection's manifest; its bytes arrive by tus.
Whichever comes second marks the photo received (the `photo` applier, or `mark_photos_received`
from `on_evidence_stored`). A submitted inspection is `awaiting_evidence` until every manifest
photo is received, then `complete`.

Services flush and never commit; the request commits.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..audit.chain import record_event
from ..columns import utcnow
from ..draws.changes import record_change
from ..extensions import db
from .models.evidence import EvidenceFile
from .models.inspection import Inspection, Photo

INSPECTION_STATUS_LABELS = {"draft": "草稿", "awaiting_evidence": "等待照片", "complete": "已完整"}


def photo_counts(inspection: Inspection) -> tuple[int, int]:
    """(photos in the manifest, photos received), counted in the database: rows this push just
    inserted are not in an `inspection.photos` loaded earlier."""
    expected, received = db.session.execute(
        sa.select(sa.func.count(Photo.id), sa.func.count(Photo.received_at)).where(Photo.inspection_id == inspection.id)
    ).one()
    return expected, received


def record_inspection_change(inspection: Inspection) -> None:
    """The inspection's status and photo counts, for the team's devices to pull."""
    expected, received = photo_counts(inspection)
    record_change(inspection.assignment_id, "inspection", inspection.uuid, {
        "uuid": inspection.uuid, "assignment_id": inspection.assignment_id, "status": inspection.status,
        "status_label": INSPECTION_STATUS_LABELS[inspection.status], "photos_expected": expected,
        "photos_received": received,
        # Both devices of a team pull both records; this says which one stands (parallel records).
        "primary": inspection.is_primary is True})


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
    record_inspection_change(inspection)
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
            record_inspection_change(inspection)
    return photos
