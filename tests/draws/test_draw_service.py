"""Draws on the database: commitment, snapshots, sealed assignments, audit anchor; nothing
half-created on an infeasible scope; close reveals the seed; verify detects every tampering."""

from __future__ import annotations

import hashlib
import json
import uuid
import zlib
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa

from server.accounts.models.user import User
from server.audit.models.audit import AuditEvent
from server.columns import as_utc, utcnow
from server.draws.closing import close_draw
from server.draws.creation import DrawInfeasible, create_draw
from server.draws.models.draw import Assignment, AssignmentMember, AssignmentTransition, Draw
from server.draws.seeding import contribute
from server.draws.selection import canonical_json, commitment_of, digest
from server.draws.server_keys import unwrap_secret
from server.draws.verification import MATCH, MISMATCH, NOT_REVEALED, verify_draw
from server.errors import Conflict, Forbidden, Invalid
from server.registry.models.reference import County, Department, VenueCategory
from server.registry.models.venue import Venue


@dataclass
class Scope:
    county: County
    other_county: County
    category: VenueCategory
    responsible: Department
    venues: list[Venue]
    inspectors: list[User]
    office: User
    admin: User
    auditor: User


def person(db, role: str, **values) -> User:
    """A user without a password: hashing one (argon2) costs more than the whole test."""
    user = User(username=f"{role}-{uuid.uuid4().hex[:10]}", display_name=f"测试{role}", role=role, **values)
    db.session.add(user)
    db.session.flush()
    return user


@pytest.fixture
def scope(db, make_venue) -> Scope:
    """Eight venues in a county and category of their own; ten inspectors from elsewhere."""
    tag = uuid.uuid4().hex[:8]
    responsible = Department(code=f"dep{tag}", name=f"主管局{tag}")
    other_department = Department(code=f"odp{tag}", name=f"其他局{tag}")
    category = VenueCategory(code=f"cat{tag}", name=f"测试类场所{tag}", departments=[responsible])
    county = County(code=f"cty{tag}", name=f"测试县{tag}", kind="county")
    other_county = County(code=f"oct{tag}", name=f"邻县{tag}", kind="county")
    db.session.add_all([responsible, other_department, category, county, other_county])
    db.session.flush()
    venues = [make_venue(name=f"暗访目标{tag}{n}号", address=f"隐秘路{tag}{n}号", category=category, county=county)
              for n in range(8)]
    inspectors = [person(db, "inspector", county=other_county, department=other_department,
                         enforcement_certificate_no=f"C{tag}{n}" if n % 2 else None) for n in range(10)]
    return Scope(county, other_county, category, responsible, venues, inspectors,
                 person(db, "office"), person(db, "admin"), person(db, "auditor"))


def window(days: int = 2, starts_in: timedelta = timedelta(hours=1)):
    start = utcnow() + starts_in
    return {"window_start": start, "window_end": start + timedelta(days=days)}


def draw(scope: Scope, *, actor=None, **overrides) -> Draw:
    """A draw as the office creates it, completed by the auditor's share as the policy asks."""
    arguments = {"counties": [scope.county.code], "categories": [scope.category.code], "sample_size": 4,
                 **window(), **overrides}
    made = create_draw(actor or scope.office, **arguments)
    return contribute(made, scope.auditor, f"纪检随机数-{uuid.uuid4().hex}")


def counts(db) -> tuple[int, ...]:
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(model))
                 for model in (Draw, Assignment, AssignmentMember, AssignmentTransition, AuditEvent))


def created_event(db, made: Draw) -> AuditEvent:
    return db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "draw.created",
                                                         AuditEvent.object_id == str(made.id)))


# ---------------------------------------------------------------- creating


def test_draw_stores_commitment_snapshots_and_digests(db, scope):
    made = draw(scope)

    seed = unwrap_secret(made.sealed_seed, "draw-seed")
    assert len(seed) == 32 and made.commitment == hashlib.sha256(seed).hexdigest()
    assert made.revealed_seed is None and made.status == "committed"
    venues_json = zlib.decompress(made.venues_snapshot)
    inspectors_json = zlib.decompress(made.inspectors_snapshot)
    assert hashlib.sha256(venues_json).hexdigest() == made.venues_digest
    assert hashlib.sha256(inspectors_json).hexdigest() == made.inspectors_digest
    assert made.parameters_digest == digest(made.parameters) == hashlib.sha256(
        canonical_json(made.parameters)).hexdigest()
    venues = json.loads(venues_json)
    assert [v["id"] for v in venues] == sorted(v.id for v in scope.venues)
    assert venues[0] == {"id": scope.venues[0].id, "county": scope.county.code, "category": scope.category.code,
                         "past_violations": 0, "inspected": False}
    inspector_ids = [i["id"] for i in json.loads(inspectors_json)]
    assert inspector_ids == sorted(inspector_ids) and {i.id for i in scope.inspectors} <= set(inspector_ids)
    parameters = made.parameters
    assert parameters["sample"] == {"size": 4, "rate_basis_points": None}
    assert parameters["policy"]["code"] == "default" and parameters["policy"]["version"]
    assert parameters["exclusions"]["repeat_visit_days"] == 30
    assert parameters["responsible_departments"] == {scope.category.code: [scope.responsible.code]}
    assert len(parameters["window"]["days"]) in (2, 3)


