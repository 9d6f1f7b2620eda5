"""The demo registry's units carry valid 统一社会信用代码 of the 金华 area, kept when seeding again."""

import sqlalchemy as sa

from server.demo.registry import NO_UNIT_CATEGORIES, seed_demo
from server.registry import credit_code
from server.registry.models.reference import VenueCategory
from server.registry.models.venue import Venue


def test_demo_units_have_valid_credit_codes_of_their_county(db):
    seed_demo()
    rows = db.session.execute(sa.select(Venue, VenueCategory.code).join(VenueCategory)).all()
    units = [venue for venue, category in rows if category not in NO_UNIT_CATEGORIES]
    assert units and all(credit_code.is_valid(venue.credit_code) for venue in units)
    for venue in units:
        # Positions 3–8: the registering authority's division, the venue's county (a zone: 金华市辖区).
        assert venue.credit_code[2:8] == (venue.county.division_code or "330701"), venue.credit_code
    assert {venue.credit_code[:2] for venue in units} >= {"91", "12", "11"}
    assert len({venue.credit_code for venue in units}) == len(units)
    assert all(venue.credit_code is None for venue, category in rows if category in NO_UNIT_CATEGORIES)


def test_seeding_again_fills_a_missing_code_and_keeps_the_others(db):
    seed_demo()
    venues = db.session.scalars(sa.select(Venue).where(Venue.credit_code.is_not(None)).order_by(Venue.id).limit(2)).all()
    lost, kept = venues
    codes = (lost.credit_code, kept.credit_code)
    lost.credit_code = None
    db.session.flush()
    seed_demo()
    assert (lost.credit_code, kept.credit_code) == codes
