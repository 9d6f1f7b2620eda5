"""Who may see and act on assignments: the access policy, its scopes, finding and listing.

"四不两直" in software (DESIGN.md §1, §4.2): until dispatch only the office reads a target; the
team carries it sealed (`server.draws.sealing`), opens it online once the office dispatched
(inside the window) or offline with the reveal code shown once at dispatch; department and
county viewers see an assignment only after the inspection is submitted. Every read of a target
is audited (`server.draws.assignment_reading`), and so is every status change
(`server.draws.assignments`).

Who sees what (the access policy registered below):

| role | list / detail (never the target) | target | act |
|---|---|---|---|
| office, admin | all | any time (audited) | dispatch, cancel, close |
| inspector | assignments of their team, with the envelope | after reveal | reveal, start, submit |
| department | submitted/closed, categories it is responsible for | same | — |
| county | submitted/closed, venues in its county | same | — |
| auditor | all, for following the status machine against the audit log | never | — |
| enforcement, propaganda | nothing | never | — |

Roles with a scoped grant get 404 for an assignment outside their scope, exactly as for one
that does not exist, so that an id does not tell them an assignment exists; roles without any
grant get 403 before any lookup.

The policy is registered when this module is imported: every module that reads or acts on
assignments imports it.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..access import (
    Scope,
    authorize,
    get_or_404,
    grant,
    policy_for,
    register_policy,
)
from ..accounts.models.user import User
from ..errors import NotFound
from ..extensions import db
from ..registry.models.venue import Venue
from ..registry.venues import VENUE_IN_COUNTY, VENUE_OF_DEPARTMENT
from .models.draw import Assignment, AssignmentMember

# The team has the target once it is revealed; viewers only once the inspection is submitted.
TEAM_TARGET_STATUSES = ("revealed", "in_progress", "submitted", "closed")
VIEWER_STATUSES = ("submitted", "closed")

LABEL = "督查任务"


# --- access policy ---------------------------------------------------------------------------


def is_member(assignment: Assignment, user: User) -> bool:
    return any(member.user_id == user.id for member in assignment.members)


def _team_sql(user: User):
    return Assignment.id.in_(sa.select(AssignmentMember.assignment_id).where(AssignmentMember.user_id == user.id))


def _after_submission(venue_scope: Scope) -> Scope:
    """Viewers of a venue scope see its assignments only once the inspection is submitted."""
    return Scope(
        f"{venue_scope.name} after submission",
        lambda user, assignment: (assignment.status in VIEWER_STATUSES
                                  and venue_scope.allows(user, assignment.venue)),
        lambda user: sa.and_(Assignment.status.in_(VIEWER_STATUSES),
                             Assignment.venue_id.in_(sa.select(Venue.id).where(venue_scope.where(user)))),
    )


TEAM = Scope("team", lambda user, assignment: is_member(assignment, user), _team_sql)
DEPARTMENT_AFTER_SUBMISSION = _after_submission(VENUE_OF_DEPARTMENT)
COUNTY_AFTER_SUBMISSION = _after_submission(VENUE_IN_COUNTY)

register_policy(Assignment, LABEL)
grant(Assignment, "read", ("office", "admin", "auditor"))
grant(Assignment, "read", "inspector", TEAM)
grant(Assignment, "read", "department", DEPARTMENT_AFTER_SUBMISSION)
grant(Assignment, "read", "county", COUNTY_AFTER_SUBMISSION)
# The auditor follows assignments but never reads a target through them.
grant(Assignment, "read_target", ("office", "admin"))
grant(Assignment, "read_target", "inspector", TEAM)
grant(Assignment, "read_target", "department", DEPARTMENT_AFTER_SUBMISSION)
grant(Assignment, "read_target", "county", COUNTY_AFTER_SUBMISSION)
grant(Assignment, "manage", ("office", "admin"))
grant(Assignment, "reveal", "inspector", TEAM)
grant(Assignment, "work", "inspector", TEAM)


def find_assignment(ident, user: User, action: str = "read") -> Assignment:
    """The assignment `user` may `action`, hiding the existence of those outside their scope.

    Roles without any grant for `action` get 403 before the lookup; an assignment outside the
    user's read scope is 404, like an unknown id; inside it, a refused action is 403.
    """
    authorize(user, action, Assignment)
    assignment = get_or_404(Assignment, ident)
    read_scope = policy_for(Assignment).scope_for("read", user.role)
    if read_scope is None or not read_scope.allows(user, assignment):
        raise NotFound(f"编号为 {ident} 的{LABEL}不存在。")
    authorize(user, action, assignment)
    return assignment


def visible_assignments(user: User, *, draw_id: int | None = None, status: str | None = None) -> list[Assignment]:
    """The assignments `user` may list, oldest first."""
    query = (sa.select(Assignment).where(authorize(user, "read", Assignment).where(user))
             .options(selectinload(Assignment.members).selectinload(AssignmentMember.user))
             .order_by(Assignment.id))
    if draw_id is not None:
        query = query.where(Assignment.draw_id == draw_id)
    if status is not None:
        query = query.where(Assignment.status == status)
    return list(db.session.scalars(query))
