"""The draw's selection: a pure, deterministic function of (seed, candidates, parameters).

No database, no Flask, no clock, no floats: the same inputs give the same result here and in any
re-implementation that follows docs/draw-algorithm.md, which is the specification (this module
is one implementation of it). Verification re-runs `select` on the snapshots stored with a draw,
so anything that changes a result must change the documented algorithm's version.

Outline (details and the exact byte strings in the document):

1. Venues in ascending id order, each with an integer weight; picks are weighted sampling without
   replacement: pick k draws r = HMAC-SHA256(seed, "venue-pick:k") mod W and takes the first venue
   whose cumulative weight exceeds r (a Fenwick tree finds it in O(log n)).
2. For each picked venue, the team: eligible inspectors ranked by (load in this draw, key, id)
   with key = HMAC-SHA256(seed, "inspector:<id>"), the first `team size` taken; if a certified
   member is required and none was taken, the best-ranked certified eligible inspector replaces
   the last. Visit day = (position − 1) mod number of window days.
3. A venue no team can be formed for is skipped, naming the constraint; the draw goes on until
   the sample size is staffed or the venues run out (then: infeasible, with counts).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from bisect import bisect_left, insort
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

ALGORITHM = "anfang-draw-1"

# Funnel steps, in the order constraints are applied to a venue's inspectors.
INSPECTORS = "inspectors"
SAME_COUNTY = "same_county"
RESPONSIBLE_DEPARTMENT = "responsible_department"
REPEAT_VISIT = "repeat_visit"
MAX_PER_DAY = "max_per_day"
TEAM_SIZE = "team_size"
CERTIFIED_MEMBER = "certified_member"
VENUES_IN_SCOPE = "venues_in_scope"
FUNNEL = (INSPECTORS, SAME_COUNTY, RESPONSIBLE_DEPARTMENT, REPEAT_VISIT, MAX_PER_DAY, CERTIFIED_MEMBER)
# Constraints a skip or an infeasible draw can name, in funnel order (TEAM_SIZE: fewer inspectors
# than one team needs, before any rule applies).
CONSTRAINTS = (VENUES_IN_SCOPE, TEAM_SIZE, SAME_COUNTY, RESPONSIBLE_DEPARTMENT, REPEAT_VISIT, MAX_PER_DAY,
               CERTIFIED_MEMBER)


class SelectionInputError(ValueError):
    """Inputs the algorithm is not defined for (duplicate ids, a category without a weight …)."""


# --- inputs --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VenueCandidate:
    id: int
    county: str
    category: str
    past_violations: int = 0
    inspected: bool = False

    def as_json(self) -> dict:
        return {"id": self.id, "county": self.county, "category": self.category,
                "past_violations": self.past_violations, "inspected": self.inspected}


@dataclass(frozen=True)
class InspectorCandidate:
    id: int
    county: str | None
    department: str | None
    certified: bool
    # (venue id, ISO date) of the inspector's other assignments near the window.
    visits: tuple[tuple[int, str], ...] = ()
    # (ISO date, count) of the inspector's assignments from other draws on window days.
    booked: tuple[tuple[str, int], ...] = ()

    def as_json(self) -> dict:
        return {"id": self.id, "county": self.county, "department": self.department, "certified": self.certified,
                "visits": [[venue, day] for venue, day in sorted(self.visits)],
                "booked": [[day, count] for day, count in sorted(self.booked)]}


def venues_from_json(items: list[dict]) -> list[VenueCandidate]:
    return [VenueCandidate(id=item["id"], county=item["county"], category=item["category"],
                           past_violations=item["past_violations"], inspected=item["inspected"]) for item in items]


def inspectors_from_json(items: list[dict]) -> list[InspectorCandidate]:
    return [InspectorCandidate(id=item["id"], county=item["county"], department=item["department"],
                               certified=item["certified"],
                               visits=tuple((venue, day) for venue, day in item["visits"]),
                               booked=tuple((day, count) for day, count in item["booked"])) for item in items]


# --- canonical bytes ----------------------------------------------------------------------------


def canonical_json(value) -> bytes:
    """UTF-8 JSON, keys sorted, no whitespace: the bytes every digest covers."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def digest(value) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()


def venues_document(venues: list[VenueCandidate]) -> list[dict]:
    return [venue.as_json() for venue in sorted(venues, key=lambda v: v.id)]


