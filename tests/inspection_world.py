"""Inspection records for page tests, built directly on `assignment_world` (no sync): a record
with an observation, a finding with a proposed penalty, a note, an amendment that withdrew one
of its two violations, and two photos of which one has arrived (stored as a completed upload
stores it, uploaded by the team leader) and one has not.

Import the fixtures: `from inspection_world import make_record, session_of, world, make_assignment`.
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from assignment_world import PASSWORD, make_assignment, world  # noqa: F401  (fixtures)
from PIL import Image
from web_session import login

from server.columns import utcnow
from server.extensions import db as _db
from server.field import evidence_store as evidence_service
from server.field.models.evidence import EvidenceFile
from server.field.models.inspection import (
    Amendment,
    ExampleNote,
    Finding,
    Inspection,
    Observation,
    Penalty,
    Photo,
    Violation,
)

CHECKED_IN_AT = datetime(2026, 3, 10, 1, 30, tzinfo=timezone.utc)  # 09:30 in 金华
PENALTY_BASIS = "idpl2013_art42"


def session_of(app, user):
    """A test client logged in as `user` (one per user, so that roles do not share a cookie)."""
    client = app.test_client()
    login(client, user)
    return client


def store_photo(app, uploader) -> str:
    """A real JPEG stored as a completed upload stores it; its SHA-256."""
    image = Image.frombytes("RGB", (64, 48), os.urandom(64 * 48 * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    original = buffer.getvalue()
    digest = hashlib.sha256(original).hexdigest()
    stored = Path(app.config["EVIDENCE_DIR"]) / evidence_service.original_path(digest)
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_bytes(original)
    _db.session.add(EvidenceFile(sha256=digest, size=len(original), media_type="image/jpeg", width=64, height=48,
                                 stored_path=evidence_service.original_path(digest),
                                 variants={name: evidence_service.variant_path(digest, name)
                                           for name in evidence_service.VARIANTS},
                                 uploaded_by_id=uploader.id))
    _db.session.flush()
    return digest


@dataclass
class Record:
    inspection: Inspection
    live: Violation
    withdrawn: Violation
    received_sha256: str | None
    missing_sha256: str | None


@pytest.fixture
def make_record(app, db, world, make_assignment):
    """make_record(assignment_status="submitted", status="awaiting_evidence", venue=None,
    checked_in_at=CHECKED_IN_AT, photos=True) -> Record."""

    def make(assignment_status: str = "submitted", status: str = "awaiting_evidence", *, venue=None,
             team=None, checked_in_at: datetime = CHECKED_IN_AT, photos: bool = True, assignment=None) -> Record:
        venue = venue or world.venue
        assignment = assignment or make_assignment(assignment_status, venue=venue, team=team)
        leader = (team or world.team)[0]
        submitted = status != "draft"
        inspection = Inspection(uuid=str(uuid.uuid4()), assignment_id=assignment.id, device_id=str(uuid.uuid4()),
                                inspector_id=leader.id, checked_in_at=checked_in_at, status=status,
                                submitted_at=checked_in_at + timedelta(minutes=40) if submitted else None,
                                submission_received_at=utcnow() if submitted else None,
                                completed_at=utcnow() if status == "complete" else None)
        db.session.add(inspection)
        db.session.flush()
        db.session.add(Observation(inspection_id=inspection.id, item_code="k3_visitors", value=61,
                                   recorded_at=checked_in_at))
        finding = Finding(uuid=str(uuid.uuid4()), inspection_id=inspection.id, rule_code="K3",
                          check_code="k3_visitors_within_half_capacity", description="游客超过核定人数的一半",
                          source="evaluator", created_at=checked_in_at)
        db.session.add(finding)
        db.session.flush()
        db.session.add(Penalty(uuid=str(uuid.uuid4()), finding_id=finding.id, type="fine", amount=500,
                               basis_code=PENALTY_BASIS, created_at=checked_in_at))
        db.session.add(ExampleNote(uuid=str(uuid.uuid4()), inspection_id=inspection.id, kind="negative",
                                   text=f"入口无人测温{world.tag}", created_at=checked_in_at))
        amendment = Amendment(uuid=str(uuid.uuid4()), inspection_id=inspection.id, reason=f"口罩一项记错{world.tag}",
                              payload={}, created_at=checked_in_at + timedelta(hours=1))
        db.session.add(amendment)
        db.session.flush()
        departments = sorted(d.id for d in venue.category.departments)
        live = Violation(inspection_id=inspection.id, finding_id=finding.id, rule_code="K3",
                         check_code="k3_visitors_within_half_capacity", description="游客超过核定人数的一半",
                         venue_id=venue.id, county_id=venue.county_id, department_ids=departments)
        withdrawn = Violation(inspection_id=inspection.id, rule_code="K10", check_code="k10_masks",
                              description=f"工作人员未戴口罩{world.tag}", venue_id=venue.id, county_id=venue.county_id,
                              department_ids=departments, withdrawn_at=utcnow(),
                              withdrawn_by_amendment_id=amendment.id)
        db.session.add_all([live, withdrawn])
        received = missing = None
        if photos:
            received = store_photo(app, leader)
            missing = hashlib.sha256(f"missing-{inspection.uuid}".encode()).hexdigest()
            db.session.add_all([
                Photo(uuid=str(uuid.uuid4()), inspection_id=inspection.id, finding_id=finding.id, sha256=received,
                      size=1, filename="entrance.jpg", media_type="image/jpeg", caption="入口排队",
                      taken_at=checked_in_at, received_at=utcnow()),
                Photo(uuid=str(uuid.uuid4()), inspection_id=inspection.id, sha256=missing, size=1,
                      filename="hall.jpg", media_type="image/jpeg", caption="大厅", taken_at=checked_in_at),
            ])
        db.session.flush()
        return Record(inspection, live, withdrawn, received, missing)

    return make
