"""A normal (sample) draw's sealed targets reach no role without the audited target read, through
any API answer or page: the differential walk of test_reinspection_secrecy, over every GET route of
the OpenAPI document and every page per role, read before the draw and again once it is drawn
(the auditor's share entered, the assignments sealed). Counted per address, no sealed target's
name, address or id, and no drawn team member's name, may appear more often afterwards."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from assignment_world import PASSWORD_HASH, make_assignment, world  # noqa: F401  (fixtures)
from test_reinspection_secrecy import counts, read_everything

from server.accounts.models.user import User
from server.audit.models.audit import AuditEvent
from server.columns import utcnow
from server.draws.creation import create_draw
from server.draws.models.draw import Draw
from server.registry.models.venue import Venue

ROLES = ("auditor", "county", "department", "enforcement", "propaganda", "inspector")


@pytest.fixture
def sample_scene(db, world, make_venue):  # noqa: F811
    """Six venues of the world's county and category; the world's three inspectors plus two from
    elsewhere can be drawn; one inspector from the venues' county never can (回避)."""
    venues = [world.venue] + [
        make_venue(name=f"抽查目标{world.tag}{n}", address=f"抽查路{world.tag}{n}号", category=world.venue.category,
                   county=world.venue.county, operator_name=f"业主{world.tag}{n}") for n in range(5)]
    extra = [User(username=f"extra{n}-{world.tag}", display_name=f"外县督查{n}{world.tag}", role="inspector",
                  password_hash=PASSWORD_HASH, enforcement_certificate_no=f"E{world.tag}{n}") for n in range(2)]
    local = User(username=f"local-{world.tag}", display_name=f"本县督查{world.tag}", role="inspector",
                 password_hash=PASSWORD_HASH, county=world.venue.county)
    db.session.add_all([*extra, local])
    db.session.commit()
    return {"venues": venues, "local": local}


def draw_now(world) -> Draw:  # noqa: F811
    start = utcnow() + timedelta(hours=2)
    draw = create_draw(world.users["office"], counties=[world.venue.county.code],
                       categories=[world.venue.category.code], sample_size=3, window_start=start,
                       window_end=start + timedelta(days=3))
    if draw.status == "awaiting":
        from server.draws.seeding import contribute

        contribute(draw, world.users["auditor"], f"纪检随机数-{uuid.uuid4().hex}")
    return draw


def target_markers(draw: Draw) -> dict[str, re.Pattern]:
    patterns = {}
    for assignment in draw.assignments:
        venue = assignment.venue
        patterns[f"名称{venue.id}"] = re.compile(re.escape(venue.name))
        patterns[f"地址{venue.id}"] = re.compile(re.escape(venue.address))
        patterns[f"venue_id {venue.id}"] = re.compile(rf'"venue_id"\s*:\s*{venue.id}\b')
        patterns[f"场所链接{venue.id}"] = re.compile(rf"/venues/{venue.id}\b")
        for member in assignment.members:
            patterns[f"组员{member.user.username}"] = re.compile(re.escape(member.user.display_name))
    return patterns


def user_of(world, scene, role: str) -> User:  # noqa: F811
    return scene["local"] if role == "inspector" else world.users[role]


@pytest.mark.parametrize("role", ROLES)
def test_a_sealed_sample_draw_tells_no_role_its_targets_or_teams(db, client, world, sample_scene, role):  # noqa: F811
    user = user_of(world, sample_scene, role)
    # Every venue that may be drawn, each by its own id: the venue routes (the register's among
    # them, which show a venue by the id the reader names) are then read before the draw for
    # whichever venue it picks.
    candidates = db.session.scalars(sa.select(Venue.id).where(Venue.county_id == world.venue.county_id,
                                                              Venue.category_id == world.venue.category_id))
    before = {}
    for venue_id in candidates:
        before.update(read_everything(client, user, {"venue_id": venue_id}))
    ids = {"venue_id": world.venue.id}

    draw = draw_now(world)
    db.session.commit()
    assert len(draw.assignments) == 3 and all(a.status == "sealed" for a in draw.assignments)
    assert user.id not in {m.user_id for a in draw.assignments for m in a.members}
    drawn = next(a for a in draw.assignments)
    ids.update(draw_id=draw.id, assignment_id=drawn.id, venue_id=drawn.venue_id)
    after = read_everything(client, user, ids)

    if role == "auditor":
        # The walk did reach the draw (its commitment), its page, and the audit log.
        assert draw.commitment in after[f"/api/v1/draws/{draw.id}"] and after[f"/draws/{draw.id}"]
        assert any(url.startswith("/audit/") and body for url, body in after.items())
    patterns = target_markers(draw)
    found_before, found_after = counts(before, patterns), counts(after, patterns)
    zero = dict.fromkeys(patterns, 0)
    leaks = {url: {name: (found_before.get(url, zero)[name], n) for name, n in seen.items()
                   if n > found_before.get(url, zero)[name]}
             for url, seen in found_after.items()}
    leaks = {url: changed for url, changed in leaks.items() if changed}
    assert not leaks, f"{role} learns a sealed target of the draw: {leaks}"


def test_the_draw_events_name_no_target(db, world, sample_scene):  # noqa: F811
    import sqlalchemy as sa

    draw = draw_now(world)
    db.session.commit()
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "draw",
                                                            AuditEvent.object_id == str(draw.id))).all()
    assert {event.action for event in events} >= {"draw.created"}
    text = " ".join(str(event.details) for event in events)
    for assignment in draw.assignments:
        assert assignment.venue.name not in text and assignment.venue.address not in text
        assert f"'venue_id': {assignment.venue_id}" not in text
