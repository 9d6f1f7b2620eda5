"""The assignment's pages, with what the field has recorded of it: one assignment without its
target (team, state, times, history and its record), and its target, read and audited.

Routes of the draws pages' blueprint (`web_draws`): the assignment belongs to the draw, its
record to the field, and the field sits above the draws.
"""

from __future__ import annotations

from flask import render_template
from flask_login import current_user

from ...access import web_role_required
from ...draws import assignment_access, assignment_reading
from ...draws.web.draws import MANAGERS, READERS, bp
from ...web.forms import ConfirmForm
from .. import inspections as inspection_service

# Roles with a read_target grant (server.draws.assignment_access); the service checks the rest.
TARGET_READERS = ("office", "admin", "inspector", "department", "county")


@bp.get("/assignments/<int:assignment_id>")
@web_role_required()
def show_assignment(assignment_id: int):
    """One assignment without its target: the team, state, times, history and its record.
    Who may open it, and who gets 404 instead, is the assignment policy's business."""
    assignment = assignment_access.find_assignment(assignment_id, current_user)
    return render_template("assignments/detail.html",
                           assignment=inspection_service.assignment_overview(assignment, current_user),
                           confirm=ConfirmForm(), can_manage=current_user.role in MANAGERS,
                           can_open_draw=current_user.role in READERS)


@bp.get("/assignments/<int:assignment_id>/target")
@web_role_required(*TARGET_READERS)
def assignment_target(assignment_id: int):
    """A target, read and audited (channel web): the office any time, the team once revealed,
    viewers once submitted — assignments.read_target decides and refuses the rest."""
    assignment = assignment_access.find_assignment(assignment_id, current_user, "read_target")
    target = assignment_reading.read_target(assignment, current_user, channel="web")
    return render_template("draws/target.html", assignment=inspection_service.assignment_overview(
        assignment, current_user), target=target, can_manage=current_user.role in MANAGERS), 200, \
        {"Cache-Control": "no-store"}
