"""A submitted inspection with violations, photos and certified enforcement officers, for case tests.

Built directly on `assignment_world` (no sync): an inspection of the world's venue checked in on
a known day, violations as `store_violations` stores them, and received photos.
Import the fixtures: `from case_world import case_world, make_assignment, world`.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import pytest
from assignment_world import PASSWORD_HASH, World, make_assignment, world  # noqa: F401  (fixtures)

from server.accounts.models.user import User
from server.columns import utcnow
from server.field.models.inspection import Inspection, Photo, Violation

# 2026-03-10 09:30 in 金华 (01:30 UTC): the act date of the world's violations.
CHECKED_IN_AT = datetime(2026, 3, 10, 1, 30, tzinfo=timezone.utc)
ACT_DATE = date(2026, 3, 10)
UNIT = {"kind": "unit", "unit_name": "金华某某娱乐有限公司", "credit_code": "91330701MA2D12345J",
        "legal_representative": "王某", "address": "金华市婺城区某路1号", "phone": "13900000001"}
PERSON = {"kind": "individual", "name": "李某", "id_number": "330702199001011234", "address": "金华市婺城区某路2号"}


@dataclass
class CaseWorld:
    world: World
    officers: list[User]
    uncertified: User
    violations: list[Violation]
    other_violation: Violation  # another venue
    photos: list[Photo] = field(default_factory=list)

    @property
    def users(self) -> dict[str, User]:
        return self.world.users


@pytest.fixture
def make_inspection(db, world, make_assignment):
    """make_inspection(venue=None, checks=("a", "b"), checked_in_at=CHECKED_IN_AT) -> (inspection, [violations]).

    The check-in moment is the act date of a case opened from its violations."""

    def make(venue=None, checks=("k3_visitors_within_half_capacity", "k10_health_code"), checked_in_at=CHECKED_IN_AT):
        venue = venue or world.venue
        assignment = make_assignment("submitted", venue=venue)
        inspection = Inspection(uuid=str(uuid.uuid4()), assignment_id=assignment.id, device_id=str(uuid.uuid4()),
                                inspector_id=world.users["team_leader"].id, checked_in_at=checked_in_at,
                                status="complete", submitted_at=checked_in_at, submission_received_at=utcnow())
        db.session.add(inspection)
        db.session.flush()
        violations = [Violation(inspection_id=inspection.id, rule_code=check[:3].upper().rstrip("_"),
                                check_code=check, description=f"现场发现问题：{check}", venue_id=venue.id,
                                county_id=venue.county_id,
                                department_ids=sorted(d.id for d in venue.category.departments))
                      for check in checks]
        db.session.add_all(violations)
        db.session.flush()
        return inspection, violations

    return make


@pytest.fixture
def case_world(db, world, make_inspection) -> CaseWorld:
    tag = world.tag

    def officer(key: str, certificate: str | None) -> User:
        row = User(username=f"{key}-{tag}", display_name=f"执法{key}{tag}", role="enforcement",
                   password_hash=PASSWORD_HASH, enforcement_certificate_no=certificate)
        db.session.add(row)
        return row

    officers = [officer("officer1", f"浙执A{tag}"), officer("officer2", f"浙执B{tag}")]
    uncertified = officer("nocert", None)
    db.session.flush()
    inspection, violations = make_inspection()
    photos = []
    for n in range(2):
        digest = hashlib.sha256(f"{tag}-{n}".encode()).hexdigest()
        photo = Photo(uuid=str(uuid.uuid4()), inspection_id=inspection.id, sha256=digest, size=10,
                      filename=f"{n}.jpg", media_type="image/jpeg", caption=f"入口{n}", taken_at=CHECKED_IN_AT,
                      received_at=utcnow())
        db.session.add(photo)
        photos.append(photo)
    _, [other] = make_inspection(venue=world.other_venue, checks=("k5_private_room",))
    db.session.flush()
    return CaseWorld(world=world, officers=officers, uncertified=uncertified, violations=violations,
                     other_violation=other, photos=photos)
