"""A sealed re-inspection (复查) is as secret as any sealed assignment: no role without the audited
target read learns its venue, day or team from any API answer or page.

The test is differential: every GET route of the OpenAPI document a role may call, and the pages of
its navigation (with the links on them), are read once after the deadline of a rectification
order has passed and once after its re-inspection has been drawn. Counted per address, the
sealed venue (its name, address, `"venue_id": N`, a scope list holding its id), the drawn team's
names and "已安排复查" must not appear more often, or differently, afterwards: whatever a role
learns then, it learnt from the draw.
"""

from __future__ import annotations

import re
import sys
import uuid
from datetime import timedelta
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

# The re-inspection scenario's world lives with the enforcement tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "enforcement"))
from assignment_world import PASSWORD_HASH
from rectification_world import bearer, make_assignment, rectification_world, world  # noqa: F401
from web_session import login

from server.accounts.models.user import User
from server.draws.models.draw import Assignment, Draw
from server.draws.seeding import contribute
from server.enforcement import rectification_issuing as issuing
from server.enforcement import reinspection
from server.columns import china_today

ROLES = ("auditor", "county", "department", "enforcement", "propaganda", "inspector")
PARAMETER = re.compile(r"\{(\w+)\}")
LINK = re.compile(r'href="(/[^"#]*)"')
# Pages whose GET changes something or is not a page.
SKIPPED_PREFIXES = ("/logout", "/static", "/api/")
FILE = re.compile(r"\.\w+$")


def skipped(url: str) -> bool:
    return url.startswith(SKIPPED_PREFIXES) or bool(FILE.search(urlsplit(url).path))


def fetch(client, url: str, **kwargs) -> tuple[int, str, str]:
    response = client.get(url, **kwargs)
    try:
        return response.status_code, response.content_type or "", response.get_data(as_text=True)
    finally:
        response.close()


@pytest.fixture
def scenario(db, rectification_world):  # noqa: F811
    """An order whose deadline has passed (set directly: issuing refuses a past deadline); the
    re-inspection is drawn by `scenario["schedule"]()`."""
    rw = rectification_world
    # The world's county and department users look after another venue: these look after the museum.
    for key, role, values in (("county", "county", {"county": rw.museum.county}),
                              ("department", "department", {"department": rw.museum.category.departments[0]})):
        rw.users[key] = User(username=f"m{key}-{rw.world.tag}", display_name=f"属地{key}{rw.world.tag}", role=role,
                             password_hash=PASSWORD_HASH, **values)
        db.session.add(rw.users[key])
    db.session.flush()
    order = issuing.issue_order([rw.violation.id], deadline=china_today() + timedelta(days=1),
                                requirements="控制参观人数不超过核定人数的50%", actor=rw.users["enforcement"])
    order.deadline = china_today() - timedelta(days=1)
    db.session.flush()
    ids = {"order_id": order.id, "venue_id": rw.museum.id, "violation_id": rw.violation.id}

    def schedule() -> Assignment:
        """Drawn by the daily job, its team formed once the auditor's share is in."""
        [(_, draw)] = reinspection.schedule_reinspections(china_today(), actor=rw.users["office"]).scheduled
        if draw.status == "awaiting":
            contribute(draw, rw.users["auditor"], f"纪检随机数-{uuid.uuid4().hex}")
        assignment = db.session.scalar(sa.select(Assignment).where(Assignment.draw_id == draw.id))
        ids.update(draw_id=draw.id, assignment_id=assignment.id)
        db.session.commit()
        return assignment

    return {"rw": rw, "order": order, "ids": ids, "schedule": schedule}


def markers(rw, team_names: list[str]) -> dict[str, re.Pattern]:
    venue = rw.museum
    return {
        "场所名称": re.compile(re.escape(venue.name)),
        "场所地址": re.compile(re.escape(venue.address)),
        "venue_id": re.compile(rf'"venue_id"\s*:\s*{venue.id}\b'),
        "范围中的场所": re.compile(rf'"venues"\s*:\s*\[[^\]]*\b{venue.id}\b'),
        "已安排复查": re.compile("已安排复查"),
        **{f"督查组成员{name}": re.compile(re.escape(name)) for name in team_names},
    }


