"""Demo material for the enforcement bureau: a few submitted inspections with violations.

Real draws by the demo office, their assignments walked through dispatch to submission, and for
each an inspection with a violation — so the demo's violation queue (`/violations`) has something
to open cases from. The first is drawn among restaurants and recorded as an inspector would: a
private room of 12 seats with 7 diners (K5, more than half), the observations the violation
and the case's facts are written from. The others found the first check of their venue's first
rule violated. Seeded once: nothing is added if any inspection exists. No photos: evidence
arrives only through uploads.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

import sqlalchemy as sa

from ..accounts.models.user import User
from ..columns import CHINA_STANDARD_TIME, utcnow
from ..draws import assignments as assignment_service
from ..draws.creation import create_draw
from ..draws.seeding import contribute
from ..extensions import db
from ..field.models.inspection import Inspection, Observation, Violation
from ..registry.loader import rules_bundle_for_category
from ..registry.models.reference import VenueCategory

DEMO_CATEGORIES = ("restaurant", "museum", "pharmacy")
DEMO_COUNTIES = ("wucheng", "yiwu")
DEMO_INSPECTIONS = 3
# The private room the enforcement walkthrough starts from (README): 7 diners where 12 seats
# allow 6 (K5: 包厢聚餐人数不超过核定人数的50%).
PRIVATE_ROOM = {"k5_private_room_in_use": True, "k5_private_room_seats": 12, "k5_private_room_diners": 7}


def seed_demo_inspections() -> int:
    """Draw, dispatch and submit DEMO_INSPECTIONS inspections with violations; how many were made."""
    if db.session.scalar(sa.select(sa.func.count(Inspection.id))):
        return 0
    office = db.session.scalar(sa.select(User).where(User.username == "office"))
    auditor = db.session.scalar(sa.select(User).where(User.role == "auditor", User.is_active.is_(True))
                                .order_by(User.id).limit(1))
    categories = [code for code in DEMO_CATEGORIES
                  if db.session.scalar(sa.select(VenueCategory.id).where(VenueCategory.code == code))]
    if office is None or not categories:
        return 0
    now = utcnow()
    # The window starts two hours ago, but never on a Beijing day already over: an assignment of
    # yesterday could no longer be dispatched just after midnight.
    midnight = now.astimezone(CHINA_STANDARD_TIME).replace(hour=0, minute=0, second=0, microsecond=0)
    window = {"window_start": max(now - timedelta(hours=2), midnight), "window_end": now + timedelta(days=2)}
    plan = [(["restaurant"], 1), (categories, DEMO_INSPECTIONS - 1)] if "restaurant" in categories \
        else [(categories, DEMO_INSPECTIONS)]
    made = 0
    for draw_categories, sample_size in plan:
        draw = create_draw(office, counties=list(DEMO_COUNTIES), categories=draw_categories, sample_size=sample_size,
                           team_size=2, meeting_point="市公安局北门", channel="cli", **window)
        contribute(draw, auditor, secrets.token_hex(16), channel="cli")
        for assignment in draw.assignments:
            if _submit_inspection(assignment, office, checked_in=now - timedelta(hours=1, minutes=made * 10)):
                made += 1
    db.session.flush()
    return made


def _submit_inspection(assignment, office: User, *, checked_in) -> bool:
    """Dispatch, reveal and submit the assignment with an inspection holding one violation."""
    leader = assignment.members[0].user
    assignment_service.dispatch(assignment, office, channel="cli")
    # Revealed as a team does it (the reveal time recorded), then recorded and submitted.
    assignment_service.record_offline_reveal(assignment, leader, channel="cli")
    for status in ("in_progress", "submitted"):
        assignment_service.transition(assignment, status, leader, channel="cli")
    inspection = Inspection(uuid=str(uuid.uuid4()), assignment_id=assignment.id, device_id="demo-device",
                            inspector_id=leader.id, checked_in_at=checked_in, status="complete",
                            submitted_at=checked_in + timedelta(minutes=20),
                            submission_received_at=checked_in + timedelta(minutes=21), completed_at=utcnow())
    db.session.add(inspection)
    db.session.flush()
    venue = assignment.venue
    rules = {rule["code"]: rule for rule in rules_bundle_for_category(venue.category) if rule["checks"]}
    if not rules:
        return False
    if "K5" in rules:
        rule, check = rules["K5"], rules["K5"]["checks"][0]
        for minutes, (item, value) in enumerate(PRIVATE_ROOM.items(), start=3):
            db.session.add(Observation(inspection_id=inspection.id, item_code=item, value=value,
                                       recorded_at=checked_in + timedelta(minutes=minutes)))
    else:
        rule = next(iter(rules.values()))
        check = rule["checks"][0]
    db.session.add(Violation(inspection_id=inspection.id, rule_code=rule["code"], check_code=check["code"],
                             description=check["description"], venue_id=venue.id, county_id=venue.county_id,
                             department_ids=sorted(d.id for d in venue.category.departments)))
    return True
