"""What a draw is drawn from: the candidate snapshots and the draw's canonical parameters.

A draw snapshots the candidates as they are when it is created — the venues in scope with the
history their weights need, and the active inspectors with the facts the 回避 rules need (county,
department, certificate, nearby visits, bookings on window days) — and writes the request and
the policy in force as plain JSON parameters. The selection (`server.draws.selection`) runs on
these alone, so a closed draw can be re-run from what was stored (docs/draw-algorithm.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from ..accounts.models.user import User
from ..audit.chain import canonical_timestamp
from ..columns import CHINA_STANDARD_TIME
from ..extensions import db
from ..registry.models.reference import County, Department, DrawPolicy, VenueCategory
from ..registry.models.venue import Venue
from .models.draw import Assignment, AssignmentMember
from .selection import ALGORITHM, InspectorCandidate, VenueCandidate

# Statuses in which an assignment means the venue was actually inspected.
INSPECTED_STATUSES = ("submitted", "closed")


# --- history of venues ----------------------------------------------------------------------


@dataclass(frozen=True)
class VenueHistory:
    past_violations: int = 0
    inspected: bool = False


# Violations are recorded by `server.field`, which sits above draws: it registers how to count a
# venue's past violations (server/field/violation_history.py), so draws never imports it.
ViolationCounter = Callable[[sa.Select, datetime], dict[int, int]]
_count_violations: ViolationCounter | None = None


def count_past_violations_with(counter: ViolationCounter) -> None:
    global _count_violations
    _count_violations = counter


def venue_history(venue_ids: sa.Select, violations_since: datetime) -> dict[int, VenueHistory]:
    """What the weights need to know about the venues selected by `venue_ids` (a SELECT of ids).

    Inspected: one of the venue's assignments reached submitted or closed — a draw alone does
    not inspect anything. Past violations: the venue's live violations found since
    `violations_since` (the policy's `past_violations_days` before the draw).
    """
    if _count_violations is None:
        raise RuntimeError("server.field.violation_history is not imported: past violations cannot be counted")
    inspected = set(db.session.scalars(
        sa.select(Assignment.venue_id).distinct()
        .where(Assignment.venue_id.in_(venue_ids), Assignment.status.in_(INSPECTED_STATUSES))))
    violations = _count_violations(venue_ids, violations_since)
    return {venue_id: VenueHistory(past_violations=violations.get(venue_id, 0), inspected=venue_id in inspected)
            for venue_id in inspected | set(violations)}


# --- the window and the parameters ----------------------------------------------------------


def window_days(window_start: datetime, window_end: datetime) -> list[date]:
    """The calendar days (UTC+8) the window [start, end) touches."""
    first = window_start.astimezone(CHINA_STANDARD_TIME).date()
    last = (window_end - timedelta(microseconds=1)).astimezone(CHINA_STANDARD_TIME).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def category_weight(category: VenueCategory, weights: dict) -> int:
    """The policy's weight for a category: the highest of its weighted rules, else the default;
    a per-category override wins."""
    if category.code in weights["categories"]:
        return weights["categories"][category.code]
    ruled = [weights["rules"][rule.code] for rule in category.rules if rule.code in weights["rules"]]
    return max(ruled) if ruled else weights["default"]


def build_parameters(*, counties: list[County], categories: list[VenueCategory], days: list[date],
                     window_start: datetime, window_end: datetime, sample_size: int, rate_basis_points: int | None,
                     team_size: int, may_propose_penalties: bool, meeting_point: str | None,
                     policy: DrawPolicy) -> dict:
    """The draw's canonical parameters: the request and the policy in force, as plain JSON."""
    settings = policy.settings
    return {
        "algorithm": ALGORITHM,
        "scope": {"counties": [c.code for c in counties], "categories": [c.code for c in categories]},
        "sample": {"size": sample_size, "rate_basis_points": rate_basis_points},
        "team": {"size": team_size, "may_propose_penalties": may_propose_penalties,
                 "require_certified_member": settings["team"]["require_certified_member_when_penalties"]},
        "window": {"start": canonical_timestamp(window_start), "end": canonical_timestamp(window_end),
                   "timezone": "+08:00", "days": [day.isoformat() for day in days]},
        "weights": {"categories": {c.code: category_weight(c, settings["weights"]) for c in categories},
                    "past_violations_factor": settings["weights"]["past_violations_factor"],
                    "never_inspected_factor": settings["weights"]["never_inspected_factor"],
                    "past_violations_days": settings["weights"]["past_violations_days"]},
        "exclusions": dict(settings["exclusions"]),
        "responsible_departments": {c.code: sorted(d.code for d in c.departments) for c in categories},
        "policy": {"code": policy.code, "version": policy.version, "name": settings.get("name")},
        "meeting_point": meeting_point,
        # Where the half of the seed the office cannot know comes from (docs/draw-algorithm.md §1).
        "seed": {"contribution": settings["seed"]["contribution"],
                 "public_source": settings["seed"].get("public_source")},
    }


# --- the candidates --------------------------------------------------------------------------


def snapshot_venues(county_ids: list[int], category_ids: list[int], violations_since: datetime) -> list[VenueCandidate]:
    in_scope = sa.and_(Venue.county_id.in_(county_ids), Venue.category_id.in_(category_ids), Venue.closed_at.is_(None))
    history = venue_history(sa.select(Venue.id).where(in_scope), violations_since)
    # Codes by id rather than two joins on the venue rows (county and category are NOT NULL
    # foreign keys, so the joins dropped nothing); sorted here rather than by the database.
    county_codes = dict(db.session.execute(sa.select(County.id, County.code).where(County.id.in_(county_ids))).all())
    category_codes = dict(db.session.execute(
        sa.select(VenueCategory.id, VenueCategory.code).where(VenueCategory.id.in_(category_ids))).all())
    rows = db.session.execute(sa.select(Venue.id, Venue.county_id, Venue.category_id).where(in_scope)).all()
    rows.sort(key=lambda row: row[0])
    no_history = VenueHistory()
    candidates = []
    for venue_id, county_id, category_id in rows:
        past = history.get(venue_id, no_history)
        candidates.append(VenueCandidate(venue_id, county_codes[county_id], category_codes[category_id],
                                         past.past_violations, past.inspected))
    return candidates


def snapshot_inspectors(days: list[date], repeat_visit_days: int, county_ids: list[int],
                        category_ids: list[int]) -> list[InspectorCandidate]:
    """Active inspectors with county, department, certificate, and their other assignments that
    matter: visits to venues in scope near the window (repeat rule), bookings on window days
    (per-day maximum). Every assignment counts except cancelled ones."""
    rows = db.session.execute(
        sa.select(User.id, County.code, Department.code, User.enforcement_certificate_no.is_not(None))
        .outerjoin(County, User.county_id == County.id).outerjoin(Department, User.department_id == Department.id)
        .where(User.role == "inspector", User.is_active.is_(True)).order_by(User.id)).all()
    member_rows = (sa.select(AssignmentMember.user_id, Assignment.venue_id, Assignment.visit_date)
                   .join(Assignment, AssignmentMember.assignment_id == Assignment.id)
                   .join(User, AssignmentMember.user_id == User.id)
                   .where(Assignment.status != "cancelled", User.role == "inspector", User.is_active.is_(True)))
    visits: dict[int, set[tuple[int, str]]] = {}
    if repeat_visit_days:
        reach = timedelta(days=repeat_visit_days - 1)
        near = member_rows.join(Venue, Assignment.venue_id == Venue.id).where(
            Assignment.visit_date.between(days[0] - reach, days[-1] + reach),
            Venue.county_id.in_(county_ids), Venue.category_id.in_(category_ids))
        for user_id, venue_id, visit_date in db.session.execute(near):
            visits.setdefault(user_id, set()).add((venue_id, visit_date.isoformat()))
    booked: dict[int, dict[str, int]] = {}
    for user_id, _venue_id, visit_date in db.session.execute(
            member_rows.where(Assignment.visit_date.between(days[0], days[-1]))):
        per_day = booked.setdefault(user_id, {})
        per_day[visit_date.isoformat()] = per_day.get(visit_date.isoformat(), 0) + 1
    return [InspectorCandidate(id=user_id, county=county, department=department, certified=bool(certified),
                               visits=tuple(sorted(visits.get(user_id, ()))),
                               booked=tuple(sorted(booked.get(user_id, {}).items())))
            for user_id, county, department, certified in rows]
