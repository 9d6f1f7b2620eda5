"""A museum (K3, capacity 800) in 婺城区 with a violation found by a real sync push, and the
inspectors a re-inspection draw chooses among.

Import the fixtures: `from rectification_world import rectification_world, make_assignment, world`.
The original team (the world's leader and member) visited the museum today, so the 30-day
repeat-visit rule keeps them off the re-inspection; an inspector from 婺城区 and one from a
department responsible for museums are excluded by 回避; the world's `outsider` (no certificate)
and `eligible` (certified, another county) are the only team the draw can form.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from assignment_world import PASSWORD_HASH, World, make_assignment, world  # noqa: F401  (fixtures)

from server.accounts.auth import issue_device_token
from server.accounts.models.user import User
from server.columns import utcnow
from server.draws.models.draw import Assignment
from server.columns import china_today
from server.extensions import db as _db
from server.field.models.inspection import Violation
from server.registry.models.reference import County, VenueCategory
from server.registry.models.venue import Venue

PUSH = "/api/v1/sync/push"
DEVICE = str(uuid.uuid4())
K3 = ("K3", "k3_visitors_within_half_capacity")


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def operation(entity: str, entity_id: str, payload: dict) -> dict:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return {"op_id": str(uuid.uuid4()), "entity": entity, "entity_id": entity_id, "payload": payload,
            "payload_sha256": hashlib.sha256(body).hexdigest()}


def bearer(user: User) -> dict:
    raw, token = issue_device_token(user, "测试手机", channel="api")
    token.last_used_at = utcnow()
    return {"Authorization": f"Bearer {raw}"}


def visit(client, user: User, assignment: Assignment, observations: dict) -> None:
    """The team member's device: reveal with the code, check in, record, submit — one push."""
    inspection_uuid = str(uuid.uuid4())
    moment = now_text()
    operations = [
        operation("assignment_reveal", assignment.uuid, {"assignment_uuid": assignment.uuid, "how": "code",
                                                         "revealed_at": moment, "device_time": moment}),
        operation("inspection", inspection_uuid, {"uuid": inspection_uuid, "assignment_uuid": assignment.uuid,
                                                  "checked_in_at": moment, "latitude": 29.08, "longitude": 119.65,
                                                  "device_time": moment, "status": "draft"}),
        *[operation("observation", f"{inspection_uuid}/{code}", {"inspection_uuid": inspection_uuid, "item_code": code,
                                                                 "value": value, "recorded_at": moment})
          for code, value in observations.items()],
        operation("inspection_submission", inspection_uuid, {"inspection_uuid": inspection_uuid,
                                                             "submitted_at": moment, "device_time": moment}),
    ]
    _db.session.commit()
    response = client.post(PUSH, headers=bearer(user), json={"device_id": DEVICE, "device_time": moment,
                                                             "operations": operations})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert [r["status"] for r in response.get_json()["results"]] == [200] * len(operations), response.get_json()


@dataclass
class RectificationWorld:
    world: World
    museum: Venue
    violation: Violation
    same_county: User
    responsible: User
    eligible: User

    @property
    def users(self) -> dict[str, User]:
        return self.world.users

    @property
    def today(self) -> date:
        return china_today()

    def after_deadline(self, days: int = 2) -> date:
        return self.today + timedelta(days=days)


@pytest.fixture
def rectification_world(db, client, world, make_assignment, make_venue) -> RectificationWorld:  # noqa: F811
    category = db.session.scalar(sa.select(VenueCategory).where(VenueCategory.code == "museum"))
    wucheng = db.session.scalar(sa.select(County).where(County.code == "wucheng"))
    elsewhere = db.session.scalar(sa.select(County).where(County.code == "yiwu"))
    museum = make_venue(name=f"复查博物馆{world.tag}", category=category, county=wucheng, approved_capacity=800)
    tag = world.tag

    def inspector(key: str, **values) -> User:
        user = User(username=f"{key}-{tag}", display_name=f"督查{key}{tag}", role="inspector", password_hash=PASSWORD_HASH,
                    **values)
        db.session.add(user)
        return user

    same_county = inspector("rlocal", county=wucheng, enforcement_certificate_no=f"L{tag}")
    responsible = inspector("rdept", department=category.departments[0], enforcement_certificate_no=f"D{tag}")
    eligible = inspector("relig", county=elsewhere, enforcement_certificate_no=f"E{tag}")
    db.session.flush()
    # The original inspection: 401 visitors in an 800-person museum breaks K3.
    original = make_assignment("dispatched", venue=museum)
    visit(client, world.users["team_leader"], original, {"k3_visitors": 401})
    violation = db.session.scalar(sa.select(Violation).where(Violation.venue_id == museum.id))
    assert (violation.rule_code, violation.check_code) == K3
    return RectificationWorld(world, museum, violation, same_county, responsible, eligible)
