"""Reading draws: the list with its filters and sort keys, and what a reader of a draw sees.

Summaries list assignments by position, visit day and team, never by target.
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


def _person(user: User | None) -> dict | None:
    if user is None:
        return None
    return {"id": user.id, "username": user.username, "display_name": user.display_name}


def draw_summary(draw: Draw, *, with_assignments: bool = True) -> dict:
    """What a reader of a draw sees: scope, commitment, digests, and the assignments by position,
    day and team — never a target. Fields are listed one by one so that a column added later
    cannot leak one by accident."""
    parameters = draw.parameters or {}
    scope = parameters.get("scope", {})
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
    }
    if with_assignments:
        # One query per level rather than one per assignment and per member.
        assignments = db.session.scalars(
            sa.select(Assignment).where(Assignment.draw_id == draw.id)
            .options(selectinload(Assignment.members).selectinload(AssignmentMember.user))
            .order_by(Assignment.position)).all()
        data["parameters"] = parameters
        data["assignments"] = [{
            "id": a.id,
            "uuid": a.uuid,
            "position": a.position,
            "status": a.status,
            "status_label": ASSIGNMENT_STATUS_LABELS.get(a.status, a.status),
            "visit_date": a.visit_date,
            "window_start": as_utc(a.window_start),
            "window_end": as_utc(a.window_end),
            "meeting_point": a.meeting_point,
            "may_propose_penalties": a.may_propose_penalties,
            "members": [{"user_id": m.user_id, "username": m.user.username, "display_name": m.user.display_name,
                         "position": m.position, "is_leader": m.is_leader} for m in a.members],
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
