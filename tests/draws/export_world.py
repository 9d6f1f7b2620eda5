"""A registry for exported draws: two counties, two categories with their responsible departments,
inspectors from everywhere (so that 回避 skips venues), and helpers that make, close and export
draws the way the office and the auditor do."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest

from server.accounts.models.user import User
from server.columns import as_utc, utcnow
from server.draws.closing import close_draw
from server.draws.creation import create_draw, create_reinspection_draw
from server.draws.export import export_draw
from server.draws.models.draw import Draw
from server.registry.models.reference import County, Department, VenueCategory
from server.registry.models.venue import Venue


@dataclass
class ExportWorld:
    tag: str
    counties: list[County]
    categories: list[VenueCategory]
    departments: list[Department]
    venues: list[Venue]
    inspectors: list[User]
    office: User
    auditor: User
    admin: User
    extra: dict = field(default_factory=dict)

    def codes(self, rows) -> list[str]:
        return [row.code for row in rows]


def person(db, role: str, **values) -> User:
    user = User(username=f"{role}-{uuid.uuid4().hex[:10]}", display_name=f"导出测试{role}{uuid.uuid4().hex[:4]}",
                role=role, **values)
    db.session.add(user)
    db.session.flush()
    return user


@pytest.fixture
def export_world(db, make_venue) -> ExportWorld:
    tag = uuid.uuid4().hex[:8]
    departments = [Department(code=f"d{n}{tag}", name=f"主管局{n}{tag}") for n in range(3)]
    categories = [VenueCategory(code=f"k{n}{tag}", name=f"导出类{n}{tag}", departments=[departments[n]])
                  for n in range(2)]
    counties = [County(code=f"c{n}{tag}", name=f"导出县{n}{tag}", kind="county") for n in range(3)]
    db.session.add_all([*departments, *categories, *counties])
    db.session.flush()
    venues = []
    for county, category, how_many in ((0, 0, 6), (1, 0, 6), (0, 1, 5), (1, 1, 4)):
        venues += [make_venue(name=f"导出场所{tag}{county}{category}{n}", address=f"导出路{tag}{county}{category}{n}号",
                              county=counties[county], category=categories[category]) for n in range(how_many)]
    # Counties 0, 1, 2 and none; departments 0, 1, 2 and none; every other one certified.
    inspectors = [person(db, "inspector", county=counties[n % 4] if n % 4 < 3 else None,
                         department=departments[n % 3] if n % 5 else None,
                         enforcement_certificate_no=f"X{tag}{n}" if n % 2 else None) for n in range(12)]
    world = ExportWorld(tag, counties, categories, departments, venues, inspectors,
                        person(db, "office"), person(db, "auditor"), person(db, "admin"))
    db.session.commit()
    return world


def window(starts_in_days: float = 0.05, days: int = 3) -> dict:
    start = utcnow() + timedelta(days=starts_in_days)
    return {"window_start": start, "window_end": start + timedelta(days=days)}


def seeded(draw: Draw, world: ExportWorld) -> Draw:
    """The auditor's share completes the seed, where the policy asks for one."""
    if draw.status == "awaiting":
        from server.draws.seeding import contribute

        contribute(draw, world.auditor, f"纪检随机数-{uuid.uuid4().hex}")
    return draw


def sample_draw(world: ExportWorld, *, counties=None, categories=None, **overrides) -> Draw:
    arguments = {"counties": world.codes(counties or world.counties[:2]),
                 "categories": world.codes(categories or world.categories), "sample_size": 4, **window(),
                 **overrides}
    if "rate" in arguments:
        arguments.pop("sample_size")
    return seeded(create_draw(world.office, **arguments), world)


def reinspection_draw(world: ExportWorld, venue: Venue) -> Draw:
    return seeded(create_reinspection_draw(venue, world.office, team_size=2, **window(days=2)), world)


def close(draw: Draw, world: ExportWorld) -> Draw:
    """Closed as the daily job closes it once the window is over. A draw the contribution could
    not staff was cancelled on the spot (seeding.contribute); it exports as it is."""
    if draw.status == "cancelled":
        return draw
    return close_draw(draw, world.office, now=as_utc(draw.window_end) + timedelta(minutes=1))


def export(draw: Draw, directory: Path):
    _target, result = export_draw(draw, directory)
    return result