def test_draw_creates_sealed_assignments_with_teams(db, scope):
    made = draw(scope, meeting_point="市公安局北门")
    assert [a.position for a in made.assignments] == [1, 2, 3, 4]
    venue_ids = {v.id for v in scope.venues}
    certified = {i.id for i in scope.inspectors if i.enforcement_certificate_no}
    for assignment in made.assignments:
        assert assignment.status == "sealed" and assignment.wrapped_key and assignment.envelope is None
        assert assignment.venue_id in venue_ids and assignment.meeting_point == "市公安局北门"
        assert (as_utc(made.window_start) <= as_utc(assignment.window_start) < as_utc(assignment.window_end)
                <= as_utc(made.window_end))
        members = [m.user_id for m in assignment.members]
        assert len(members) == 2 and assignment.members[0].is_leader and not assignment.members[1].is_leader
        assert set(members) & certified
        transitions = db.session.scalars(sa.select(AssignmentTransition.to_status)
                                         .where(AssignmentTransition.assignment_id == assignment.id)).all()
        assert transitions == ["sealed"]
    assert len({a.venue_id for a in made.assignments}) == 4


def test_one_audit_event_anchors_the_digests_and_names_no_target(db, scope):
    before = db.session.scalar(sa.select(sa.func.max(AuditEvent.seq)))
    made = draw(scope)
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.seq > before)
                                .where(AuditEvent.object_type == "draw")).all()
    # The commitment and digests when the office creates it; the share and the result after.
    assert [e.action for e in events] == ["draw.created", "draw.seeded"]
    details, seeded = events[0].details, events[1].details
    for name in ("commitment", "parameters_digest", "venues_digest", "inspectors_digest"):
        assert details[name] == getattr(made, name)
    assert "result_digest" not in details and seeded["result_digest"] == made.result_digest
    assert (details["venues"], seeded["assignments"], seeded["skipped"]) == (8, 4, 0)
    text = json.dumps(details, ensure_ascii=False) + json.dumps(seeded, ensure_ascii=False)
    for venue in scope.venues:
        assert venue.name not in text and venue.address not in text
    assert "venue_id" not in text


def test_sample_by_rate(db, scope):
    made = draw(scope, sample_size=None, rate="30")
    # ceil(8 × 30 %) = 3
    assert made.parameters["sample"] == {"size": 3, "rate_basis_points": 3000}
    assert len(made.assignments) == 3


def test_scope_by_names(db, scope):
    made = draw(scope, counties=[scope.county.name], categories=[scope.category.name], sample_size=1)
    assert made.parameters["scope"] == {"counties": [scope.county.code], "categories": [scope.category.code]}


@pytest.mark.parametrize(("overrides", "field"), [
    ({"counties": ["nowhere"]}, "counties"),
    ({"counties": []}, "counties"),
    ({"categories": ["cinema_on_mars"]}, "categories"),
    ({"rate": "10"}, "sample_size"),
    ({"sample_size": None}, "sample_size"),
    ({"sample_size": None, "rate": "0"}, "rate"),
    ({"sample_size": None, "rate": "12.345"}, "rate"),
    ({"team_size": 1}, "team_size"),
    ({"window_start": utcnow() + timedelta(days=2), "window_end": utcnow() + timedelta(days=1)}, "window_end"),
    ({"window_start": utcnow() - timedelta(days=2), "window_end": utcnow() - timedelta(days=1)}, "window_end"),
    ({"window_end": utcnow() + timedelta(days=60)}, "window_end"),
])
def test_bad_requests_are_invalid_and_write_nothing(db, scope, overrides, field):
    before = counts(db)
    with pytest.raises(Invalid) as caught:
        draw(scope, **overrides)
    assert field in caught.value.errors
    assert counts(db) == before


def test_only_office_and_admin_create(db, scope):
    assert draw(scope, actor=scope.admin).assignments
    for role in ("inspector", "auditor", "department", "county", "propaganda", "enforcement"):
        with pytest.raises(Forbidden):
            draw(scope, actor=person(db, role))


# ---------------------------------------------------------------- infeasible scopes