def inspectors_document(inspectors: list[InspectorCandidate]) -> list[dict]:
    return [inspector.as_json() for inspector in sorted(inspectors, key=lambda i: i.id)]


def commitment_of(seed: bytes) -> str:
    return hashlib.sha256(seed).hexdigest()


SEED_LABEL = "anfang-draw-seed:"


def selection_seed(office_seed: bytes, contribution: str | None) -> bytes:
    """The seed the selection runs on: HMAC-SHA256 keyed with the office's committed seed over
    the contribution fixed after the commitment (docs/draw-algorithm.md §1). Draws made before
    contributions existed have none and run on the office's seed alone."""
    if contribution is None:
        return office_seed
    return hmac.new(office_seed, (SEED_LABEL + contribution).encode("utf-8"), hashlib.sha256).digest()


def _hmac_int(seed: bytes, message: str) -> int:
    return int.from_bytes(hmac.new(seed, message.encode("ascii"), hashlib.sha256).digest(), "big")


# --- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    """A staffed assignment."""

    position: int  # 1-based order of staffing
    venue_id: int
    members: tuple[int, ...]  # inspector ids, leader first
    day: int  # index into the window's days
    visit_date: str  # ISO date


@dataclass(frozen=True)
class Skip:
    pick: int  # 1-based number of the venue pick
    venue_id: int
    constraint: str  # the funnel step that left too few inspectors


@dataclass(frozen=True)
class Infeasibility:
    """Why fewer than the sample size could be staffed."""

    constraint: str
    requested: int
    staffed: int
    venues_in_scope: int
    inspectors: int
    skipped: dict[str, int]  # constraint -> venues skipped for it
    # (step, inspectors remaining after it) for the first venue skipped for `constraint`.
    funnel: tuple[tuple[str, int], ...] = ()
    team_size: int = 0


@dataclass(frozen=True)
class Selection:
    assignments: tuple[Pick, ...]
    skipped: tuple[Skip, ...]
    infeasible: Infeasibility | None = None

    @property
    def ok(self) -> bool:
        return self.infeasible is None

    def as_json(self) -> dict:
        """The canonical result the result digest covers."""
        return {
            "algorithm": ALGORITHM,
            "assignments": [{"position": p.position, "venue": p.venue_id, "members": list(p.members),
                             "visit_date": p.visit_date} for p in self.assignments],
            "skipped": [{"pick": s.pick, "venue": s.venue_id, "constraint": s.constraint} for s in self.skipped],
        }


def result_digest(seed: bytes, selection: Selection) -> str:
    """HMAC-SHA256 keyed with the seed, not a bare hash: until the seed is revealed, the anchored
    digest must not let anyone who knows the candidates test guesses of the targets."""
    return hmac.new(seed, canonical_json(selection.as_json()), hashlib.sha256).hexdigest()


# --- the venue sampler ----------------------------------------------------------------------------


class _Fenwick:
    """Prefix sums of integer weights with point updates, and 'first index whose cumulative
    weight exceeds r' in O(log n) — the same answer as a linear walk."""

    def __init__(self, weights: list[int]):
        self.size = len(weights)
        tree = [0] + list(weights)
        for i in range(1, self.size + 1):
            parent = i + (i & -i)
            if parent <= self.size:
                tree[parent] += tree[i]
        self.tree = tree
        self.weights = list(weights)
        self.total = sum(weights)
        self.top = 1 << self.size.bit_length() if self.size else 0

    def find(self, r: int) -> int:
        """0-based index of the first element with cumulative weight > r (0 ≤ r < total)."""
        position, step, tree = 0, self.top, self.tree
        while step:
            following = position + step
            if following <= self.size and tree[following] <= r:
                position = following
                r -= tree[following]
            step >>= 1
        return position

    def remove(self, index: int) -> None:
        weight = self.weights[index]
        self.weights[index] = 0
        self.total -= weight
        i = index + 1
        while i <= self.size:
            self.tree[i] -= weight
            i += i & -i


def venue_weight(venue: VenueCandidate, parameters: dict) -> int:
    weights = parameters["weights"]
    try:
        weight = weights["categories"][venue.category]
    except KeyError:
        raise SelectionInputError(f"venue {venue.id}: category {venue.category!r} has no weight") from None
    if venue.past_violations > 0:
        weight *= weights["past_violations_factor"]
    if not venue.inspected:
        weight *= weights["never_inspected_factor"]
    return weight


