"""A week (or any number of days) of demo inspections with violations, for the statistics page
and the accountability report.

The history stands as it would after the visits: per day one demo draw (marked
`parameters.demo_week`, its seed drawn from the fixed demo seed) with submitted assignments,
each with a complete inspection checked in that day (China time) and the violations its venue's
rules produced. Venues, teams and violations come from a random generator seeded with the demo
seed and the day, so the same registry and the same days always give the same rows; a small pool
of "problem venues" is visited again and again, so repeated violations occur. Running it again
adds nothing for days already generated (inspection UUIDs are derived from the day and position).
No draw service runs: the demo needs a past the office could have produced, not a new draw.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from rulecheck.evaluator import ExpressionError, MissingValue, evaluate
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import Assignment, AssignmentMember, Draw, Inspection, User, Venue, VenueCategory, Violation
from ..models.base import CHINA_STANDARD_TIME
from .assignments import record_created_many
from .audit import record_event
from .demo import DEMO_SEED
from .documents import today_in_china
from .reference_loader import rules_bundle_for_category, venue_facts
from .server_keys import wrap_secret

INSPECTIONS_PER_DAY = 24
PROBLEM_VENUES = 12
PROBLEM_SHARE = 0.3  # of each day's visits go to the problem venues
VIOLATION_RATE = 0.45  # chance that a check of a visited venue is found violated
NAMESPACE = uuid.UUID("6f1d3c52-6a0e-4c1b-9a57-9e1f4f3c2a10")


@dataclass
class WeekReport:
    days: int = 0
    inspections: int = 0
    violations: int = 0


def _inspection_uuid(day: date, position: int) -> str:
    return str(uuid.uuid5(NAMESPACE, f"demo-week/{day.isoformat()}/{position}"))


def _draw(office: User, day: date, rng: random.Random) -> Draw:
    seed = rng.randbytes(32)
    digest = hashlib.sha256(f"demo-week/{day.isoformat()}".encode()).hexdigest()
    start = datetime.combine(day, time(8), CHINA_STANDARD_TIME)
    return Draw(status="closed", created_by_id=office.id, parameters={"demo_week": day.isoformat()},
                window_start=start, window_end=start + timedelta(hours=10),
                commitment=hashlib.sha256(seed).hexdigest(), sealed_seed=wrap_secret(seed, "draw-seed"),
                revealed_seed=seed.hex(), parameters_digest=digest, venues_digest=digest, inspectors_digest=digest,
                result_digest=digest, venues_snapshot=b"demo", inspectors_snapshot=b"demo", closed_at=start + timedelta(hours=10),
                closed_by_id=office.id)


def _applies(check: dict, venue: Venue) -> bool:
    """Whether a check applies to the venue; one whose condition needs observations is left out."""
    if not check["applies_when"]:
        return True
    try:
        return evaluate(check["applies_when"], {"venue": venue_facts(venue)}) is True
    except (MissingValue, ExpressionError):
        return False


def seed_week_inspections(days: int = 7, *, end: date | None = None, per_day: int = INSPECTIONS_PER_DAY) -> WeekReport:
    """Generate `days` days of `per_day` submitted inspections ending yesterday (China time) or on `end`."""
    report = WeekReport()
    office = db.session.scalar(sa.select(User).where(User.username == "office"))
    inspectors = list(db.session.scalars(sa.select(User).where(User.role == "inspector", User.username.like("inspector%"))
                                         .order_by(User.username)))
    if office is None or len(inspectors) < 2:
        raise LookupError("演示登记数据尚未生成，请先运行 anfang demo seed")
    categories = [c for c in db.session.scalars(sa.select(VenueCategory).options(selectinload(VenueCategory.rules))
                                                .order_by(VenueCategory.sort_order, VenueCategory.code))
                  if any(rule.checks for rule in c.rules)]
    venues = list(db.session.scalars(sa.select(Venue).where(Venue.category_id.in_([c.id for c in categories]))
                                     .options(selectinload(Venue.category).selectinload(VenueCategory.departments))
                                     .order_by(Venue.id)))
    if not venues:
        raise LookupError("演示登记数据尚未生成，请先运行 anfang demo seed")
    problem_venues = random.Random(DEMO_SEED).sample(venues, min(PROBLEM_VENUES, len(venues)))
    bundles: dict[int, list[dict]] = {}
    end = end or today_in_china() - timedelta(days=1)
    existing = set(db.session.scalars(sa.select(Inspection.uuid).where(Inspection.device_id == "demo-week")))

    for offset in range(days - 1, -1, -1):
        day = end - timedelta(days=offset)
        if _inspection_uuid(day, 1) in existing:
            continue
        rng = random.Random(f"{DEMO_SEED}/{day.isoformat()}")
        draw = _draw(office, day, rng)
        db.session.add(draw)
        db.session.flush()
        planned = []
        for position in range(1, per_day + 1):
            venue = rng.choice(problem_venues) if rng.random() < PROBLEM_SHARE else rng.choice(venues)
            team = rng.sample(inspectors, 2)
            checked_in = datetime.combine(day, time(9), CHINA_STANDARD_TIME) + timedelta(minutes=rng.randrange(0, 540))
            assignment = Assignment(draw_id=draw.id, position=position, venue=venue, visit_date=day,
                                    window_start=draw.window_start, window_end=draw.window_end,
                                    meeting_point="市公安局北门")
            for place, member in enumerate(team, start=1):
                assignment.members.append(AssignmentMember(user_id=member.id, position=place, is_leader=place == 1))
            db.session.add(assignment)
            planned.append((position, venue, team, checked_in, assignment))
        record_created_many([p[4] for p in planned], office)
        for position, venue, team, checked_in, assignment in planned:
            assignment.status, assignment.dispatched_at, assignment.dispatched_by_id = "submitted", draw.window_start, office.id
            assignment.revealed_at, assignment.submitted_at = checked_in, checked_in + timedelta(minutes=30)
            inspection = Inspection(uuid=_inspection_uuid(day, position), assignment_id=assignment.id,
                                    device_id="demo-week", inspector_id=team[0].id, checked_in_at=checked_in,
                                    status="complete", submitted_at=checked_in + timedelta(minutes=30),
                                    received_at=checked_in + timedelta(minutes=31),
                                    submission_received_at=checked_in + timedelta(minutes=31),
                                    completed_at=checked_in + timedelta(minutes=31))
            db.session.add(inspection)
            db.session.flush()
            if venue.category_id not in bundles:
                bundles[venue.category_id] = [rule for rule in rules_bundle_for_category(venue.category)
                                              if rule["checks"]]
            departments = sorted(d.id for d in venue.category.departments)
            for rule in bundles[venue.category_id]:
                for check in rule["checks"]:
                    if not _applies(check, venue):
                        continue
                    if rng.random() < VIOLATION_RATE:
                        db.session.add(Violation(inspection_id=inspection.id, rule_code=rule["code"],
                                                 check_code=check["code"], description=check["description"],
                                                 venue_id=venue.id, county_id=venue.county_id,
                                                 department_ids=departments, created_at=inspection.received_at))
                        report.violations += 1
            report.inspections += 1
        report.days += 1
    db.session.flush()
    if report.inspections:
        record_event("demo.week_seeded", channel="cli", object_type="demo",
                     details={"seed": DEMO_SEED, "end": end.isoformat(), "days": report.days,
                              "inspections": report.inspections, "violations": report.violations})
    return report
