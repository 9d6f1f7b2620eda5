"""A draw's stored teams as verification and the registry check read them: member ids in rank
order per assignment, in one query however many assignments the draw has."""

from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from .models.draw import Assignment, AssignmentMember


def teams_by_assignment(draw_id: int) -> dict[int, list[int]]:
    teams: dict[int, list[int]] = {}
    for assignment_id, user_id in db.session.execute(
            sa.select(AssignmentMember.assignment_id, AssignmentMember.user_id)
            .join(Assignment, AssignmentMember.assignment_id == Assignment.id)
            .where(Assignment.draw_id == draw_id).order_by(AssignmentMember.assignment_id, AssignmentMember.position)):
        teams.setdefault(assignment_id, []).append(user_id)
    return teams
