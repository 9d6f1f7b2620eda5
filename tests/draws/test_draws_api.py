"""/api/v1/draws: create (201, 422, 409 problems), list, read, cancel, close (only once the window
has ended), verify; roles; no target in any answer."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from server.accounts.auth import issue_device_token
from server.accounts.models.user import User
from server.audit.models.audit import AuditEvent
from server.columns import as_utc, utcnow
from server.draws.models.draw import Assignment, Draw
from server.registry.models.reference import County, Department, VenueCategory

PROBLEM_KEYS = {"type", "title", "status", "detail"}
OUTSIDERS = ("inspector", "department", "county", "propaganda", "enforcement")


def person(db, role: str, **values) -> User:
    user = User(username=f"{role}-{uuid.uuid4().hex[:10]}", display_name=f"测试{role}", role=role, **values)
    db.session.add(user)
    db.session.flush()
    return user


def bearer(user: User) -> dict:
    from server.extensions import db

    raw, token = issue_device_token(user, "测试设备", channel="api")
    token.last_used_at = utcnow()
    # Committed (a savepoint here): a refused request rolls back, and the token must outlive it.
    db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert PROBLEM_KEYS <= body.keys() and body["status"] == status
    return body


class World:
    def __init__(self, db):
        tag = uuid.uuid4().hex[:8]
        self.tag = tag
        department = Department(code=f"dep{tag}", name=f"主管局{tag}")
        self.category = VenueCategory(code=f"cat{tag}", name=f"测试类{tag}", departments=[department])
        self.county = County(code=f"cty{tag}", name=f"测试县{tag}", kind="county")
        other_county = County(code=f"oct{tag}", name=f"邻县{tag}", kind="county")
        db.session.add_all([department, self.category, self.county, other_county])
        db.session.flush()
        self.other_county = other_county
        self.users = {role: person(db, role) for role in ("office", "admin", "auditor", *OUTSIDERS)}
        self.inspectors = [person(db, "inspector", county=other_county, enforcement_certificate_no=f"A{tag}{n}")
                           for n in range(4)]

    def body(self, **overrides) -> dict:
        start = utcnow() + timedelta(hours=1)
        body = {"counties": [self.county.code], "categories": [self.category.code], "sample_size": 3,
                "window_start": start.isoformat(), "window_end": (start + timedelta(days=2)).isoformat(),
                "meeting_point": "市防指办门口"}
        body.update(overrides)
        return body


@pytest.fixture
def world(db, make_venue):
    built = World(db)
    built.venues = [make_venue(name=f"绝密场所{built.tag}{n}", address=f"机密大道{built.tag}{n}号",
                               category=built.category, county=built.county) for n in range(6)]
    # Committed (a savepoint here) so that a 4xx answer's rollback keeps the world.
    db.session.commit()
    return built


def create(client, world, user="office", **overrides):
    return client.post("/api/v1/draws", json=world.body(**overrides), headers=bearer(world.users[user]))


def opened(client, world, created: dict) -> dict:
    """The draw with its assignments: a draw still awaiting its seed contribution gets the auditor's."""
    if created["status"] != "awaiting":
        return created
    response = client.post(f"/api/v1/draws/{created['id']}/contribution", json={"value": uuid.uuid4().hex},
                           headers=bearer(world.users["auditor"]))
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def after_window(monkeypatch, db, created: dict) -> None:
    """Move the clock closing reads to just after the draw's window: only then may it be closed."""
    later = as_utc(db.session.get(Draw, created["id"]).window_end) + timedelta(minutes=1)
    monkeypatch.setattr("server.draws.closing.utcnow", lambda: later)


def assert_no_target(response, world) -> None:
    raw = response.get_data()
    for haystack in (raw, raw.decode("utf-8").encode("unicode_escape")):
        assert b"venue_id" not in haystack
        for venue in world.venues:
            for secret in (venue.name, venue.address, venue.operator_name, venue.contact_phone):
                assert secret.encode("utf-8") not in haystack, secret


def test_office_creates_a_draw(client, db, world):
    response = create(client, world)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["status_label"] == "待录入随机数" and response.get_json()["assignments"] == []
    opened(client, world, response.get_json())
    # As the office sees it (the auditor who entered the share sees no teams while the draw is open).
    body = client.get(f"/api/v1/draws/{response.get_json()['id']}", headers=bearer(world.users["office"])).get_json()
    assert body["status"] == "committed" and body["revealed_seed"] is None and len(body["commitment"]) == 64
    assert body["counts"] == {"venues": 6, "inspectors": body["counts"]["inspectors"], "assignments": 3, "skipped": 0}
    assert [a["position"] for a in body["assignments"]] == [1, 2, 3]
    for assignment in body["assignments"]:
        assert assignment["status"] == "sealed" and assignment["meeting_point"] == "市防指办门口"
        assert len(assignment["members"]) == 2 and assignment["members"][0]["is_leader"]
        assert {"id", "position", "visit_date", "members", "window_start"} <= assignment.keys()
    assert body["counties"] == [{"code": world.county.code, "name": world.county.name}]
    assert body["parameters"]["sample"]["size"] == 3
    assert_no_target(response, world)
    draw = db.session.get(Draw, body["id"])
    assert draw is not None and len(draw.assignments) == 3


