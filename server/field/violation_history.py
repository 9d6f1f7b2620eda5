"""How many violations a venue has on record, for the draw's weights (docs/draw-algorithm.md §3).

Draws sit below the field record, so they cannot read violations themselves: this module tells
`server.draws.candidates` how to count them when the field package is loaded.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from ..draws.candidates import count_past_violations_with
from ..extensions import db
from .models.inspection import Violation


def past_violations(venue_ids: sa.Select, since: datetime) -> dict[int, int]:
    """Live (not withdrawn) violations per venue found since `since`."""
    rows = db.session.execute(
        sa.select(Violation.venue_id, sa.func.count(Violation.id))
        .where(Violation.venue_id.in_(venue_ids), Violation.withdrawn_at.is_(None), Violation.created_at >= since)
        .group_by(Violation.venue_id))
    return {venue_id: count for venue_id, count in rows}


count_past_violations_with(past_violations)
