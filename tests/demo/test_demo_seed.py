"""The demo registry: realistic, complete, and seeded only once."""

import sqlalchemy as sa

from server.accounts.models.user import User
from server.accounts.passwords import verify_password
from server.audit.models.audit import AuditEvent
from server.demo.registry import DEMO_PASSWORD, seed_demo
from server.registry.models.reference import County, VenueCategory
from server.registry.models.venue import Venue
from server.roles import ROLES


def test_demo_registry_covers_every_county_and_category(db):
    report = seed_demo()
    assert report.venues_created >= 2000

    venues_per_county = dict(db.session.execute(
        sa.select(County.name, sa.func.count(Venue.id)).join(Venue).group_by(County.name)).all())
    county_names = set(db.session.scalars(sa.select(County.name)))
    assert set(venues_per_county) == county_names
    assert min(venues_per_county.values()) >= 50

    categories_used = set(db.session.scalars(sa.select(Venue.category_id).distinct()))
    assert categories_used == set(db.session.scalars(sa.select(VenueCategory.id)))

    sample = db.session.scalars(sa.select(Venue).order_by(Venue.id).limit(200)).all()
    for venue in sample:
        assert venue.address.startswith("金华市" + venue.county.name)
        assert venue.operator_name and venue.contact_phone
        assert venue.latitude is not None and venue.longitude is not None


def test_demo_users_one_per_role_and_certified_inspectors(db):
    seed_demo()
    roles = set(db.session.scalars(sa.select(User.role).distinct()))
    assert roles == set(ROLES)
    inspectors = db.session.scalars(sa.select(User).where(User.role == "inspector")).all()
    assert len(inspectors) >= 60
    assert len({i.department_id for i in inspectors}) >= 5
    assert len({i.county_id for i in inspectors}) >= 9
    certified = [i for i in inspectors if i.enforcement_certificate_no]
    assert 10 <= len(certified) < len(inspectors)
    office = db.session.scalar(sa.select(User).where(User.username == "office"))
    assert verify_password(office.password_hash, DEMO_PASSWORD)


def test_seeding_is_audited_and_again_duplicates_nothing(db):
    first = seed_demo()
    event = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
    assert event.action == "demo.seeded"
    assert event.details["venues"] == first.venues_created
    venues = db.session.scalar(sa.select(sa.func.count(Venue.id)))
    users = db.session.scalar(sa.select(sa.func.count(User.id)))
    events = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
    again = seed_demo()
    assert (again.venues_created, again.users_created) == (0, 0)
    assert db.session.scalar(sa.select(sa.func.count(Venue.id))) == venues
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == users
    assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == events
    assert {row[1] for row in again.logins} >= {"office", "enforcement", "propaganda", "admin"}