def api_paths(client, ids: dict) -> list[str]:
    spec = client.get("/api/openapi.json").get_json()
    paths = []
    for template, operations in spec["paths"].items():
        get = operations.get("get")
        if get is None or any(p.get("required") and p["in"] == "query" for p in get.get("parameters", [])):
            continue
        names = PARAMETER.findall(template)
        if not all(name in ids for name in names):
            continue
        paths.append(PARAMETER.sub(lambda m: str(ids[m.group(1)]), template))
    return paths


def pages(client, ids: dict) -> list[str]:
    """The role's navigation, each page's links (one level), and the scenario's detail pages."""
    start = ["/"]
    if "draw_id" in ids:
        start += [f"/draws/{ids['draw_id']}", f"/draws/{ids['draw_id']}/verification"]
    seen, queue = [], list(start)
    queue += [unescape(link) for link in LINK.findall(fetch(client, "/")[2])]
    for url in list(queue):
        if url in seen or skipped(url):
            continue
        seen.append(url)
        status, content_type, body = fetch(client, url)
        if status == 200 and "text/html" in content_type and len(seen) < 80:
            for link in LINK.findall(body):
                link = unescape(link)
                if link not in seen and not skipped(link) and not urlsplit(link).query:
                    queue.append(link)
    for url in queue:
        if url not in seen and not skipped(url):
            seen.append(url)
    return seen


def read_everything(client, user, ids: dict) -> dict[str, str]:
    """Every body the user can read, by address."""
    headers = bearer(user)
    bodies = {}
    for path in api_paths(client, ids):
        status, _, body = fetch(client, path, headers=headers)
        bodies[path] = body if status == 200 else ""
    login(client, user)
    for url in pages(client, ids):
        status, _, body = fetch(client, url)
        bodies[url] = body if status == 200 else ""
    client._cookies.clear()
    return bodies


def counts(bodies: dict[str, str], patterns: dict[str, re.Pattern]) -> dict[str, dict[str, int]]:
    return {url: {name: len(pattern.findall(body)) for name, pattern in patterns.items()}
            for url, body in bodies.items()}


def user_of(rw, role: str):
    # An inspector the draw could not choose (回避: same county as the venue): not on the team.
    return rw.same_county if role == "inspector" else rw.users[role]


@pytest.mark.parametrize("role", ROLES)
def test_a_sealed_reinspection_tells_no_role_its_venue_day_or_team(db, client, scenario, role):
    rw, ids = scenario["rw"], scenario["ids"]
    user = user_of(rw, role)
    db.session.commit()
    before = read_everything(client, user, ids)

    assignment = scenario["schedule"]()
    team = [member.user for member in assignment.members]
    assert user not in team
    patterns = markers(rw, [member.display_name for member in team])
    after = read_everything(client, user, ids)

    if role == "auditor":
        # The walk did reach the draw, its page and the audit log's events.
        assert ids["order_id"] and after[f"/api/v1/draws/{ids['draw_id']}"] and after[f"/draws/{ids['draw_id']}"]
        assert any(url.startswith("/audit/") and body for url, body in after.items())
    found_before, found_after = counts(before, patterns), counts(after, patterns)
    zero = dict.fromkeys(patterns, 0)
    leaks = {url: {name: (found_before.get(url, zero)[name], n) for name, n in seen.items()
                   if n != found_before.get(url, zero)[name]}
             for url, seen in found_after.items()}
    leaks = {url: changed for url, changed in leaks.items() if changed}
    assert not leaks, f"{role} learns of the sealed re-inspection: {leaks}"
    # Nothing at all about the drawn team or the state change, anywhere.
    for url, body in after.items():
        assert "已安排复查" not in body, url
        for member in team:
            assert member.display_name not in body and member.username not in body, (url, member.username)