def test_admin_creates_too(client, world):
    assert create(client, world, "admin").status_code == 201


def test_list_and_detail_carry_no_target(client, db, world):
    created = create(client, world).get_json()
    for user in ("office", "auditor", "admin"):
        listing = client.get("/api/v1/draws", headers=bearer(world.users[user]))
        assert listing.status_code == 200
        assert created["id"] in [d["id"] for d in listing.get_json()]
        assert "assignments" not in listing.get_json()[0]
        assert_no_target(listing, world)
        detail = client.get(f"/api/v1/draws/{created['id']}", headers=bearer(world.users[user]))
        assert detail.status_code == 200 and detail.get_json()["commitment"] == created["commitment"]
        assert_no_target(detail, world)


@pytest.mark.parametrize("role", OUTSIDERS)
def test_other_roles_are_refused_everywhere(client, db, world, role):
    created = create(client, world).get_json()
    headers = bearer(world.users[role])
    calls = [
        client.post("/api/v1/draws", json=world.body(), headers=headers),
        client.get("/api/v1/draws", headers=headers),
        client.get(f"/api/v1/draws/{created['id']}", headers=headers),
        client.post(f"/api/v1/draws/{created['id']}/close", headers=headers),
        client.post(f"/api/v1/draws/{created['id']}/cancel", json={"reason": "范围选错，重新抽取"}, headers=headers),
        client.get(f"/api/v1/draws/{created['id']}/verification", headers=headers),
        client.get("/api/v1/draws/cancellations", headers=headers),
    ]
    for response in calls:
        body = assert_problem(response, 403)
        assert_no_target(response, world)
        assert "commitment" not in body
    assert db.session.scalar(sa.select(sa.func.count(Draw.id))) == 1


def test_auditor_reads_but_neither_creates_nor_closes(client, world):
    created = create(client, world).get_json()
    headers = bearer(world.users["auditor"])
    assert_problem(client.post("/api/v1/draws", json=world.body(), headers=headers), 403)
    assert_problem(client.post(f"/api/v1/draws/{created['id']}/close", headers=headers), 403)
    assert_problem(client.post(f"/api/v1/draws/{created['id']}/cancel", json={"reason": "范围选错，重新抽取"},
                               headers=headers), 403)
    assert client.get(f"/api/v1/draws/{created['id']}/verification", headers=headers).status_code == 200
    assert client.get("/api/v1/draws/cancellations", headers=headers).status_code == 200


def test_without_token_is_401(client, world):
    assert_problem(client.get("/api/v1/draws"), 401)
    assert_problem(client.post("/api/v1/draws", json=world.body()), 401)


@pytest.mark.parametrize(("overrides", "field"), [
    ({"colour": "red"}, "colour"),
    ({"counties": "yiwu"}, "counties"),
    ({"sample_size": None}, "sample_size"),
    ({"rate": 5}, "sample_size"),
    ({"sample_size": 0}, "sample_size"),
    ({"team_size": 1}, "team_size"),
    ({"may_propose_penalties": "yes"}, "may_propose_penalties"),
    ({"window_start": "tomorrow"}, "window_start"),
    ({"counties": ["atlantis"]}, "counties"),
    ({"window_end": "2020-01-01T00:00:00+08:00", "window_start": "2019-12-31T00:00:00+08:00"}, "window_end"),
])
def test_bad_bodies_are_422_problems(client, db, world, overrides, field):
    response = create(client, world, **overrides)
    body = assert_problem(response, 422)
    assert field in body["errors"], body
    assert db.session.scalar(sa.select(sa.func.count(Draw.id))) == 0


def test_rate_instead_of_sample_size(client, world):
    response = create(client, world, sample_size=None, rate="50")
    assert response.status_code == 201
    assert response.get_json()["sample_size"] == 3


def test_infeasible_scope_is_a_409_problem_naming_the_constraint(client, db, world):
    before = db.session.scalar(sa.select(sa.func.count(Assignment.id)))
    for inspector in [*world.inspectors[1:], world.users["inspector"]]:
        inspector.county = world.county  # all inspectors but one now live where the venues are
    db.session.commit()
    response = create(client, world)
    body = assert_problem(response, 409)
    assert body["type"] == "urn:anfang:problem:draw-infeasible" and body["title"] == "抽查范围不可行"
    assert body["constraint"] == "same_county" and "回避：不派本县" in body["constraint_label"]
    total = db.session.scalar(sa.select(sa.func.count(User.id)).where(User.role == "inspector"))
    assert body["remaining"][:2] == [
        {"constraint": "inspectors", "label": "在岗督查人员", "count": total},
        {"constraint": "same_county", "label": "排除本县（市、区）人员后", "count": 1}]
    assert body["requested"] == 3 and body["staffed"] == 0 and body["skipped"] == {"same_county": 6}
    assert "抽查无法完成" in body["detail"] and f"在岗督查人员 {total} 人" in body["detail"]
    too_many = assert_problem(create(client, world, sample_size=7), 409)
    assert too_many["constraint"] == "venues_in_scope" and too_many["venues_in_scope"] == 6
    assert db.session.scalar(sa.select(sa.func.count(Assignment.id))) == before
    assert db.session.scalar(sa.select(sa.func.count(Draw.id))) == 0


