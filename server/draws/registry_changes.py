"""Registry rows that no longer read as the draw's snapshot did, where that matters to its result.

A draw is checked against its snapshots, which its digests fix; a registry edit after the draw
cannot change them. It can still matter: an inspector on a team may now come from the venue's
county, a drawn venue may now be of another category, and an edit made just before a draw and
undone after it (moving an inspector out of a county for a day, a venue out of scope) would steer
the draw and leave every digest intact. The registry keeps no history of these columns (venue
edits are not audited), so the snapshot is the record of how they stood: each entry is compared
with the current row. The findings are warnings in the verification report, never mismatches —
the draw itself is what its digests say.
"""

from __future__ import annotations

import json
import zlib

import sqlalchemy as sa

from ..accounts.models.user import User
from ..extensions import db
from ..registry.models.reference import County, Department, VenueCategory
from ..registry.models.venue import Venue
from .models.draw import Assignment, AssignmentMember, Draw
from .stored_teams import teams_by_assignment

# Beyond this many rows of one kind a count is more use to the reader than a longer list.
MAX_LISTED = 20


def _snapshot(blob) -> list | None:
    try:
        value = json.loads(zlib.decompress(blob).decode("utf-8"))
    except (zlib.error, TypeError, ValueError):
        return None  # verification reports the damaged snapshot itself
    return value if isinstance(value, list) and all(isinstance(item, dict) for item in value) else None


def _codes(model, ids) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(model.id, model.code).where(model.id.in_(ids))).all())


# A city-wide snapshot names 100,000 venues; PostgreSQL takes at most 65,535 parameters a query.
BATCH = 10_000


def _rows(query: sa.Select, column, ids) -> list:
    ids = sorted(ids)
    return [row for start in range(0, len(ids), BATCH)
            for row in db.session.execute(query.where(column.in_(ids[start:start + BATCH]))).all()]


def _current_venues(ids) -> dict[int, dict]:
    rows = _rows(sa.select(Venue.id, Venue.county_id, Venue.category_id, Venue.created_at), Venue.id, ids)
    counties = _codes(County, [row[1] for row in rows])
    categories = _codes(VenueCategory, [row[2] for row in rows])
    return {row[0]: {"county": counties.get(row[1]), "category": categories.get(row[2]), "created_at": row[3]}
            for row in rows}


def _current_users(ids) -> dict[int, dict]:
    rows = _rows(sa.select(User.id, User.username, User.role, User.is_active, User.county_id, User.department_id,
                           User.enforcement_certificate_no), User.id, ids)
    counties = _codes(County, [row[4] for row in rows])
    departments = _codes(Department, [row[5] for row in rows])
    return {row[0]: {"username": row[1], "role": row[2], "active": row[3], "county": counties.get(row[4]),
                     "department": departments.get(row[5]), "certified": row[6] is not None} for row in rows}


def _capped(lines: list[str], summary: str) -> list[str]:
    if len(lines) <= MAX_LISTED:
        return lines
    return lines[:MAX_LISTED] + [summary.format(count=len(lines) - MAX_LISTED)]


def _field_changes(before: dict, now: dict, labels: dict[str, str]) -> list[str]:
    return [f"{label}由 {before.get(name) or '无'} 变为 {now.get(name) or '无'}"
            for name, label in labels.items() if before.get(name) != now.get(name)]


def _team_findings(draw: Draw, venues_then: dict[int, dict], venues_now: dict[int, dict],
                   users_now: dict[int, dict], inspectors_then: dict[int, dict]) -> list[str]:
    """Per assignment: the drawn venue as it stands now, and its team against the 回避 rules now."""
    parameters = draw.parameters if isinstance(draw.parameters, dict) else {}
    exclusions = parameters.get("exclusions", {})
    responsible = parameters.get("responsible_departments", {})
    certified_needed = (parameters.get("team", {}).get("require_certified_member")
                        and parameters.get("team", {}).get("may_propose_penalties"))
    teams = teams_by_assignment(draw.id)
    findings = []
    for assignment_id, position, venue_id in db.session.execute(
            sa.select(Assignment.id, Assignment.position, Assignment.venue_id)
            .where(Assignment.draw_id == draw.id).order_by(Assignment.position)):
        label = f"第 {position} 项任务的场所（编号 {venue_id}）"
        then, now = venues_then.get(venue_id, {}), venues_now.get(venue_id)
        if now is None:
            findings.append(f"{label}已不在场所名录中。")
            continue
        changed = _field_changes(then, now, {"county": "所属县（市、区）", "category": "类别"})
        if changed:
            findings.append(f"{label}在抽查后{'，'.join(changed)}；抽查按快照中的类别计权重、按快照中的县"
                            "（市、区）和行业主管部门回避。")
        members = teams.get(assignment_id, [])
        for user_id in members:
            user = users_now.get(user_id)
            who = f"第 {position} 项任务的督查组成员 {user['username'] if user else user_id}"
            if user is None:
                findings.append(f"{who}已不在用户名录中。")
                continue
            if user_id not in inspectors_then:
                findings.append(f"{who}不在抽查时的督查人员候选快照中。")
            if not user["active"] or user["role"] != "inspector":
                findings.append(f"{who}现已{'停用' if not user['active'] else '不是督查人员'}。")
            if exclusions.get("same_county") and user["county"] is not None and user["county"] == now["county"]:
                findings.append(f"{who}现属该场所所在的县（市、区），按现行名录应回避。")
            if (exclusions.get("responsible_department") and user["department"] is not None
                    and user["department"] in responsible.get(now["category"] or "", [])):
                findings.append(f"{who}现属该场所的行业主管部门，按现行名录应回避。")
        if certified_needed and members and not any(users_now.get(u, {}).get("certified") for u in members):
            findings.append(f"第 {position} 项任务的督查组现无持执法证的成员（抽查时要求至少一名）。")
    return findings


