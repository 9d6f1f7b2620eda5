"""Assignments for tests, built directly (a Draw row with placeholder digests and one Assignment
per call) so that these tests do not depend on the draw service.

Import the fixtures into a test module: `from assignment_world import world, make_assignment`.
The target venue has a name, address and operator that occur nowhere else, so a test can search
any answer's bytes for them.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from server.accounts.models.user import User
from server.accounts.passwords import hash_password
from server.columns import utcnow
from server.draws.assignments import record_created
from server.draws.models.draw import Assignment, AssignmentMember, Draw
from server.draws.server_keys import wrap_secret
from server.registry.models.reference import County, Department, VenueCategory
from server.registry.models.venue import Venue

PASSWORD = "correct horse 9"
# Hashed once: argon2 is slow on purpose and the world has a dozen users.
PASSWORD_HASH = hash_password(PASSWORD)

# Roles as the sealing tests see them: who is asking, relative to the target venue.
ROLE_KEYS = ("office", "admin", "team_leader", "team_member", "outsider", "department", "other_department",
             "county", "other_county", "propaganda", "enforcement", "auditor")


@dataclass
class World:
    venue: Venue
    other_venue: Venue
    users: dict[str, User]
    tag: str

    @property
    def team(self) -> list[User]:
        return [self.users["team_leader"], self.users["team_member"]]

    def target_strings(self, venue: Venue | None = None) -> list[str]:
        """What must not appear in an answer to someone not allowed to see the target."""
        venue = venue or self.venue
        return [venue.name, venue.address, venue.operator_name, venue.contact_phone]


@pytest.fixture
def world(db, make_venue) -> World:
    tag = uuid.uuid4().hex[:8]
    department = Department(code=f"dep{tag}", name=f"甲局{tag}")
    other_department = Department(code=f"odp{tag}", name=f"乙局{tag}")
    category = VenueCategory(code=f"cat{tag}", name=f"甲类场所{tag}", departments=[department])
    other_category = VenueCategory(code=f"oca{tag}", name=f"乙类场所{tag}", departments=[other_department])
    county = County(code=f"cty{tag}", name=f"甲县{tag}", kind="county")
    other_county = County(code=f"oct{tag}", name=f"乙县{tag}", kind="county")
    db.session.add_all([department, other_department, category, other_category, county, other_county])
    db.session.flush()
    venue = make_venue(name=f"隐秘会所{tag}", address=f"保密路{tag}号", category=category, county=county,
                       operator_name=f"经营者{tag}", contact_phone=f"139{int(tag, 16) % 10**8:08d}",
                       latitude=29.078765, longitude=119.647229)
    other_venue = make_venue(name=f"另一场所{tag}", address=f"别处路{tag}号", category=other_category,
                             county=other_county, operator_name=f"他人{tag}",
                             contact_phone=f"137{int(tag, 16) % 10**8:08d}")

    def user(key: str, role: str, **overrides) -> User:
        name = f"{key}-{tag}"
        row = User(username=name, display_name=f"用户{key}{tag}", role=role, password_hash=PASSWORD_HASH,
                   **overrides)
        db.session.add(row)
        return row

    users = {
        "office": user("office", "office"),
        "admin": user("admin", "admin"),
        "team_leader": user("leader", "inspector", enforcement_certificate_no=f"Z{tag}"),
        "team_member": user("member", "inspector"),
        "outsider": user("outsider", "inspector"),
        "department": user("dept", "department", department=department),
        "other_department": user("odept", "department", department=other_department),
        "county": user("county", "county", county=county),
        "other_county": user("ocounty", "county", county=other_county),
        "propaganda": user("prop", "propaganda"),
        "enforcement": user("enf", "enforcement"),
        "auditor": user("audit", "auditor"),
    }
    db.session.flush()
    return World(venue=venue, other_venue=other_venue, users=users, tag=tag)


def _placeholder_draw(creator: User, window_start, window_end) -> Draw:
    seed = os.urandom(32)
    digest = hashlib.sha256(b"placeholder").hexdigest()
    return Draw(created_by_id=creator.id, status="committed", parameters={"placeholder": True},
                window_start=window_start, window_end=window_end, commitment=hashlib.sha256(seed).hexdigest(),
                sealed_seed=wrap_secret(seed, "draw-seed"), parameters_digest=digest, venues_digest=digest,
                inspectors_digest=digest, result_digest=digest, venues_snapshot=b"x", inspectors_snapshot=b"x")


@pytest.fixture
def make_assignment(db, world):
    """make_assignment(status="sealed", venue=…, team=[…], starts_in=-1h, lasts=6h) -> Assignment.

    Created through `record_created`; a status other than "sealed" is then set directly (a
    shortcut for tests of what each status allows; dispatch tests use the service).
    """
    positions = iter(range(1, 10**6))

    def make(status: str = "sealed", *, venue: Venue | None = None, team: list[User] | None = None,
             starts_in: timedelta = timedelta(hours=-1), lasts: timedelta = timedelta(hours=6),
             meeting_point: str = "市防指办门口") -> Assignment:
        start = utcnow() + starts_in
        end = start + lasts
        office = world.users["office"]
        draw = _placeholder_draw(office, start, end)
        db.session.add(draw)
        db.session.flush()
        assignment = Assignment(draw_id=draw.id, position=next(positions), venue=venue or world.venue,
                                visit_date=date.fromordinal(start.toordinal()), window_start=start,
                                window_end=end, meeting_point=meeting_point)
        for position, member in enumerate(team if team is not None else world.team, start=1):
            assignment.members.append(AssignmentMember(user_id=member.id, position=position,
                                                       is_leader=position == 1))
        db.session.add(assignment)
        record_created(assignment, office)
        if status != "sealed":
            assignment.status = status
            db.session.flush()
        return assignment

    return make