def test_infeasible_scope_names_the_constraint_and_writes_nothing(db, scope):
    for inspector in scope.inspectors[2:]:
        inspector.county = scope.county  # now from the venues' own county
    db.session.flush()
    active_elsewhere = db.session.scalar(sa.select(sa.func.count(User.id)).where(
        User.role == "inspector", User.is_active.is_(True),
        sa.or_(User.county_id.is_(None), User.county_id != scope.county.id)))
    total = db.session.scalar(sa.select(sa.func.count(User.id)).where(User.role == "inspector",
                                                                      User.is_active.is_(True)))
    before = counts(db)
    with pytest.raises(DrawInfeasible) as caught:
        draw(scope, sample_size=2, team_size=2 + active_elsewhere - 1)
    problem = caught.value
    assert counts(db) == before
    assert problem.status == 409 and problem.extra["constraint"] == "same_county"
    assert "回避：不派本县" in problem.detail and f"在岗督查人员 {total} 人" in problem.detail
    remaining = {step["constraint"]: step["count"] for step in problem.extra["remaining"]}
    assert remaining["inspectors"] == total and remaining["same_county"] == active_elsewhere
    assert problem.extra["requested"] == 2 and problem.extra["staffed"] == 0


def test_too_few_venues_is_infeasible(db, scope):
    before = counts(db)
    with pytest.raises(DrawInfeasible) as caught:
        draw(scope, sample_size=9)
    assert caught.value.extra["constraint"] == "venues_in_scope"
    assert "只有 8 个候选场所" in caught.value.detail
    assert counts(db) == before


def test_responsible_department_is_excluded_on_the_database(db, scope):
    for inspector in scope.inspectors[:-2]:
        inspector.department = scope.responsible
    db.session.flush()
    made = draw(scope, sample_size=1, may_propose_penalties=False)
    members = {m.user_id for a in made.assignments for m in a.members}
    assert members == {i.id for i in scope.inspectors[-2:]}


def test_second_draw_avoids_repeat_visits_and_counts_bookings(db, scope):
    first = draw(scope, sample_size=8, **window(days=1, starts_in=timedelta(hours=30)))
    pairs = {(a.venue_id, m.user_id) for a in first.assignments for m in a.members}
    second = draw(scope, sample_size=6, **window(days=3, starts_in=timedelta(hours=1)))
    snapshot = json.loads(zlib.decompress(second.inspectors_snapshot))
    recorded = {(venue, entry["id"]) for entry in snapshot for venue, _day in entry["visits"]}
    assert pairs <= recorded
    assert any(entry["booked"] for entry in snapshot)
    again = {(a.venue_id, m.user_id) for a in second.assignments for m in a.members}
    assert not pairs & again
    per_day = {}
    for made in (first, second):
        for assignment in made.assignments:
            for member in assignment.members:
                key = (member.user_id, assignment.visit_date)
                per_day[key] = per_day.get(key, 0) + 1
    assert max(per_day.values()) <= 2


def test_inspected_venues_are_marked_in_the_snapshot(db, scope):
    first = draw(scope, sample_size=1)
    inspected = first.assignments[0]
    inspected.status = "submitted"
    db.session.flush()
    second = draw(scope, sample_size=1)
    venues = {v["id"]: v for v in json.loads(zlib.decompress(second.venues_snapshot))}
    assert venues[inspected.venue_id]["inspected"] is True
    assert sum(v["inspected"] for v in venues.values()) == 1


# ---------------------------------------------------------------- closing and verifying


def test_verify_before_close_says_not_revealed(db, scope):
    report = verify_draw(draw(scope))
    assert report.state == NOT_REVEALED and "尚未公开" in report.message and not report.ok


def after_window(made: Draw):
    """A moment just after the draw's window: the only time it may be closed."""
    return as_utc(made.window_end) + timedelta(minutes=1)


def test_close_reveals_the_seed_and_verify_matches(db, scope):
    made = draw(scope)
    close_draw(made, scope.office, now=after_window(made))
    assert made.status == "closed" and made.closed_by_id == scope.office.id
    assert commitment_of(bytes.fromhex(made.revealed_seed)) == made.commitment
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "draw.closed")
                              .order_by(AuditEvent.seq.desc()))
    assert event.details["seed"] == made.revealed_seed
    report = verify_draw(made)
    assert report.state == MATCH, report.reasons
    assert report.assignments_checked == 4 and "核验通过" in report.message