def registry_changes(draw: Draw) -> list[str]:
    """Warnings (Chinese) naming the registry rows that changed since the draw in a way that
    matters to its result; empty when none did or the snapshots cannot be read."""
    venues = _snapshot(draw.venues_snapshot)
    inspectors = _snapshot(draw.inspectors_snapshot)
    if venues is None or inspectors is None:
        return []
    venues_then = {item.get("id"): item for item in venues}
    inspectors_then = {item.get("id"): item for item in inspectors}
    member_ids = set(db.session.scalars(
        sa.select(AssignmentMember.user_id).join(Assignment, AssignmentMember.assignment_id == Assignment.id)
        .where(Assignment.draw_id == draw.id)))
    drawn = set(db.session.scalars(sa.select(Assignment.venue_id).where(Assignment.draw_id == draw.id)))
    venues_now = _current_venues(set(venues_then) | drawn)
    users_now = _current_users(set(inspectors_then) | member_ids)

    findings = _team_findings(draw, venues_then, venues_now, users_now, inspectors_then)

    # Candidates not drawn: an edit of them changed the weights or the 回避 counts every pick saw.
    venue_lines = []
    for venue_id, then in sorted(venues_then.items(), key=lambda pair: str(pair[0])):
        if venue_id in drawn:
            continue
        now = venues_now.get(venue_id)
        changed = ["已不在场所名录中"] if now is None else _field_changes(
            then, now, {"county": "所属县（市、区）", "category": "类别"})
        if changed:
            venue_lines.append(f"候选场所（编号 {venue_id}）在抽查后{'，'.join(changed)}。")
    findings += _capped(venue_lines, "另有 {count} 个候选场所的县（市、区）或类别在抽查后变化。")

    inspector_lines = []
    for user_id, then in sorted(inspectors_then.items(), key=lambda pair: str(pair[0])):
        if user_id in member_ids:
            continue
        now = users_now.get(user_id)
        if now is None:
            inspector_lines.append(f"候选督查人员（编号 {user_id}）已不在用户名录中。")
            continue
        changed = _field_changes(then, now, {"county": "所属县（市、区）", "department": "所属部门"})
        if then.get("certified") != now["certified"]:
            changed.append("已取得执法证" if now["certified"] else "已无执法证")
        if not now["active"] or now["role"] != "inspector":
            changed.append("已停用" if not now["active"] else "已不是督查人员")
        if changed:
            inspector_lines.append(f"候选督查人员 {now['username']} 在抽查后{'，'.join(changed)}。")
    findings += _capped(inspector_lines, "另有 {count} 名候选督查人员的名录信息在抽查后变化。")
    findings += _absent_from_snapshot(draw, venues_then, inspectors_then)
    return findings


def _absent_from_snapshot(draw: Draw, venues_then: dict, inspectors_then: dict) -> list[str]:
    """Rows registered before the draw that now belong in its snapshot but are not in it: taken
    out of scope (or off duty) for the draw and put back — or legitimately changed since."""
    parameters = draw.parameters if isinstance(draw.parameters, dict) else {}
    scope = parameters.get("scope", {})
    lines = []
    if "venues" not in scope:  # a re-inspection's scope is its one venue, not counties and categories
        in_scope = (sa.select(Venue.id).join(County, Venue.county_id == County.id)
                    .join(VenueCategory, Venue.category_id == VenueCategory.id)
                    .where(County.code.in_(scope.get("counties", [])),
                           VenueCategory.code.in_(scope.get("categories", [])),
                           Venue.created_at < draw.created_at).order_by(Venue.id))
        lines += _capped([f"场所（编号 {venue_id}）抽查前已登记、现属抽查范围，但不在候选快照中。"
                          for venue_id in db.session.scalars(in_scope) if venue_id not in venues_then],
                         "另有 {count} 个抽查前已登记、现属抽查范围的场所不在候选快照中。")
    on_duty = (sa.select(User.id, User.username).where(User.role == "inspector", User.is_active.is_(True),
                                                       User.created_at < draw.created_at).order_by(User.id))
    lines += _capped([f"督查人员 {username} 抽查前已登记、现为在岗督查人员，但不在候选快照中。"
                      for user_id, username in db.session.execute(on_duty) if user_id not in inspectors_then],
                     "另有 {count} 名抽查前已登记的在岗督查人员不在候选快照中。")
    return lines
