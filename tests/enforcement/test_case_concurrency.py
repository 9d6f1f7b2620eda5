"""Concurrent attempts to open a case from the same violation: one wins, the others get 409.

Real transactions on a database of its own (the requests commit), several threads posting at
the same moment.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from case_world import CHECKED_IN_AT, UNIT

from server.accounts.auth import issue_device_token
from server.accounts.models.user import User
from server.accounts.passwords import hash_password
from server.columns import utcnow
from server.draws.assignments import record_created
from server.draws.models.draw import Assignment, AssignmentMember, Draw
from server.draws.server_keys import wrap_secret
from server.enforcement.models.case import CaseViolation, EnforcementCase
from server.extensions import db as _db
from server.field.models.inspection import Inspection, Violation
from server.registry.models.reference import County, Department, VenueCategory
from server.registry.models.venue import Venue

ATTEMPTS = 6


def _seed(app) -> tuple[dict, list[str]]:
    """Committed: one violation and two certified officers; (request body, officers' tokens)."""
    with app.app_context():
        session = _db.session
        category = VenueCategory(code="cat", name="甲类", departments=[Department(code="dep", name="甲局")])
        venue = Venue(name="并发场所", address="并发路1号", category=category,
                      county=County(code="cty", name="甲县", kind="county"))
        password_hash = hash_password("x" * 12)
        office = User(username="office", display_name="办公室", role="office", password_hash=password_hash)
        leader = User(username="leader", display_name="组长", role="inspector", password_hash=password_hash)
        officers = [User(username=f"officer{n}", display_name=f"执法{n}", role="enforcement",
                         password_hash=password_hash, enforcement_certificate_no=f"浙执{n:05d}") for n in (1, 2)]
        session.add_all([venue, office, leader, *officers])
        session.flush()
        start = utcnow() - timedelta(hours=1)
        digest = hashlib.sha256(b"placeholder").hexdigest()
        draw = Draw(created_by_id=office.id, parameters={}, window_start=start, window_end=start + timedelta(hours=6),
                    commitment=digest, sealed_seed=wrap_secret(b"seed", "draw-seed"), parameters_digest=digest,
                    venues_digest=digest, inspectors_digest=digest, result_digest=digest, venues_snapshot=b"x",
                    inspectors_snapshot=b"x")
        session.add(draw)
        session.flush()
        assignment = Assignment(draw_id=draw.id, position=1, venue=venue, visit_date=date.today(),
                                window_start=draw.window_start, window_end=draw.window_end,
                                members=[AssignmentMember(user_id=leader.id, position=1, is_leader=True)])
        session.add(assignment)
        record_created(assignment, office)
        assignment.status = "submitted"
        inspection = Inspection(uuid=str(uuid.uuid4()), assignment=assignment, device_id=str(uuid.uuid4()),
                                inspector_id=leader.id, checked_in_at=CHECKED_IN_AT, status="complete")
        session.add(inspection)
        session.flush()
        violation = Violation(inspection_id=inspection.id, rule_code="K1", check_code="k1_closed",
                              description="营业中", venue_id=venue.id, county_id=venue.county_id,
                              department_ids=[category.departments[0].id])
        session.add(violation)
        tokens = []
        for officer in officers:
            raw, token = issue_device_token(officer, "并发测试", channel="api")
            token.last_used_at = utcnow()
            tokens.append(raw)
        session.commit()
        body = {"violation_ids": [violation.id], "officers": [o.id for o in officers], "party": UNIT,
                "circumstance": "first"}
        session.remove()
    return body, tokens


def test_concurrent_openings_of_one_violation_one_wins(separate_app):
    app = separate_app
    body, tokens = _seed(app)
    answers: list[tuple[int, dict]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(ATTEMPTS)

    def attempt(n: int) -> None:
        try:
            client = app.test_client()
            barrier.wait(timeout=30)
            response = client.post("/api/v1/cases", json=body,
                                   headers={"Authorization": f"Bearer {tokens[n % 2]}"})
            answers.append((response.status_code, response.get_json()))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "an attempt hung"
    assert errors == []
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * (ATTEMPTS - 1), answers

    with app.app_context():
        session = _db.session
        assert session.scalar(sa.select(sa.func.count()).select_from(EnforcementCase)) == 1
        assert session.scalar(sa.select(sa.func.count()).select_from(CaseViolation)) == 1
        session.remove()
