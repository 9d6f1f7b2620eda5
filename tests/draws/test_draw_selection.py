"""The pure draw selection: determinism, weights, every exclusion, load spread, infeasibility.

No database here: `select` is a function of (seed, candidates, parameters). A plain
re-implementation written from docs/draw-algorithm.md (`reference_select`, below, with linear
scans and no shortcuts) must agree with it on many random inputs, which keeps the document and
the fast implementation honest with each other.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import math
import random
from collections import Counter
from datetime import date, timedelta

import pytest

from server.draws.selection import (
    ALGORITHM,
    CERTIFIED_MEMBER,
    INSPECTORS,
    MAX_PER_DAY,
    REPEAT_VISIT,
    RESPONSIBLE_DEPARTMENT,
    SAME_COUNTY,
    TEAM_SIZE,
    VENUES_IN_SCOPE,
    InspectorCandidate,
    SelectionInputError,
    VenueCandidate,
    _Fenwick,
    canonical_json,
    inspectors_document,
    inspectors_from_json,
    result_digest,
    select,
    venue_weight,
    venues_document,
    venues_from_json,
)

SEED = bytes(range(32))
DAY = "2021-12-15"


def parameters(*, size=1, team=2, penalties=False, certified=True, days=(DAY,), same_county=True,
               department=True, repeat=30, per_day=2, weights=None, departments=None, factors=(1, 1)) -> dict:
    return {
        "algorithm": ALGORITHM,
        "sample": {"size": size, "rate_basis_points": None},
        "team": {"size": team, "may_propose_penalties": penalties, "require_certified_member": certified},
        "window": {"days": list(days)},
        "weights": {"categories": weights or {"ktv": 1, "bar": 1, "shop": 1},
                    "past_violations_factor": factors[0], "never_inspected_factor": factors[1]},
        "exclusions": {"same_county": same_county, "responsible_department": department,
                       "repeat_visit_days": repeat, "max_assignments_per_inspector_per_day": per_day},
        "responsible_departments": departments or {"ktv": ["culture"], "bar": ["culture"], "shop": ["commerce"]},
    }


def venue(id, county="yiwu", category="ktv", **kwargs) -> VenueCandidate:
    return VenueCandidate(id=id, county=county, category=category, **kwargs)


def inspector(id, county="wucheng", department="health", certified=False, **kwargs) -> InspectorCandidate:
    return InspectorCandidate(id=id, county=county, department=department, certified=certified, **kwargs)


def seeds(count: int, tag: str = "test"):
    return [hashlib.sha256(f"{tag}:{n}".encode()).digest() for n in range(count)]


def teams(selection) -> list[tuple[int, ...]]:
    return [pick.members for pick in selection.assignments]


# ---------------------------------------------------------------- a re-implementation from the document


def _hmac_int(seed: bytes, message: str) -> int:
    return int.from_bytes(hmac.new(seed, message.encode("ascii"), hashlib.sha256).digest(), "big")


def reference_select(seed, venues, inspectors, p):
    """docs/draw-algorithm.md §5–§8, literally: linear scans, no caches, no shortcuts."""
    weights, exclusions, team = p["weights"], p["exclusions"], p["team"]
    ordered = sorted(venues, key=lambda v: v.id)
    w = [weights["categories"][v.category]
         * (weights["past_violations_factor"] if v.past_violations > 0 else 1)
         * (weights["never_inspected_factor"] if not v.inspected else 1) for v in ordered]
    days = [date.fromisoformat(d) for d in p["window"]["days"]]
    key = {x.id: _hmac_int(seed, f"inspector:{x.id}") for x in inspectors}
    load = {x.id: 0 for x in inspectors}
    count = {(x.id, d): n for x in inspectors for d, n in x.booked}
    needs_certified = team["require_certified_member"] and team["may_propose_penalties"]
    size = team["size"]

    def checks(x, v, d):
        yield SAME_COUNTY, not (exclusions["same_county"] and x.county is not None and x.county == v.county)
        yield RESPONSIBLE_DEPARTMENT, not (exclusions["responsible_department"]
                                           and x.department in p["responsible_departments"][v.category])
        n = exclusions["repeat_visit_days"]
        yield REPEAT_VISIT, not n or all(abs((d - date.fromisoformat(e)).days) >= n
                                         for venue_id, e in x.visits if venue_id == v.id)
        yield MAX_PER_DAY, count.get((x.id, d.isoformat()), 0) < exclusions["max_assignments_per_inspector_per_day"]

    staffed, skipped, k = [], [], 0
    while len(staffed) < p["sample"]["size"] and sum(w) > 0:
        k += 1
        r = _hmac_int(seed, f"venue-pick:{k}") % sum(w)
        cumulative = 0
        for i, weight in enumerate(w):
            cumulative += weight
            if cumulative > r:
                break
        w[i] = 0
        v = ordered[i]
        d = days[len(staffed) % len(days)]
        eligible = [x for x in inspectors if all(ok for _, ok in checks(x, v, d))]
        ranked = sorted(eligible, key=lambda x: (load[x.id], key[x.id], x.id))
        members = ranked[:size]
        certified = [x for x in ranked if x.certified and x not in members]
        if len(members) < size or (needs_certified and not any(x.certified for x in members) and not certified):
            remaining = list(inspectors)
            constraint = CERTIFIED_MEMBER if len(remaining) >= size else TEAM_SIZE
            for name in () if constraint == TEAM_SIZE else (SAME_COUNTY, RESPONSIBLE_DEPARTMENT, REPEAT_VISIT, MAX_PER_DAY):
                remaining = [x for x in remaining if dict(checks(x, v, d))[name]]
                if len(remaining) < size:
                    constraint = name
                    break
            skipped.append((k, v.id, constraint))
            continue
        if needs_certified and not any(x.certified for x in members):
            members[-1] = certified[0]
        for x in members:
            load[x.id] += 1
            count[(x.id, d.isoformat())] = count.get((x.id, d.isoformat()), 0) + 1
        staffed.append((len(staffed) + 1, v.id, tuple(x.id for x in members), d.isoformat()))
    return staffed, skipped


def random_case(rng: random.Random):
    counties = ["a", "b", "c"]
    categories = {"k1": ["d1"], "k2": ["d2"], "k3": []}
    day0 = date(2021, 12, 15)
    days = [(day0 + timedelta(days=n)).isoformat() for n in range(rng.randint(1, 3))]
    venues = [VenueCandidate(id=rng.randrange(1, 10**6) * 100 + n, county=rng.choice(counties),
                             category=rng.choice(list(categories)), past_violations=rng.choice((0, 0, 2)),
                             inspected=rng.random() < 0.5) for n in range(rng.randint(5, 40))]
    inspectors = []
    for n in range(rng.randint(2, 14)):
        visits = tuple(sorted((rng.choice(venues).id, (day0 + timedelta(days=rng.randint(-6, 6))).isoformat())
                              for _ in range(rng.choice((0, 0, 1, 4)))))
        booked = tuple(sorted({(rng.choice(days), rng.randint(1, 2)) for _ in range(rng.choice((0, 0, 1)))}))
        booked = tuple({d: c for d, c in booked}.items())
        inspectors.append(InspectorCandidate(
            id=1000 + n * 7, county=rng.choice(counties + [None]), department=rng.choice(["d1", "d2", "d3", None]),
            certified=rng.random() < 0.4, visits=visits, booked=booked))
    p = parameters(size=rng.randint(1, 12), team=rng.choice((2, 2, 3, 4)), penalties=rng.random() < 0.6,
                   days=days, same_county=rng.random() < 0.8, department=rng.random() < 0.8,
                   repeat=rng.choice((0, 3, 7)), per_day=rng.choice((1, 2, 3)),
                   weights={"k1": 3, "k2": 1, "k3": 2}, departments=categories, factors=(2, 3))
    return venues, inspectors, p


@pytest.mark.parametrize("case", range(300))
def test_select_agrees_with_the_documented_algorithm(case):
    rng = random.Random(case)
    venues, inspectors, p = random_case(rng)
    seed = rng.randbytes(32)
    selection = select(seed, venues, inspectors, p)
    staffed, skipped = reference_select(seed, venues, inspectors, p)
    if selection.ok:
        assert [(a.position, a.venue_id, a.members, a.visit_date) for a in selection.assignments] == staffed
        assert [(s.pick, s.venue_id, s.constraint) for s in selection.skipped] == skipped
    else:
        assert len(staffed) < p["sample"]["size"]
        if selection.assignments or selection.skipped:
            # Not one of the up-front shortcuts: the same picks up to where the venues ran out.
            assert [(a.position, a.venue_id, a.members, a.visit_date) for a in selection.assignments] == staffed
            assert [(s.pick, s.venue_id, s.constraint) for s in selection.skipped] == skipped


def test_random_cases_cover_skips_infeasibility_and_replacements():
    """The agreement test above is only worth something if its cases exercise every path."""
    outcomes = Counter()
    for case in range(300):
        rng = random.Random(case)
        venues, inspectors, p = random_case(rng)
        selection = select(rng.randbytes(32), venues, inspectors, p)
        outcomes["feasible" if selection.ok else "infeasible"] += 1
        outcomes.update(skip.constraint for skip in selection.skipped)
    assert outcomes["feasible"] >= 50 and outcomes["infeasible"] >= 20
    for constraint in (TEAM_SIZE, SAME_COUNTY, RESPONSIBLE_DEPARTMENT, REPEAT_VISIT, MAX_PER_DAY, CERTIFIED_MEMBER):
        assert outcomes[constraint] > 0, (constraint, outcomes)


# ---------------------------------------------------------------- determinism


def city(venues=60, inspectors=20):
    rng = random.Random(7)
    counties = ["yiwu", "dongyang", "wucheng"]
    return ([venue(n, county=rng.choice(counties), category=rng.choice(["ktv", "bar", "shop"]))
             for n in range(1, venues + 1)],
            [inspector(100 + n, county=rng.choice(counties), department=rng.choice(["culture", "health", None]),
                       certified=n % 3 == 0) for n in range(inspectors)])


def test_deterministic_replay():
    venues, inspectors = city()
    p = parameters(size=8, penalties=True, days=("2021-12-15", "2021-12-16"))
    first = select(SEED, venues, inspectors, p)
    again = select(SEED, list(reversed(venues)), random.Random(3).sample(inspectors, len(inspectors)),
                   copy.deepcopy(p))
    assert first.ok and first == again
    assert result_digest(SEED, first) == result_digest(SEED, again)
    other = select(bytes(32), venues, inspectors, p)
    assert [a.venue_id for a in other.assignments] != [a.venue_id for a in first.assignments]


def test_known_answer():
    """Pins the algorithm: a change here means a new algorithm version (docs/draw-algorithm.md)."""
    venues, inspectors = city()
    selection = select(SEED, venues, inspectors, parameters(size=3, penalties=True))
    assert [(a.venue_id, a.members, a.visit_date) for a in selection.assignments] == [
        (37, (111, 118), DAY), (1, (117, 103), DAY), (24, (108, 109), DAY)]


def test_snapshots_round_trip_through_canonical_json():
    venues, inspectors = city(5, 4)
    inspectors[0] = inspector(100, visits=((3, "2021-12-01"),), booked=((DAY, 1),))
    assert venues_from_json(venues_document(venues)) == venues
    assert inspectors_from_json(inspectors_document(inspectors)) == sorted(inspectors, key=lambda i: i.id)
    text = canonical_json(venues_document(venues)).decode()
    assert " " not in text and text.startswith('[{"category":')


def test_result_digest_is_keyed_by_the_seed():
    venues, inspectors = city()
    selection = select(SEED, venues, inspectors, parameters(size=2))
    plain = hashlib.sha256(canonical_json(selection.as_json())).hexdigest()
    assert result_digest(SEED, selection) != plain
    assert result_digest(SEED, selection) != result_digest(bytes(32), selection)


# ---------------------------------------------------------------- weights


def test_fenwick_finds_what_a_linear_walk_finds():
    rng = random.Random(1)
    weights = [rng.randint(0, 9) for _ in range(257)]
    tree = _Fenwick(weights)
    for _ in range(300):
        if tree.total == 0:
            break
        r = rng.randrange(tree.total)
        cumulative, expected = 0, None
        for index, weight in enumerate(tree.weights):
            cumulative += weight
            if cumulative > r:
                expected = index
                break
        assert tree.find(r) == expected
        tree.remove(expected)
    assert tree.total == sum(tree.weights)


def test_sampling_follows_the_weights():
    """2,000 seeds, one pick among four venues weighted 1:2:3:4.

    The seeds are fixed, so this test is deterministic and can never flake; the bound of five
    standard deviations is what a fair sampler would meet for practically any choice of seeds.
    """
    venues = [venue(n, category=category) for n, category in enumerate(["w1", "w2", "w3", "w4"], start=1)]
    p = parameters(weights={"w1": 1, "w2": 2, "w3": 3, "w4": 4},
                   departments={"w1": [], "w2": [], "w3": [], "w4": []})
    inspectors = [inspector(10), inspector(11)]
    trials = 2000
    picked = Counter(select(seed, venues, inspectors, p).assignments[0].venue_id for seed in seeds(trials))
    for venue_id, weight in zip((1, 2, 3, 4), (1, 2, 3, 4)):
        share = weight / 10
        expected, spread = trials * share, math.sqrt(trials * share * (1 - share))
        assert abs(picked[venue_id] - expected) <= 5 * spread, (venue_id, picked)


def test_venue_weight_multiplies_category_weight_and_factors():
    p = parameters(weights={"ktv": 3, "bar": 1, "shop": 1}, factors=(2, 5))
    assert venue_weight(venue(1, inspected=True), p) == 3
    assert venue_weight(venue(1, inspected=False), p) == 15
    assert venue_weight(venue(1, inspected=True, past_violations=1), p) == 6
    assert venue_weight(venue(1, inspected=False, past_violations=4), p) == 30


def test_heavier_venues_are_picked_more_often():
    """Past violations and never-inspected double the weight: over many seeds it shows."""
    venues = [venue(1, inspected=True), venue(2, inspected=False), venue(3, inspected=True, past_violations=1)]
    p = parameters(factors=(2, 2))
    picked = Counter(select(seed, venues, [inspector(10), inspector(11)], p).assignments[0].venue_id
                     for seed in seeds(600, "heavier"))
    assert picked[2] > picked[1] * 1.5 and picked[3] > picked[1] * 1.5


# ---------------------------------------------------------------- exclusions, each where it would otherwise bite


def test_same_county_inspectors_are_excluded():
    target = [venue(1, county="yiwu")]
    locals_and_one = [inspector(10, county="yiwu"), inspector(11, county="yiwu"), inspector(12, county="jindong")]
    # Without the rule a team of two from these three necessarily includes a local inspector.
    loose = select(SEED, target, locals_and_one, parameters(same_county=False))
    assert set(teams(loose)[0]) & {10, 11}
    strict = select(SEED, target, locals_and_one, parameters())
    assert not strict.ok and strict.infeasible.constraint == SAME_COUNTY
    assert dict(strict.infeasible.funnel)[SAME_COUNTY] == 1
    staffed = select(SEED, target, locals_and_one + [inspector(13, county=None)], parameters())
    assert set(teams(staffed)[0]) == {12, 13}


def test_responsible_department_inspectors_are_excluded():
    target = [venue(1, category="ktv")]
    pool = [inspector(10, department="culture"), inspector(11, department="culture"),
            inspector(12, department="health")]
    assert set(teams(select(SEED, target, pool, parameters(department=False)))[0]) & {10, 11}
    strict = select(SEED, target, pool, parameters())
    assert not strict.ok and strict.infeasible.constraint == RESPONSIBLE_DEPARTMENT
    staffed = select(SEED, target, pool + [inspector(13, department=None)], parameters())
    assert set(teams(staffed)[0]) == {12, 13}


@pytest.mark.parametrize(("visited", "repeat_days", "excluded"), [
    ("2021-12-05", 30, True),   # ten days before
    ("2021-12-25", 30, True),   # ten days after (another draw's sealed assignment)
    ("2021-12-05", 10, False),  # exactly N days: allowed
    ("2021-12-06", 10, True),   # N − 1 days: excluded
    ("2021-12-05", 0, False),   # rule off
])
def test_no_repeat_visit_within_n_days(visited, repeat_days, excluded):
    target = [venue(1)]
    pool = [inspector(10, visits=((1, visited),)), inspector(11, visits=((2, visited),)), inspector(12)]
    selection = select(SEED, target, pool, parameters(repeat=repeat_days))
    assert selection.ok
    assert (10 in teams(selection)[0]) is not excluded
    if excluded:
        assert set(teams(selection)[0]) == {11, 12}
        cramped = select(SEED, target, pool[:2], parameters(repeat=repeat_days))
        assert cramped.infeasible.constraint == REPEAT_VISIT


def test_visits_elsewhere_do_not_exclude():
    pool = [inspector(10, visits=((2, DAY),)), inspector(11, visits=((3, DAY),))]
    assert set(teams(select(SEED, [venue(1)], pool, parameters()))[0]) == {10, 11}


def test_per_day_maximum_counts_this_draw_and_other_draws():
    pool = [inspector(n) for n in range(10, 14)]
    two_venues = [venue(1), venue(2)]
    # One day, at most one assignment each: two teams of two use all four inspectors once.
    selection = select(SEED, two_venues, pool, parameters(size=2, per_day=1))
    assert selection.ok and set(teams(selection)[0]).isdisjoint(teams(selection)[1])
    # Booked elsewhere that day: inspector 10 is full, and only three remain for four places.
    booked = [inspector(10, booked=((DAY, 1),))] + pool[1:]
    full = select(SEED, two_venues, booked, parameters(size=2, per_day=1))
    assert not full.ok and full.infeasible.constraint == MAX_PER_DAY
    # Without the limit the same inspector would serve twice on the day.
    assert select(SEED, [venue(1), venue(2)], pool[:2], parameters(size=2, per_day=2)).ok


def test_per_day_maximum_is_never_exceeded_and_days_rotate():
    venues, inspectors = city(80, 12)
    p = parameters(size=15, per_day=1, days=("2021-12-15", "2021-12-16", "2021-12-17"), same_county=False,
                   department=False)
    selection = select(SEED, venues, inspectors, p)
    assert selection.ok
    per_day = Counter((member, pick.visit_date) for pick in selection.assignments for member in pick.members)
    assert max(per_day.values()) == 1
    assert [pick.visit_date for pick in selection.assignments[:4]] == [
        "2021-12-15", "2021-12-16", "2021-12-17", "2021-12-15"]


def test_full_day_skips_and_reports_max_per_day():
    """Enough slots over the window, but day one has room for one team and gets two."""
    busy = ((DAY, 1),)
    pool = [inspector(10, booked=busy), inspector(11, booked=busy), inspector(12), inspector(13)]
    selection = select(SEED, [venue(n) for n in range(1, 5)], pool,
                       parameters(size=3, per_day=1, days=(DAY, "2021-12-16")))
    assert not selection.ok
    report = selection.infeasible
    assert report.constraint == MAX_PER_DAY and report.staffed == 2
    assert dict(report.funnel)[MAX_PER_DAY] == 0


def test_penalty_teams_include_a_certified_member():
    venues, inspectors = city(40, 15)
    certified = {i.id for i in inspectors if i.certified}
    with_penalties = select(SEED, venues, inspectors, parameters(size=12, penalties=True, per_day=5))
    assert with_penalties.ok
    assert all(set(team) & certified for team in teams(with_penalties))
    without = [select(seed, venues, inspectors, parameters(size=12, per_day=5)) for seed in seeds(5, "cert")]
    # Without the rule, some team somewhere has no certified member: the rule is what prevents it.
    assert any(not set(team) & certified for selection in without for team in teams(selection))


def test_certified_member_replaces_the_last_and_keeps_the_best_ranked():
    pool = [inspector(10), inspector(11), inspector(12), inspector(13, certified=True)]
    plain = select(SEED, [venue(1)], pool, parameters())
    with_penalties = select(SEED, [venue(1)], pool, parameters(penalties=True))
    best = teams(plain)[0]
    if 13 not in best:
        assert teams(with_penalties)[0] == (best[0], 13)
    else:
        assert teams(with_penalties)[0] == best


def test_no_certified_inspector_is_reported():
    pool = [inspector(10), inspector(11), inspector(12, certified=True, county="yiwu")]
    selection = select(SEED, [venue(1, county="yiwu")], pool, parameters(penalties=True))
    assert not selection.ok and selection.infeasible.constraint == CERTIFIED_MEMBER
    assert dict(selection.infeasible.funnel)[CERTIFIED_MEMBER] == 0
    # The policy can switch the requirement off; then the same pool staffs the venue.
    assert select(SEED, [venue(1, county="yiwu")], pool, parameters(penalties=True, certified=False)).ok


# ---------------------------------------------------------------- load, skips, infeasibility


def test_load_spreads_evenly_when_unconstrained():
    pool = [inspector(n) for n in range(10, 20)]
    venues = [venue(n) for n in range(1, 40)]
    selection = select(SEED, venues, pool, parameters(size=23, per_day=99, days=("2021-12-15", "2021-12-16")))
    loads = Counter(member for team in teams(selection) for member in team)
    assert sum(loads.values()) == 46 and len(loads) == 10
    assert max(loads.values()) - min(loads.values()) <= 1


def test_unstaffable_venue_is_skipped_and_the_draw_continues():
    pool = [inspector(10, county="yiwu"), inspector(11, county="yiwu"), inspector(12, county="jindong"),
            inspector(13, county="jindong")]
    venues = [venue(n, county="jindong") for n in range(1, 4)] + [venue(n, county="yiwu") for n in range(4, 7)]
    selection = select(SEED, venues, pool, parameters(size=4, per_day=9))
    # A jindong venue can only be staffed by the two yiwu inspectors and vice versa: all feasible.
    assert selection.ok
    for pick in selection.assignments:
        county = "jindong" if pick.venue_id <= 3 else "yiwu"
        assert all(next(i for i in pool if i.id == m).county != county for m in pick.members)
    lopsided = pool[:2] + [inspector(12, county="jindong")]
    partly = select(SEED, venues, lopsided, parameters(size=3, per_day=9))
    assert partly.ok
    assert {s.venue_id for s in partly.skipped} <= {4, 5, 6}
    assert all(s.constraint == SAME_COUNTY for s in partly.skipped)


def test_infeasibility_report_names_the_constraint_and_counts():
    pool = [inspector(10, county="yiwu"), inspector(11, county="yiwu"), inspector(12, department="culture"),
            inspector(13)]
    venues = [venue(n, county="yiwu", category="ktv") for n in range(1, 6)]
    selection = select(SEED, venues, pool, parameters(size=2))
    report = selection.infeasible
    assert report.constraint == RESPONSIBLE_DEPARTMENT
    assert (report.requested, report.staffed, report.venues_in_scope, report.inspectors) == (2, 0, 5, 4)
    assert report.skipped == {RESPONSIBLE_DEPARTMENT: 5}
    assert report.funnel == ((INSPECTORS, 4), (SAME_COUNTY, 2), (RESPONSIBLE_DEPARTMENT, 1), (REPEAT_VISIT, 1),
                             (MAX_PER_DAY, 1), (CERTIFIED_MEMBER, 0))


def test_fewer_inspectors_than_a_team_is_reported():
    selection = select(SEED, [venue(1)], [inspector(10), inspector(11)], parameters(team=3, per_day=9))
    assert selection.infeasible.constraint == TEAM_SIZE
    assert selection.infeasible.funnel[0] == (INSPECTORS, 2)


def test_too_few_venues_and_too_few_slots_are_reported_up_front():
    pool = [inspector(10), inspector(11)]
    few = select(SEED, [venue(1)], pool, parameters(size=2))
    assert few.infeasible.constraint == VENUES_IN_SCOPE and few.infeasible.venues_in_scope == 1
    slots = select(SEED, [venue(n) for n in range(1, 9)], pool, parameters(size=3, per_day=1))
    assert slots.infeasible.constraint == MAX_PER_DAY
    assert dict(slots.infeasible.funnel) == {INSPECTORS: 2, MAX_PER_DAY: 2}


@pytest.mark.parametrize(("venues", "p", "message"), [
    ([venue(1), venue(1)], parameters(), "twice"),
    ([venue(1, category="cinema")], parameters(), "no weight"),
    ([venue(1)], parameters(size=0), "sample size"),
])
def test_malformed_inputs_are_refused(venues, p, message):
    with pytest.raises(SelectionInputError, match=message):
        select(SEED, venues, [inspector(10), inspector(11)], p)


def test_empty_seed_is_refused():
    with pytest.raises(SelectionInputError):
        select(b"", [venue(1)], [inspector(10), inspector(11)], parameters())