def test_close_rules(db, scope):
    made = draw(scope)
    # Before the window ends no one closes a draw, not even the office: abandoning it is a cancellation.
    for actor in (scope.office, scope.admin):
        with pytest.raises(Conflict, match="窗口结束前只能取消（须说明理由）"):
            close_draw(made, actor)
    assert made.status == "committed" and made.revealed_seed is None
    with pytest.raises(Forbidden):
        close_draw(made, scope.auditor, now=after_window(made))
    close_draw(made, scope.admin, now=after_window(made))
    with pytest.raises(Conflict, match="已关闭"):
        close_draw(made, scope.office, now=after_window(made))


def _tamper(db, made: Draw, scope: Scope, what: str) -> None:
    """Edit one stored thing the way someone with write access to the database would."""
    first = made.assignments[0]
    if what == "parameters":
        parameters = json.loads(json.dumps(made.parameters))
        parameters["exclusions"]["repeat_visit_days"] = 1
        db.session.execute(sa.update(Draw).where(Draw.id == made.id).values(parameters=parameters))
    elif what == "venue_snapshot":
        venues = json.loads(zlib.decompress(made.venues_snapshot))
        venues[0]["inspected"] = not venues[0]["inspected"]
        db.session.execute(sa.update(Draw).where(Draw.id == made.id)
                           .values(venues_snapshot=zlib.compress(canonical_json(venues))))
    elif what == "snapshot_and_its_digest":
        inspectors = json.loads(zlib.decompress(made.inspectors_snapshot))
        inspectors = [i for i in inspectors if i["id"] != first.members[0].user_id]
        blob = canonical_json(inspectors)
        db.session.execute(sa.update(Draw).where(Draw.id == made.id).values(
            inspectors_snapshot=zlib.compress(blob), inspectors_digest=hashlib.sha256(blob).hexdigest()))
    elif what == "digest":
        db.session.execute(sa.update(Draw).where(Draw.id == made.id).values(venues_digest="0" * 64))
    elif what == "result_digest":
        db.session.execute(sa.update(Draw).where(Draw.id == made.id).values(result_digest="f" * 64))
    elif what == "revealed_seed":
        db.session.execute(sa.update(Draw).where(Draw.id == made.id).values(revealed_seed="ab" * 32))
    elif what == "assignment_venue":
        other = next(v.id for v in scope.venues if v.id not in {a.venue_id for a in made.assignments})
        db.session.execute(sa.update(Assignment).where(Assignment.id == first.id).values(venue_id=other))
    elif what == "assignment_day":
        db.session.execute(sa.update(Assignment).where(Assignment.id == first.id)
                           .values(visit_date=first.visit_date + timedelta(days=1)))
    elif what == "member":
        outsider = next(i.id for i in scope.inspectors if i.id not in {m.user_id for m in first.members})
        db.session.execute(sa.update(AssignmentMember).where(AssignmentMember.id == first.members[1].id)
                           .values(user_id=outsider))
    elif what == "assignment_deleted":
        db.session.execute(sa.delete(AssignmentMember).where(AssignmentMember.assignment_id == first.id))
        db.session.execute(sa.delete(AssignmentTransition).where(AssignmentTransition.assignment_id == first.id))
        db.session.execute(sa.delete(Assignment).where(Assignment.id == first.id))
    db.session.expire_all()


@pytest.mark.parametrize("what", ["parameters", "venue_snapshot", "snapshot_and_its_digest", "digest",
                                  "result_digest", "revealed_seed", "assignment_venue", "assignment_day",
                                  "member", "assignment_deleted"])
def test_verify_detects_tampering(db, scope, what):
    made = draw(scope)
    close_draw(made, scope.office, now=after_window(made))
    assert verify_draw(made).state == MATCH
    _tamper(db, made, scope, what)
    report = verify_draw(db.session.get(Draw, made.id))
    assert report.state == MISMATCH and report.reasons, what
    assert "核验未通过" in report.message


def test_demo_registry_draw_over_two_counties_and_three_categories(db):
    from server.demo.registry import seed_demo

    seed_demo()
    office = db.session.scalar(sa.select(User).where(User.username == "office"))
    auditor = db.session.scalar(sa.select(User).where(User.username == "auditor"))
    made = create_draw(office, counties=["yiwu", "dongyang"], categories=["restaurant", "ktv", "hotel"],
                       sample_size=12, **window(days=3))
    contribute(made, auditor, "演示纪检随机数-0123456789abcdef")
    assert len(made.assignments) == 12
    assert {a.venue.county.code for a in made.assignments} <= {"yiwu", "dongyang"}
    for assignment in made.assignments:
        assert assignment.status == "sealed"
        members = [m.user for m in assignment.members]
        assert all(m.county_id != assignment.venue.county_id for m in members)
        assert not {m.department_id for m in members} & {d.id for d in assignment.venue.category.departments}
        assert any(m.enforcement_certificate_no for m in members)
    close_draw(made, office, now=after_window(made))
    assert verify_draw(made).state == MATCH