def test_close_then_verify(client, db, world, monkeypatch):
    created = opened(client, world, create(client, world).get_json())
    auditor = bearer(world.users["auditor"])
    before = client.get(f"/api/v1/draws/{created['id']}/verification", headers=auditor).get_json()
    assert before["state"] == "not_revealed" and not before["ok"] and "尚未公开" in before["message"]

    # Before the window ends no one may close, not even the office: that would be a silent cancellation.
    for role in ("admin", "office"):
        early = client.post(f"/api/v1/draws/{created['id']}/close", headers=bearer(world.users[role]))
        assert "窗口结束前只能取消（须说明理由）" in assert_problem(early, 409)["detail"]
    assert client.get(f"/api/v1/draws/{created['id']}", headers=auditor).get_json()["revealed_seed"] is None

    after_window(monkeypatch, db, created)
    # Three sealed assignments: listed in a 409 until the close is confirmed.
    unconfirmed = assert_problem(client.post(f"/api/v1/draws/{created['id']}/close",
                                              headers=bearer(world.users["office"])), 409)
    assert [row["position"] for row in unconfirmed["unfinished_assignments"]] == [1, 2, 3]
    assert "还有 3 项任务未完成" in unconfirmed["detail"]
    closed = client.post(f"/api/v1/draws/{created['id']}/close", json={"confirm": True},
                         headers=bearer(world.users["office"]))
    assert closed.status_code == 200
    seed = closed.get_json()["revealed_seed"]
    assert len(seed) == 64 and closed.get_json()["status"] == "closed"
    assert_no_target(closed, world)

    report = client.get(f"/api/v1/draws/{created['id']}/verification", headers=auditor)
    assert report.status_code == 200
    body = report.get_json()
    assert body["state"] == "match" and body["ok"] and body["reasons"] == [] and body["assignments_checked"] == 3
    assert body["revealed_seed"] == seed
    assert_no_target(report, world)

    again = client.post(f"/api/v1/draws/{created['id']}/close", headers=bearer(world.users["office"]))
    assert_problem(again, 409)
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "draw")).all()
    assert actions[0] == "draw.created" and actions.count("draw.closed") == 1 and actions[-1] == "draw.closed"


def test_verification_reports_a_tampered_assignment(client, db, world, monkeypatch):
    created = opened(client, world, create(client, world).get_json())
    after_window(monkeypatch, db, created)
    assert client.post(f"/api/v1/draws/{created['id']}/close", json={"confirm": True},
                       headers=bearer(world.users["office"])).status_code == 200
    assignment = db.session.get(Assignment, created["assignments"][0]["id"])
    unused = next(v for v in world.venues if v.id not in {a.venue_id for a in assignment.draw.assignments})
    db.session.execute(sa.update(Assignment).where(Assignment.id == assignment.id).values(venue_id=unused.id))
    db.session.commit()
    body = client.get(f"/api/v1/draws/{created['id']}/verification", headers=bearer(world.users["auditor"])).get_json()
    assert body["state"] == "mismatch" and not body["ok"]
    assert any("第 1 项任务的场所" in reason for reason in body["reasons"])


@pytest.mark.parametrize("path", ["/api/v1/draws/999999", "/api/v1/draws/999999/verification"])
def test_unknown_draw_is_404(client, world, path):
    assert_problem(client.get(path, headers=bearer(world.users["office"])), 404)


def test_openapi_documents_the_draw_endpoints(client):
    spec = client.get("/api/openapi.json").get_json()
    paths = spec["paths"]
    assert {"/api/v1/draws", "/api/v1/draws/{draw_id}", "/api/v1/draws/{draw_id}/close",
            "/api/v1/draws/{draw_id}/cancel", "/api/v1/draws/cancellations",
            "/api/v1/draws/{draw_id}/verification"} <= paths.keys()
    assert {"404", "409", "422"} <= paths["/api/v1/draws/{draw_id}/cancel"]["post"]["responses"].keys()
    assert "reason" in spec["components"]["schemas"]["CancelRequest"]["properties"]
    assert paths["/api/v1/draws"]["post"]["summary"].startswith("Create a draw")
    assert "409" in paths["/api/v1/draws"]["post"]["responses"]
