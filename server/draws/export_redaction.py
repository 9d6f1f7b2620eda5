"""Which visits of an inspector snapshot an export may show, and what it shows for the others.

The inspector snapshot's `visits` name other assignments' venues and days (the repeat-visit rule,
docs/draw-algorithm.md §7.3). An export is read outside the office, so it shows a visit only once
its assignment is no longer sealed: its draw is closed, or a cancelled sample draw (the seed is
public, so the target can be computed anyway; a cancelled re-inspection's venue is visited by the
next one, so it stays withheld), or the visit took place and was recorded (submitted or closed —
the point from which counties, departments and the venue learn of an inspection).

For the visits it withholds the export gives only what the re-run consults: the picks of this
draw at which the rule blocks an inspector because of a withheld visit, limited to the
(pick, inspector) pairs on which the stored result depends (docs/draw-export.md §3). They are
found by replaying the draw from its full snapshot: at each pick, every such block is dropped
that the pick's outcome (its team or its skip) does not depend on.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from ..extensions import db
from .models.draw import Assignment, AssignmentMember, Draw

DISCLOSED_ASSIGNMENT_STATUSES = ("submitted", "closed")


class ReplayError(ValueError):
    """The stored result cannot be replayed from the snapshot (a damaged draw)."""


def disclosed_visits(draw: Draw, inspectors: list[dict]) -> set[tuple[int, int, str]]:
    """(inspector id, venue id, ISO date) of the snapshot's visits whose assignment is no longer
    sealed. A visit matching no assignment at all stays withheld: nothing says it may be shown."""
    wanted = {(item["id"], venue, day) for item in inspectors for venue, day in item["visits"]}
    if not wanted:
        return set()
    days = sorted(day for _, _, day in wanted)
    rows = db.session.execute(
        sa.select(AssignmentMember.user_id, Assignment.venue_id, Assignment.visit_date)
        .join(Assignment, AssignmentMember.assignment_id == Assignment.id)
        .join(Draw, Assignment.draw_id == Draw.id)
        .where(Assignment.draw_id != draw.id,
               Assignment.visit_date.between(date.fromisoformat(days[0]), date.fromisoformat(days[-1])),
               sa.or_(Draw.status == "closed",
                      sa.and_(Draw.status == "cancelled", Draw.purpose == "sample"),
                      Assignment.status.in_(DISCLOSED_ASSIGNMENT_STATUSES))))
    return {(user_id, venue_id, day.isoformat()) for user_id, venue_id, day in rows} & wanted


# --- the replay ---------------------------------------------------------------------------------


def _key(seed: bytes, inspector_id: int) -> int:
    return int.from_bytes(hmac.new(seed, f"inspector:{inspector_id}".encode("ascii"), hashlib.sha256).digest(), "big")


@dataclass
class _State:
    item: dict
    key: int
    shown: dict[int, list[int]] = field(default_factory=dict)  # venue -> day ordinals, disclosed
    hidden: dict[int, list[int]] = field(default_factory=dict)  # venue -> day ordinals, withheld


def _near(ordinals: list[int], day: int, reach: int) -> bool:
    return reach > 0 and any(abs(day - other) < reach for other in ordinals)


def _static_ok(item: dict, venue: dict, exclusions: dict, departments: dict) -> bool:
    """The same-county and responsible-department rules (they do not change during a draw)."""
    if exclusions["same_county"] and item["county"] is not None and item["county"] == venue["county"]:
        return False
    return not (exclusions["responsible_department"] and item["department"] is not None
                and item["department"] in departments.get(venue["category"], ()))


@dataclass
class _Pick:
    """One pick as §7 sees it: the inspectors with what the rules say about them for this venue
    and day, apart from the withheld visits."""

    ranked: list[_State]  # by (load, key, id)
    static_ok: dict[int, bool]  # same county and responsible department pass
    shown: dict[int, bool]  # a shown visit blocks
    day_ok: dict[int, bool]  # per-day maximum passes
    size: int
    certified_needed: bool

    def outcome(self, blocked: set[int]) -> tuple:
        """('team', members) or ('skip', constraint), with `blocked` the inspectors a withheld
        visit blocks — the document's §7, step by step."""
        ids = [state.item["id"] for state in self.ranked]
        steps = [("team_size", len(ids))]
        left = [i for i in ids if self.static_ok[i]]
        steps.append(("static", len(left)))  # same county and department, counted apart below
        left = [i for i in left if not self.shown[i] and i not in blocked]
        steps.append(("repeat_visit", len(left)))
        left = [i for i in left if self.day_ok[i]]
        steps.append(("max_per_day", len(left)))
        if len(left) < self.size:
            return "skip", next(name for name, count in steps if count < self.size)
        certified = {state.item["id"] for state in self.ranked if state.item["certified"]}
        team = left[:self.size]
        if self.certified_needed and not certified & set(team):
            replacement = next((i for i in left[self.size:] if i in certified), None)
            if replacement is None:
                return "skip", "certified_member"
            team[-1] = replacement
        return "team", tuple(team)


