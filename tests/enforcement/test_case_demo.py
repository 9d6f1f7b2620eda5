"""The demo gives the enforcement bureau violations to work on and certified officers."""

import sqlalchemy as sa

from server.accounts.models.user import User
from server.demo.cases import DEMO_INSPECTIONS, seed_demo_inspections
from server.demo.registry import seed_demo
from server.enforcement import case_facts
from server.enforcement import case_opening as opening
from server.enforcement import cases as service
from server.field.models.inspection import Inspection
from server.registry.models.venue import Venue


def test_demo_has_open_violations_and_two_certified_officers(db):
    seed_demo()
    assert seed_demo_inspections() == DEMO_INSPECTIONS
    enforcement = db.session.scalar(sa.select(User).where(User.username == "enforcement"))
    violations = opening.open_violations(enforcement)
    assert len(violations) == DEMO_INSPECTIONS
    # Each demo record was revealed as a team does it: the assignment page shows when.
    assert all(inspection.assignment.revealed_at is not None
               for inspection in db.session.scalars(sa.select(Inspection)))
    assert len(service.officers_available()) >= 2
    case = opening.open_case([violations[0].id], officers=[o.id for o in service.officers_available()[:2]],
                             party={"kind": "unit", "unit_name": "演示单位", "credit_code": "91330701MA2D12345J",
                                    "legal_representative": "王某"},
                             circumstance="first", actor=enforcement)
    assert case.state == "filed"
    # Seeding again adds nothing.
    assert seed_demo_inspections() == 0
    assert db.session.scalar(sa.select(sa.func.count(Inspection.id))) == DEMO_INSPECTIONS


def test_the_demo_private_room_case_states_the_numbers_it_was_recorded_with(db):
    """README's walkthrough: a restaurant's private room of 12 seats with 7 diners (K5)."""
    seed_demo()
    seed_demo_inspections()
    enforcement = db.session.scalar(sa.select(User).where(User.username == "enforcement"))
    [violation, *_] = [v for v in opening.open_violations(enforcement) if v.rule_code == "K5"]
    venue = db.session.get(Venue, violation.venue_id)
    facts = case_facts.compose_facts([violation], opening.proposed_party(venue))
    assert "包厢内聚餐7人，超过核定12座的50%（6人）" in facts, facts
    assert f"对当事单位{venue.name}（地址：{venue.address}）进行检查" in facts
