"""Reading draws: the list with its filters and sort keys, and what a reader of a draw sees.

Summaries list assignments by position, visit day and team, never by target; readers who may
not read targets see less while a draw is open (`disclosure`).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..access import authorize
from ..accounts.models.user import User
from ..columns import as_utc
from ..errors import Invalid
from ..extensions import db
from ..pagination import PER_PAGE, Page, paginate, signed_sort
from ..registry.models.reference import County, VenueCategory
from .assignments import STATUS_LABELS as ASSIGNMENT_STATUS_LABELS
from .creation import created_event
from .disclosure import hides_reinspection, shows_teams
from .models.draw import Assignment, AssignmentMember, Draw

# --- reading ---------------------------------------------------------------------------------


def draws_for(user: User) -> list[Draw]:
    authorize(user, "read", Draw)
    return list(db.session.scalars(sa.select(Draw).options(selectinload(Draw.assignments))
                                   .order_by(Draw.id.desc())))


def draw_counts(draw: Draw) -> dict:
    """Candidate and skip counts as anchored at creation (the draw row keeps only digests)."""
    event = created_event(draw)
    details = event.details if event is not None else {}
    return {name: details.get(name) for name in ("venues", "inspectors", "skipped")} | {
        "assignments": len(draw.assignments)}


STATUS_LABELS = {"committed": "已承诺（种子保密）", "closed": "已关闭（种子已公开）"}
def _shown_parameters(parameters: dict, hide_scope: bool) -> dict:
    if not hide_scope:
        return parameters
    scope = parameters.get("scope", {})
    # A copy: the stored parameters are what the parameters digest covers.
    shown_scope = {key: value for key, value in scope.items() if key not in ("venues", "counties", "categories")}
    shown_scope["venues_count"] = len(scope.get("venues", []))
    return {**parameters, "scope": shown_scope}


def _scope_note(draw: Draw) -> str:
    count = len((draw.parameters or {}).get("scope", {}).get("venues", []))
    return f"指定场所 {count} 个（抽查关闭、任务揭封后公开）"


def _person(user: User | None) -> dict | None:
    if user is None:
        return None
    return {"id": user.id, "username": user.username, "display_name": user.display_name}


def draw_summary(draw: Draw, reader: User | None, *, with_assignments: bool = True) -> dict:
    """What `reader` sees of a draw: scope, commitment, digests, and the assignments by position,
    day and team — never a target; teams and a re-inspection's scope only as the module docstring
    says. Fields are listed one by one so that a column added later cannot leak one by accident."""
    parameters = draw.parameters or {}
    hide_scope = hides_reinspection(draw, reader)
    teams_shown = shows_teams(draw, reader)
    scope = {} if hide_scope else parameters.get("scope", {})
    names = {
        "counties": dict(db.session.execute(sa.select(County.code, County.name)
                                            .where(County.code.in_(scope.get("counties", [])))).all()),
        "categories": dict(db.session.execute(sa.select(VenueCategory.code, VenueCategory.name)
                                              .where(VenueCategory.code.in_(scope.get("categories", [])))).all()),
    }
    closed_by = db.session.get(User, draw.closed_by_id) if draw.closed_by_id else None
    data = {
        "id": draw.id,
        "uuid": draw.uuid,
        "status": draw.status,
        "status_label": STATUS_LABELS.get(draw.status, draw.status),
        "purpose": draw.purpose,
        "created_at": as_utc(draw.created_at),
        "created_by": _person(draw.created_by),
        "window_start": as_utc(draw.window_start),
        "window_end": as_utc(draw.window_end),
        "counties": [{"code": code, "name": names["counties"].get(code, code)} for code in scope.get("counties", [])],
        "categories": [{"code": code, "name": names["categories"].get(code, code)}
                       for code in scope.get("categories", [])],
        "sample_size": parameters.get("sample", {}).get("size"),
        "team_size": parameters.get("team", {}).get("size"),
        "may_propose_penalties": parameters.get("team", {}).get("may_propose_penalties"),
        "policy_version": parameters.get("policy", {}).get("version"),
        "algorithm": parameters.get("algorithm"),
        "commitment": draw.commitment,
        "revealed_seed": draw.revealed_seed,
        "parameters_digest": draw.parameters_digest,
        "venues_digest": draw.venues_digest,
        "inspectors_digest": draw.inspectors_digest,
        "result_digest": draw.result_digest,
        "closed_at": as_utc(draw.closed_at),
        "closed_by": _person(closed_by),
        "counts": draw_counts(draw),
        "scope_note": _scope_note(draw) if hide_scope else None,
        "teams_shown": teams_shown,
    }
    if with_assignments:
        # One query per level rather than one per assignment and per member.
        assignments = db.session.scalars(
            sa.select(Assignment).where(Assignment.draw_id == draw.id)
            .options(selectinload(Assignment.members).selectinload(AssignmentMember.user))
            .order_by(Assignment.position)).all()
        data["parameters"] = _shown_parameters(parameters, hide_scope)
        data["assignments"] = [{
            "id": a.id,
            "uuid": a.uuid,
            "position": a.position,
            "status": a.status,
            "status_label": ASSIGNMENT_STATUS_LABELS.get(a.status, a.status),
            # The day of a re-inspection is as secret as its venue: the order it follows names the venue.
            "visit_date": None if hide_scope else a.visit_date,
            "window_start": None if hide_scope else as_utc(a.window_start),
            "window_end": None if hide_scope else as_utc(a.window_end),
            "meeting_point": a.meeting_point,
            "may_propose_penalties": a.may_propose_penalties,
            "members": [{"user_id": m.user_id, "username": m.user.username, "display_name": m.user.display_name,
                         "position": m.position, "is_leader": m.is_leader} for m in a.members] if teams_shown else [],
        } for a in assignments]
    return data


# --- the list page ---------------------------------------------------------------------------

# Sort keys the draw list accepts (a leading "-" sorts descending); anything else is refused.
LIST_SORT_COLUMNS = {"id": (Draw.id, "编号"), "window_start": (Draw.window_start, "窗口开始"),
                     "window_end": (Draw.window_end, "窗口结束")}
LIST_DEFAULT_SORT = "-id"
PURPOSE_LABELS = {"sample": "随机抽查", "reinspection": "整改复查"}


def list_draws(user: User, *, status: str | None = None, purpose: str | None = None, sort: str | None = None,
               page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The draws `user` may read, filtered by status and purpose, sorted by a whitelisted column."""
    authorize(user, "read", Draw)
    errors = {}
    if status is not None and status not in STATUS_LABELS:
        errors["status"] = [f"未知的抽查状态：{status[:40]}。"]
    if purpose is not None and purpose not in PURPOSE_LABELS:
        errors["purpose"] = [f"未知的抽查类型：{purpose[:40]}。"]
    key, descending = signed_sort(sort, LIST_SORT_COLUMNS, LIST_DEFAULT_SORT, errors)
    if page < 1:
        errors["page"] = ["页码须为正整数。"]
    if errors:
        raise Invalid("筛选条件不正确。", errors=errors)
    query = sa.select(Draw)
    if status is not None:
        query = query.where(Draw.status == status)
    if purpose is not None:
        query = query.where(Draw.purpose == purpose)
    column = LIST_SORT_COLUMNS[key][0]
    order = (column.desc(), Draw.id.desc()) if descending else (column.asc(), Draw.id.asc())
    return paginate(query.options(selectinload(Draw.assignments)).order_by(*order), page, per_page)