# --- teams ----------------------------------------------------------------------------------------


@dataclass
class _Inspector:
    candidate: InspectorCandidate
    key: int
    visits: dict[int, list[int]] = field(default_factory=dict)  # venue id -> visit day ordinals


class _Teams:
    """Inspector state during one draw: loads, per-day counts, and the ranking buckets."""

    def __init__(self, seed: bytes, inspectors: list[InspectorCandidate], parameters: dict):
        exclusions = parameters["exclusions"]
        team = parameters["team"]
        self.days = [date.fromisoformat(day) for day in parameters["window"]["days"]]
        day_index = {day.isoformat(): index for index, day in enumerate(self.days)}
        self.same_county = exclusions["same_county"]
        self.responsible_department = exclusions["responsible_department"]
        self.repeat_days = exclusions["repeat_visit_days"]
        self.max_per_day = exclusions["max_assignments_per_inspector_per_day"]
        self.team_size = team["size"]
        self.needs_certified = team["require_certified_member"]
        self.departments = {code: frozenset(codes) for code, codes in parameters["responsible_departments"].items()}

        self.by_id: dict[int, _Inspector] = {}
        # Assignments per inspector per window day: other draws' bookings, then this draw's.
        self.day_counts: list[dict[int, int]] = [{} for _ in self.days]
        for candidate in inspectors:
            if candidate.id in self.by_id:
                raise SelectionInputError(f"inspector {candidate.id} is listed twice")
            state = _Inspector(candidate, _hmac_int(seed, f"inspector:{candidate.id}"))
            for venue_id, day in candidate.visits:
                state.visits.setdefault(venue_id, []).append(date.fromisoformat(day).toordinal())
            for day, count in candidate.booked:
                if day in day_index and count:
                    self.day_counts[day_index[day]][candidate.id] = count
            self.by_id[candidate.id] = state
        # How many inspectors still have room on each day (a full day skips at once).
        self.room = [sum(1 for i in self.by_id if counts.get(i, 0) < self.max_per_day)
                     for counts in self.day_counts]
        self.loads = dict.fromkeys(self.by_id, 0)
        # load -> sorted [(key, id)]: walking loads upwards, then keys, is the ranking.
        self.buckets: dict[int, list[tuple[int, int]]] = {0: sorted((s.key, i) for i, s in self.by_id.items())}
        self._static: dict[tuple[str, str], tuple[int, int, int]] = {}
        # Inspectors with earlier visits, per venue (the only venue-specific constraint).
        self.visitors: dict[int, list[_Inspector]] = {}
        for state in self.by_id.values():
            for venue_id in state.visits:
                self.visitors.setdefault(venue_id, []).append(state)
        # (county, category, day) for which no team / this constraint was found since the last booking.
        self._failed: set[tuple[str, str, int]] = set()
        self._constraints: dict[tuple[str, str, int], str] = {}

    # Eligibility, one constraint at a time (the funnel order).

    def _county_ok(self, inspector: InspectorCandidate, venue: VenueCandidate) -> bool:
        return not (self.same_county and inspector.county is not None and inspector.county == venue.county)

    def _department_ok(self, inspector: InspectorCandidate, venue: VenueCandidate) -> bool:
        return not (self.responsible_department and inspector.department is not None
                    and inspector.department in self.departments.get(venue.category, ()))

    def _repeat_ok(self, state: _Inspector, venue: VenueCandidate, day: int) -> bool:
        if not self.repeat_days:
            return True
        visits = state.visits.get(venue.id)
        if not visits:
            return True
        visit = self.days[day].toordinal()
        return all(abs(visit - earlier) >= self.repeat_days for earlier in visits)

    def _day_ok(self, inspector_id: int, day: int) -> bool:
        return self.day_counts[day].get(inspector_id, 0) < self.max_per_day

    def eligible(self, state: _Inspector, venue: VenueCandidate, day: int) -> bool:
        inspector = state.candidate
        return (self._county_ok(inspector, venue) and self._department_ok(inspector, venue)
                and self._repeat_ok(state, venue, day) and self._day_ok(inspector.id, day))

    def funnel(self, venue: VenueCandidate, day: int) -> list[tuple[str, int]]:
        """Inspectors remaining after each constraint, and certified ones among the last."""
        remaining = list(self.by_id.values())
        steps = [(INSPECTORS, len(remaining))]
        remaining = [s for s in remaining if self._county_ok(s.candidate, venue)]
        steps.append((SAME_COUNTY, len(remaining)))
        remaining = [s for s in remaining if self._department_ok(s.candidate, venue)]
        steps.append((RESPONSIBLE_DEPARTMENT, len(remaining)))
        remaining = [s for s in remaining if self._repeat_ok(s, venue, day)]
        steps.append((REPEAT_VISIT, len(remaining)))
        remaining = [s for s in remaining if self._day_ok(s.candidate.id, day)]
        steps.append((MAX_PER_DAY, len(remaining)))
        steps.append((CERTIFIED_MEMBER, sum(1 for s in remaining if s.candidate.certified)))
        return steps

    def emptied_by(self, steps: list[tuple[str, int]]) -> str:
        """The first constraint after which too few inspectors remained."""
        for step, count in steps[:-1]:
            if count < self.team_size:
                return TEAM_SIZE if step == INSPECTORS else step
        return CERTIFIED_MEMBER

    def _static_counts(self, venue: VenueCandidate) -> tuple[int, int, int]:
        """(after county, after department, certified after department) — they do not change
        during a draw, so they are counted once per (county, category)."""
        key = (venue.county, venue.category)
        if key not in self._static:
            after_county = [s for s in self.by_id.values() if self._county_ok(s.candidate, venue)]
            after_department = [s for s in after_county if self._department_ok(s.candidate, venue)]
            self._static[key] = (len(after_county), len(after_department),
                                 sum(1 for s in after_department if s.candidate.certified))
        return self._static[key]

    def _depends_only_on_kind(self, venue: VenueCandidate) -> bool:
        """Without earlier visits to the venue, eligibility depends only on its county, its
        category and the day, so an answer holds for every such venue until the next booking."""
        return venue.id not in self.visitors

    def constraint_for(self, venue: VenueCandidate, day: int) -> str:
        """Which constraint left too few inspectors for `venue` (= emptied_by(funnel(...)), cheaply)."""
        after_county, after_department, _ = self._static_counts(venue)
        if len(self.by_id) < self.team_size:
            return TEAM_SIZE
        if after_county < self.team_size:
            return SAME_COUNTY
        if after_department < self.team_size:
            return RESPONSIBLE_DEPARTMENT
        if self.room[day] < self.team_size:
            excluded = sum(1 for s in self.visitors.get(venue.id, ())
                           if self._county_ok(s.candidate, venue) and self._department_ok(s.candidate, venue)
                           and not self._repeat_ok(s, venue, day))
            return REPEAT_VISIT if after_department - excluded < self.team_size else MAX_PER_DAY
        cache_key = (venue.county, venue.category, day)
        if self._depends_only_on_kind(venue) and cache_key in self._constraints:
            return self._constraints[cache_key]
        constraint = self.emptied_by(self.funnel(venue, day))
        if self._depends_only_on_kind(venue):
            self._constraints[cache_key] = constraint
        return constraint

    def form(self, venue: VenueCandidate, day: int, certified_needed: bool) -> list[int] | None:
        """The team for `venue` on `day`, best-ranked first, or None."""
        _, after_department, certified = self._static_counts(venue)
        # Shortcuts that count instead of walking; the walk would reach the same answer.
        if (after_department < self.team_size or (certified_needed and certified == 0)
                or self.room[day] < self.team_size):
            return None
        cache_key = (venue.county, venue.category, day)
        if self._depends_only_on_kind(venue) and cache_key in self._failed:
            return None
        team: list[int] = []
        has_certified = False
        replacement = None
        for load in sorted(self.buckets):
            for _key, inspector_id in self.buckets[load]:
                state = self.by_id[inspector_id]
                if not self.eligible(state, venue, day):
                    continue
                if len(team) < self.team_size:
                    team.append(inspector_id)
                    has_certified = has_certified or state.candidate.certified
                elif state.candidate.certified:
                    replacement = inspector_id
                if len(team) == self.team_size and (
                        not certified_needed or has_certified or replacement is not None):
                    break
            else:
                continue
            break
        if len(team) < self.team_size or (certified_needed and not has_certified and replacement is None):
            if self._depends_only_on_kind(venue):
                self._failed.add(cache_key)
            return None
        if certified_needed and not has_certified:
            team[-1] = replacement
        return team

    def book(self, team: list[int], day: int) -> None:
        counts = self.day_counts[day]
        for inspector_id in team:
            load = self.loads[inspector_id]
            entry = (self.by_id[inspector_id].key, inspector_id)
            bucket = self.buckets[load]
            del bucket[bisect_left(bucket, entry)]
            if not bucket:
                del self.buckets[load]
            self.loads[inspector_id] = load + 1
            insort(self.buckets.setdefault(load + 1, []), entry)
            counts[inspector_id] = counts.get(inspector_id, 0) + 1
            if counts[inspector_id] == self.max_per_day:
                self.room[day] -= 1
        # Loads and day counts changed: earlier answers about who is eligible no longer hold.
        self._failed.clear()
        self._constraints.clear()

    def capacity(self) -> int:
        """Inspector-slots left in the window under the per-day maximum."""
        return sum(max(0, self.max_per_day - counts.get(i, 0)) for counts in self.day_counts for i in self.by_id)


