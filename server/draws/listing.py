"""Reading draws: the list with its filters and sort keys, what a reader of a draw sees, and
the cancellations summed per user and period.

Summaries list assignments by position, visit day and team, never by target; readers who may
not read targets see less while a draw is open (`disclosure`). A cancelled draw shows its reason,
who and when; a draw made in its place shows which one it replaces (`cancellation`), so choosing
among draws by cancelling them is visible to the auditor.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..access import authorize
from ..accounts.models.user import User
from ..columns import CHINA_STANDARD_TIME, as_utc, utcnow
from ..errors import Invalid
from ..extensions import db
from ..pagination import PER_PAGE, Page, paginate, signed_sort
from ..registry.models.reference import County, VenueCategory
from .assignments import STATUS_LABELS as ASSIGNMENT_STATUS_LABELS
from .creation import created_event
from .disclosure import hides_reinspection, shows_teams
from .models.draw import Assignment, AssignmentMember, Draw
from .policy_settings import cancellation_settings
from .seeding import contribution_source, seeded_event

# --- reading ---------------------------------------------------------------------------------


def draws_for(user: User) -> list[Draw]:
    authorize(user, "read", Draw)
    return list(db.session.scalars(sa.select(Draw).options(selectinload(Draw.assignments))
                                   .order_by(Draw.id.desc())))


def draw_counts(draw: Draw) -> dict:
    """Candidate and skip counts as anchored at creation (the draw row keeps only digests)."""
    event = created_event(draw)
    details = event.details if event is not None else {}
    # Skips are known once the contribution is in (draw.seeded); older draws have them in draw.created.
    seeded = seeded_event(draw)
    skipped = seeded.details.get("skipped") if seeded is not None else details.get("skipped")
    return {name: details.get(name) for name in ("venues", "inspectors")} | {
        "skipped": skipped, "assignments": len(draw.assignments)}


STATUS_LABELS = {"awaiting": "待录入随机数", "committed": "已抽取", "closed": "已关闭", "cancelled": "已取消"}


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


def _replaced(draw_id: int | None) -> dict | None:
    """The cancelled draw a draw was made in place of: its number, reason, who and when."""
    if draw_id is None:
        return None
    row = db.session.execute(sa.select(Draw.id, Draw.status, Draw.cancel_reason, Draw.cancelled_at,
                                       Draw.cancelled_by_id).where(Draw.id == draw_id)).one_or_none()
    if row is None:
        return None
    cancelled_by = db.session.get(User, row.cancelled_by_id) if row.cancelled_by_id else None
    return {"id": row.id, "status": row.status, "status_label": STATUS_LABELS.get(row.status, row.status),
            "cancel_reason": row.cancel_reason, "cancelled_at": as_utc(row.cancelled_at),
            "cancelled_by": _person(cancelled_by)}


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
    cancelled_by = db.session.get(User, draw.cancelled_by_id) if draw.cancelled_by_id else None
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
        "contribution_source": contribution_source(draw),
        "contribution": draw.contribution,
        "contributed_at": as_utc(draw.contributed_at),
        "contributed_by": _person(db.session.get(User, draw.contributed_by_id) if draw.contributed_by_id else None),
        "closed_at": as_utc(draw.closed_at),
        "closed_by": _person(closed_by),
        "window_ended": as_utc(draw.window_end) <= utcnow(),
        "cancel_reason": draw.cancel_reason,
        "cancelled_at": as_utc(draw.cancelled_at),
        "cancelled_by": _person(cancelled_by),
        "replaces": _replaced(draw.replaces_id),
        "replaced_by": list(db.session.scalars(sa.select(Draw.id).where(Draw.replaces_id == draw.id)
                                               .order_by(Draw.id))),
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


# --- cancellations per user and period -------------------------------------------------------


def _month(moment: datetime) -> str:
    """The Beijing-time month of a stored time, e.g. 2026-12."""
    return as_utc(moment).astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m")


def cancellation_summary(user: User, *, now: datetime | None = None, months: int = 6) -> dict:
    """Cancelled draws counted per user — this Beijing-time month, the last 30 days, the policy's
    flag window, in all — and per month for the last `months` months; a user with more than
    `cancellation.flag_threshold` cancellations in `cancellation.flag_window_days` is flagged."""
    authorize(user, "read", Draw)
    now = now or utcnow()
    settings = cancellation_settings()
    window_days, threshold = settings["flag_window_days"], settings["flag_threshold"]
    rows = db.session.execute(sa.select(Draw.cancelled_by_id, Draw.cancelled_at)
                              .where(Draw.status == "cancelled", Draw.cancelled_at.is_not(None))).all()
    this_month = _month(now)
    last_30, flag_since = now - timedelta(days=30), now - timedelta(days=window_days)
    per_user: dict[int | None, Counter] = {}
    per_month: Counter = Counter()
    for user_id, cancelled_at in rows:
        at = as_utc(cancelled_at)
        counts = per_user.setdefault(user_id, Counter())
        counts["total"] += 1
        counts["month"] += _month(at) == this_month
        counts["last_30_days"] += at >= last_30
        counts["flag_window"] += at >= flag_since
        per_month[_month(at)] += 1
    people = {u.id: u for u in db.session.scalars(sa.select(User).where(
        User.id.in_([user_id for user_id in per_user if user_id is not None])))}
    users = [{
        "user": _person(people.get(user_id)),
        "month": counts["month"], "last_30_days": counts["last_30_days"], "flag_window": counts["flag_window"],
        "total": counts["total"], "flagged": counts["flag_window"] > threshold,
    } for user_id, counts in per_user.items()]
    users.sort(key=lambda item: (not item["flagged"], -item["flag_window"], -item["total"],
                                 (item["user"] or {}).get("username") or ""))
    local = now.astimezone(CHINA_STANDARD_TIME)
    recent_months = []
    year, month = local.year, local.month
    for _ in range(months):
        key = f"{year:04d}-{month:02d}"
        recent_months.append({"month": key, "count": per_month.get(key, 0)})
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return {"users": users, "months": recent_months, "this_month": this_month,
            "total": sum(per_month.values()), "flag_window_days": window_days, "flag_threshold": threshold,
            "flagged": sum(item["flagged"] for item in users)}
