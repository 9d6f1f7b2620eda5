"""One open rectification order in the county user's territory, so the demo shows the 属地 side of
整改: the county reports it done with a note and photos, the office confirms or returns it, and
the re-inspection follows (DESIGN.md, 四.18: the 属地 answers first for every venue)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from ..accounts.models.user import User
from ..columns import china_today
from ..enforcement.models.rectification import RectificationOrder, RectificationOrderViolation
from ..enforcement.rectification_issuing import issue_order
from ..extensions import db
from ..field.models.inspection import Violation
from ..registry.models.venue import Venue

DEADLINE_DAYS = 7
REQUIREMENTS = "立即落实入口扫码、测温、戴口罩等防控措施，完善防控台账，整改完成后报属地乡镇（街道）。"


def seed_demo_rectification() -> RectificationOrder | None:
    """Issue the order once (seeding again adds nothing): for the latest live violations at one
    venue of the county user's county that no order covers yet. None when there is none."""
    if db.session.scalar(sa.select(sa.func.count(RectificationOrder.id))):
        return None
    county_user = db.session.scalar(sa.select(User).where(User.username == "county"))
    enforcement = db.session.scalar(sa.select(User).where(User.username == "enforcement"))
    if county_user is None or enforcement is None or county_user.county_id is None:
        return None
    covered = sa.select(RectificationOrderViolation.violation_id)
    latest = db.session.scalars(
        sa.select(Violation).join(Venue, Venue.id == Violation.venue_id)
        .where(Venue.county_id == county_user.county_id, Violation.withdrawn_at.is_(None),
               Violation.id.not_in(covered))
        .order_by(Violation.id.desc()).limit(1)).first()
    if latest is None:
        return None
    same_visit = db.session.scalars(
        sa.select(Violation.id).where(Violation.inspection_id == latest.inspection_id,
                                      Violation.venue_id == latest.venue_id, Violation.withdrawn_at.is_(None),
                                      Violation.id.not_in(covered))).all()
    return issue_order(same_visit, deadline=china_today() + timedelta(days=DEADLINE_DAYS),
                       requirements=REQUIREMENTS, actor=enforcement, channel="cli")
