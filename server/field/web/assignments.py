"""The assignment's pages, with what the field has recorded of it: one assignment without its
target (team, state, times, history and its record), and its target, read and audited.

Routes of the draws pages' blueprint (`web_draws`): the assignment belongs to the draw, its
record to the field, and the field sits above the draws.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from ...access import web_role_required
from ...draws import assignment_access, assignment_reading
from ...draws.web.draws import MANAGERS, READERS, bp
from ...errors import Problem
from ...extensions import db
from ...web.forms import ConfirmForm
from .. import inspections as inspection_service
from .. import parallel_records
from .parallel_records import DECIDERS, adopt_form, parallel_section

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
                           can_open_draw=current_user.role in READERS,
                           parallel=parallel_section(assignment, current_user))


@bp.post("/assignments/<int:assignment_id>/records/adopt")
@web_role_required(*DECIDERS)
def adopt_record(assignment_id: int):
    """The office decides which of the assignment's records stands, with a reason (audited)."""
    assignment = assignment_access.find_assignment(assignment_id, current_user, "manage")
    form = adopt_form(parallel_records.compare_records(assignment))
    if not form.validate_on_submit():
        flash("核定未完成：" + "；".join(m for messages in form.errors.values() for m in messages), "error")
        return redirect(url_for("web_draws.show_assignment", assignment_id=assignment_id))
    try:
        with db.session.begin_nested():
            inspection = parallel_records.find_record_of(assignment, form.inspection_id.data)
            parallel_records.adopt_record(assignment, inspection, reason=form.reason.data,
                                          actor=current_user._get_current_object(), channel="web")
    except Problem as exc:
        flash(exc.detail, "error")
    else:
        flash(f"已核定以第 {inspection.id} 号督查记录为准，原采用的记录仍保存，标为未采用。", "success")
    return redirect(url_for("web_draws.show_assignment", assignment_id=assignment_id))


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