def test_the_auditor_reads_the_reinspection_draw_as_a_count(db, client, scenario):
    rw, ids = scenario["rw"], scenario["ids"]
    scenario["schedule"]()
    answer = client.get(f"/api/v1/draws/{ids['draw_id']}", headers=bearer(rw.users["auditor"])).get_json()
    assert answer["purpose"] == "reinspection" and answer["commitment"]
    assert "venues" not in answer["parameters"]["scope"] and answer["parameters"]["scope"]["venues_count"] == 1
    assert answer["scope_note"].startswith("指定场所 1 个") and answer["counties"] == answer["categories"] == []
    assert [a["members"] for a in answer["assignments"]] == [[]] and answer["assignments"][0]["visit_date"] is None
    office = client.get(f"/api/v1/draws/{ids['draw_id']}", headers=bearer(rw.users["office"])).get_json()
    assert office["parameters"]["scope"]["venues"] == [rw.museum.id] and office["assignments"][0]["members"]


def test_county_sees_awaiting_reinspection_before_and_after_it_is_drawn(db, client, scenario):
    rw, order = scenario["rw"], scenario["order"]
    url = f"/api/v1/rectification-orders/{order.id}"
    db.session.commit()
    before = client.get(url, headers=bearer(rw.users["county"])).get_json()
    assert "state" in before, before
    scenario["schedule"]()
    after = client.get(url, headers=bearer(rw.users["county"])).get_json()
    seen = ("state", "state_label", "overdue", "reinspection_scheduled", "reinspection")
    assert {k: before[k] for k in seen} == {k: after[k] for k in seen} == {
        "state": "open", "state_label": "待复查", "overdue": True, "reinspection_scheduled": None, "reinspection": None}
    office = client.get(url, headers=bearer(rw.users["office"])).get_json()
    assert office["state_label"] == "已安排复查" and office["reinspection"]["assignment_id"]
    overdue_only = client.get("/api/v1/rectification-orders?overdue=true&state=reinspection_scheduled",
                              headers=bearer(rw.users["county"])).get_json()
    assert [o["id"] for o in overdue_only] == [order.id]


def test_the_auditor_sees_an_open_draws_commitment_not_its_teams(db, client, world, make_assignment):  # noqa: F811
    assignment = make_assignment("sealed")
    draw = db.session.get(Draw, assignment.draw_id)
    names = [user.display_name for user in world.team]
    auditor, office = bearer(world.users["auditor"]), bearer(world.users["office"])
    answer = client.get(f"/api/v1/draws/{draw.id}", headers=auditor)
    assert answer.status_code == 200 and answer.get_json()["commitment"] == draw.commitment
    assert not any(name in answer.get_data(as_text=True) for name in names)
    assert all(name in client.get(f"/api/v1/draws/{draw.id}", headers=office).get_data(as_text=True) for name in names)
    login(client, world.users["auditor"])
    page = client.get(f"/draws/{draw.id}").get_data(as_text=True)
    assert draw.commitment in page and "抽查关闭后公开" in page
    assert not any(name in page for name in names)

    draw.status = "closed"
    db.session.commit()
    answer = client.get(f"/api/v1/draws/{draw.id}", headers=auditor).get_data(as_text=True)
    assert all(name in answer for name in names)
    assert all(name in client.get(f"/draws/{draw.id}").get_data(as_text=True) for name in names)


def test_reinspection_audit_events_name_no_venue_day_or_team(db, scenario):
    from server.audit.models.audit import AuditEvent

    rw = scenario["rw"]
    assignment = scenario["schedule"]()
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action.in_(
        ("rectification.reinspection_scheduled", "draw.created")))).all()
    text = " ".join(str(event.details) for event in events)
    assert str(assignment.visit_date) not in text and rw.museum.name not in text
    assert "venue_id" not in text and not any(m.user.username in text for m in assignment.members)
    # Nothing leads from the draw to the order (whose page names the venue): not the details, not
    # the object the scheduling event is recorded on. The order row keeps the link.
    order_id = scenario["ids"]["order_id"]
    assert "rectification_order" not in text and "order" not in text
    assert all(event.object_type == "draw" for event in events), [(e.action, e.object_type) for e in events]
    assert not db.session.scalars(sa.select(AuditEvent).where(
        AuditEvent.object_type == "rectification_order", AuditEvent.object_id == str(order_id),
        AuditEvent.occurred_at >= min(event.occurred_at for event in events))).all()
    db.session.refresh(scenario["order"])
    assert scenario["order"].reinspection_draw_id == assignment.draw_id
    assert scenario["order"].reinspection_assignment_id == assignment.id