def _needed(pick: _Pick, candidates: list[int]) -> list[int]:
    """The withheld-visit blocks at this pick the outcome depends on: starting from all of
    them, drop (in id order) each one without which the outcome stays the same. What remains
    reproduces the outcome, and leaving out any one of it would change it."""
    kept = set(candidates)
    expected = pick.outcome(kept)
    for inspector_id in sorted(candidates):
        if pick.outcome(kept - {inspector_id}) == expected:
            kept.discard(inspector_id)
    return sorted(kept)


def repeat_blocked(seed: bytes, parameters: dict, venues: list[dict], inspectors: list[dict],
                   result: dict, disclosed: set[tuple[int, int, str]]) -> dict[int, list[int]]:
    """Inspector id -> the picks at which a withheld visit (and no shown one) blocks it and the
    pick's outcome (its team, or its skip) depends on that: see `_needed`.

    `result` is the canonical result (selection.as_json()) of the stored draw; the replay checks
    it reaches the same teams and skips, and raises ReplayError otherwise.
    """
    exclusions, team = parameters["exclusions"], parameters["team"]
    days = [date.fromisoformat(day).toordinal() for day in parameters["window"]["days"]]
    reach = exclusions["repeat_visit_days"]
    certified_needed = bool(team["require_certified_member"] and team["may_propose_penalties"])
    departments = {code: set(codes) for code, codes in parameters["responsible_departments"].items()}
    by_venue = {item["id"]: item for item in venues}
    states: dict[int, _State] = {}
    counts: list[dict[int, int]] = [{} for _ in days]
    day_index = {day: n for n, day in enumerate(parameters["window"]["days"])}
    for item in inspectors:
        state = _State(item, _key(seed, item["id"]))
        for venue, day in item["visits"]:
            target = state.shown if (item["id"], venue, day) in disclosed else state.hidden
            target.setdefault(venue, []).append(date.fromisoformat(day).toordinal())
        for day, count in item["booked"]:
            if day in day_index:
                counts[day_index[day]][item["id"]] = count
        states[item["id"]] = state
    loads = dict.fromkeys(states, 0)
    maximum = exclusions["max_assignments_per_inspector_per_day"]

    skipped = {entry["pick"]: entry for entry in result["skipped"]}
    staffed = iter(result["assignments"])
    blocked: dict[int, list[int]] = {}
    position = 0
    for number in range(1, len(result["assignments"]) + len(skipped) + 1):
        assignment = None if number in skipped else next(staffed)
        venue = by_venue[skipped[number]["venue"] if assignment is None else assignment["venue"]]
        day_no = position % len(days)
        day = days[day_no]
        pick = _Pick(
            ranked=sorted(states.values(), key=lambda s: (loads[s.item["id"]], s.key, s.item["id"])),
            static_ok={i: _static_ok(s.item, venue, exclusions, departments) for i, s in states.items()},
            shown={i: _near(s.shown.get(venue["id"], []), day, reach) for i, s in states.items()},
            day_ok={i: counts[day_no].get(i, 0) < maximum for i in states},
            size=team["size"], certified_needed=certified_needed)
        candidates = [i for i, s in states.items()
                      if not pick.shown[i] and _near(s.hidden.get(venue["id"], []), day, reach)]
        outcome = pick.outcome(set(candidates))
        if assignment is None:
            constraint = skipped[number]["constraint"]
            # Same county and department are one step here: no withheld visit bears on them.
            step = "static" if constraint in ("same_county", "responsible_department") else constraint
            if outcome != ("skip", step):
                raise ReplayError(f"pick {number}: the replay gives {outcome}, the result skips for {constraint}")
        elif outcome != ("team", tuple(assignment["members"])):
            raise ReplayError(f"pick {number}: the replay forms {outcome}, the result says {assignment['members']}")
        for inspector_id in _needed(pick, candidates):
            blocked.setdefault(inspector_id, []).append(number)
        if assignment is not None:
            for member in assignment["members"]:
                loads[member] += 1
                counts[day_no][member] = counts[day_no].get(member, 0) + 1
            position += 1
    return blocked


def redacted_inspectors(inspectors: list[dict], disclosed: set[tuple[int, int, str]],
                        blocked: dict[int, list[int]]) -> list[dict]:
    """The inspector snapshot with only disclosed visits and, per inspector, `repeat_blocked`."""
    return [{**item, "visits": [[venue, day] for venue, day in item["visits"] if (item["id"], venue, day) in disclosed],
             "repeat_blocked": sorted(blocked.get(item["id"], []))} for item in inspectors]