# --- the selection ----------------------------------------------------------------------------------


def select(seed: bytes, venues: list[VenueCandidate], inspectors: list[InspectorCandidate],
           parameters: dict) -> Selection:
    """Pick venues and teams; see the module docstring and docs/draw-algorithm.md."""
    if not isinstance(seed, bytes) or not seed:
        raise SelectionInputError("seed must be non-empty bytes")
    sample_size = parameters["sample"]["size"]
    if sample_size < 1:
        raise SelectionInputError("sample size must be at least 1")
    ordered = sorted(venues, key=lambda v: v.id)
    if any(a.id == b.id for a, b in zip(ordered, ordered[1:])):
        raise SelectionInputError("a venue is listed twice")
    teams = _Teams(seed, inspectors, parameters)
    if teams.team_size < 1 or not teams.days:
        raise SelectionInputError("team size and window days must be at least 1")
    certified_needed = teams.needs_certified and parameters["team"]["may_propose_penalties"]

    def infeasible(constraint: str, staffed: list[Pick], skipped: list[Skip],
                   funnel: tuple = ()) -> Selection:
        return Selection(tuple(staffed), tuple(skipped), Infeasibility(
            constraint=constraint, requested=sample_size, staffed=len(staffed), venues_in_scope=len(ordered),
            inspectors=len(teams.by_id), skipped=dict(Counter(s.constraint for s in skipped)), funnel=funnel,
            team_size=teams.team_size))

    if len(ordered) < sample_size:
        return infeasible(VENUES_IN_SCOPE, [], [])
    # Each staffed assignment takes team-size slots; too few slots cannot be staffed in any order.
    slots = teams.capacity()
    if slots < sample_size * teams.team_size:
        return infeasible(MAX_PER_DAY, [], [], ((INSPECTORS, len(teams.by_id)), (MAX_PER_DAY, slots)))

    sampler = _Fenwick([venue_weight(venue, parameters) for venue in ordered])
    staffed: list[Pick] = []
    skipped: list[Skip] = []
    first_funnel: dict[str, tuple] = {}
    pick = 0
    while len(staffed) < sample_size and sampler.total > 0:
        pick += 1
        index = sampler.find(_hmac_int(seed, f"venue-pick:{pick}") % sampler.total)
        sampler.remove(index)
        venue = ordered[index]
        day = len(staffed) % len(teams.days)
        team = teams.form(venue, day, certified_needed)
        if team is None:
            constraint = teams.constraint_for(venue, day)
            skipped.append(Skip(pick, venue.id, constraint))
            if constraint not in first_funnel:
                first_funnel[constraint] = tuple(teams.funnel(venue, day))
            continue
        teams.book(team, day)
        staffed.append(Pick(len(staffed) + 1, venue.id, tuple(team), day, teams.days[day].isoformat()))

    if len(staffed) < sample_size:
        counts = Counter(s.constraint for s in skipped)
        # The constraint that skipped most venues; ties go to the earlier funnel step.
        constraint = min(counts, key=lambda c: (-counts[c], CONSTRAINTS.index(c)))
        return infeasible(constraint, staffed, skipped, first_funnel[constraint])
    return Selection(tuple(staffed), tuple(skipped))
