"""/api/v1/assignments: sealing per role on every endpoint that could carry a target, dispatch and
reveal (online and offline), status conflicts, and concurrent dispatch yielding one code."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from assignment_world import ROLE_KEYS, make_assignment, world  # noqa: F401  (fixtures)

import sealing
from server.accounts.auth import issue_device_token
from server.accounts.models.user import User
from server.audit.models.audit import AuditEvent
from server.columns import utcnow
from server.draws.assignments import dispatch, record_created
from server.draws.models.draw import Assignment, AssignmentMember, AssignmentTransition, Draw
from server.draws.server_keys import wrap_secret
from server.extensions import db as _db
from server.registry.models.reference import County, Department, VenueCategory
from server.registry.models.venue import Venue

PROBLEM_KEYS = {"type", "title", "status", "detail"}
STATUSES_TO_PROBE = ("sealed", "dispatched", "revealed", "submitted")
ENDPOINTS = ("list", "detail", "target", "reveal", "dispatch")


def bearer(user: User) -> dict:
    raw, token = issue_device_token(user, "测试设备", channel="api")
    # Marked used just now, so the request does not write to the token row.
    token.last_used_at = utcnow()
    return {"Authorization": f"Bearer {raw}"}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert PROBLEM_KEYS <= body.keys() and body["status"] == status
    return body


def call(client, endpoint: str, assignment: Assignment, headers: dict):
    base = f"/api/v1/assignments/{assignment.id}"
    if endpoint == "list":
        return client.get("/api/v1/assignments", headers=headers)
    if endpoint == "detail":
        return client.get(base, headers=headers)
    if endpoint == "target":
        return client.get(base + "/target", headers=headers)
    return client.post(f"{base}/{endpoint}", headers=headers)


def assert_no_target(response, world) -> None:
    """Neither the answer's bytes nor any envelope inside them hold the target in clear."""
    raw = response.get_data()
    haystacks = [raw, raw.decode("utf-8").encode("unicode_escape")]
    body = response.get_json(silent=True)
    items = body if isinstance(body, list) else [body.get("assignment", body)] if isinstance(body, dict) else []
    for item in items:
        if isinstance(item, dict) and item.get("envelope"):
            haystacks.append(base64.b64decode(item["envelope"]))
    for haystack in haystacks:
        assert b"venue_id" not in haystack
        for secret in world.target_strings():
            assert secret.encode("utf-8") not in haystack, secret
            assert secret.encode("unicode_escape") not in haystack, secret
            assert base64.b64encode(secret.encode("utf-8"))[:-4] not in haystack, secret


def expected_status(role_key: str, status: str, endpoint: str) -> int:
    team = role_key in ("team_leader", "team_member")
    viewer = role_key in ("department", "county")
    if endpoint == "list":
        return 403 if role_key in ("propaganda", "enforcement") else 200
    if endpoint == "dispatch":
        if role_key not in ("office", "admin"):
            return 403
        return 200 if status == "sealed" else 409
    if endpoint == "reveal":
        if not role_key.startswith("team") and role_key != "outsider":
            return 403  # no reveal grant for the role at all: refused before any lookup
        if role_key == "outsider":
            return 404
        return 403 if status == "sealed" else 200
    # detail and target
    if role_key in ("propaganda", "enforcement") or (endpoint == "target" and role_key == "auditor"):
        return 403
    if role_key in ("office", "admin", "auditor") or team:
        if endpoint == "target" and team and status not in ("revealed", "submitted"):
            return 403
        return 200
    if viewer and status == "submitted":
        return 200
    return 404


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("status", STATUSES_TO_PROBE)
@pytest.mark.parametrize("role_key", ROLE_KEYS)
def test_sealing_per_role_on_every_endpoint(client, db, world, make_assignment, role_key, status, endpoint):
    assignment = make_assignment(status)
    headers = bearer(world.users[role_key])
    db.session.commit()
    response = call(client, endpoint, assignment, headers)
    expected = expected_status(role_key, status, endpoint)
    assert response.status_code == expected, response.get_data(as_text=True)
    if expected >= 400:
        assert_problem(response, expected)
    if endpoint == "target" and expected == 200:
        body = response.get_json()
        assert body["venue_id"] == world.venue.id
        assert (body["name"], body["address"]) == (world.venue.name, world.venue.address)
        assert body["operator_name"] == world.venue.operator_name
    else:
        assert_no_target(response, world)
    if endpoint == "list" and expected == 200:
        listed = {item["id"] for item in response.get_json()}
        visible = expected_status(role_key, status, "detail") == 200
        assert (assignment.id in listed) == visible


def test_list_for_the_team_carries_envelopes_not_targets(client, db, world, make_assignment):
    mine = make_assignment()
    other = make_assignment(venue=world.other_venue, team=[world.users["outsider"]])
    headers = bearer(world.users["team_member"])
    db.session.commit()
    response = client.get("/api/v1/assignments", headers=headers)
    assert response.status_code == 200
    items = {item["id"]: item for item in response.get_json()}
    assert mine.id in items and other.id not in items
    item = items[mine.id]
    assert item["status"] == "sealed" and item["meeting_point"] == "市防指办门口"
    assert [m["user_id"] for m in item["members"]] == [world.users["team_leader"].id, world.users["team_member"].id]
    assert item["members"][0]["is_leader"] is True
    # Sealed: listed without an envelope; once dispatched, with it.
    assert "envelope" not in item
    dispatch(mine, world.users["office"], channel="api")
    db.session.commit()
    response = client.get("/api/v1/assignments", headers=headers)
    item = {item["id"]: item for item in response.get_json()}[mine.id]
    envelope = base64.b64decode(item["envelope"])
    assert json.loads(envelope)["assignment"] == mine.uuid == item["uuid"]
    assert_no_target(response, world)
    # The office's list has no envelopes: it reads targets through the audited endpoint.
    office_items = client.get("/api/v1/assignments", headers=bearer(world.users["office"])).get_json()
    assert all("envelope" not in item for item in office_items)


def test_list_filters_and_refuses_unknown_parameters(client, db, world, make_assignment):
    sealed, cancelled = make_assignment(), make_assignment("cancelled")
    headers = bearer(world.users["office"])
    db.session.commit()
    by_draw = client.get(f"/api/v1/assignments?draw_id={sealed.draw_id}", headers=headers).get_json()
    assert [item["id"] for item in by_draw] == [sealed.id]
    by_status = client.get("/api/v1/assignments?status=cancelled", headers=headers).get_json()
    assert cancelled.id in {item["id"] for item in by_status} and sealed.id not in {i["id"] for i in by_status}
    body = assert_problem(client.get("/api/v1/assignments?status=lost", headers=headers), 422)
    assert "status" in body["errors"]
    body = assert_problem(client.get("/api/v1/assignments?venue_id=1", headers=headers), 422)
    assert "venue_id" in body["errors"]


@pytest.mark.parametrize("path", ["/api/v1/assignments/{big}", "/api/v1/assignments/{big}/target",
                                  "/api/v1/assignments/abc", "/api/v1/assignments/0/target",
                                  "/api/v1/assignments/99999999999999999999"])
def test_unknown_ids_are_404_problems(client, db, world, path):
    headers = bearer(world.users["office"])
    db.session.commit()
    assert_problem(client.get(path.format(big=2**31 - 2), headers=headers), 404)


@pytest.mark.parametrize("endpoint", ["dispatch", "reveal", "cancel"])
def test_unknown_ids_on_actions_are_404(client, db, world, endpoint):
    role = "team_member" if endpoint == "reveal" else "office"
    headers = bearer(world.users[role])
    db.session.commit()
    response = client.post(f"/api/v1/assignments/{2**31 - 2}/{endpoint}", headers=headers, json={"reason": "x"})
    assert_problem(response, 404)


def test_without_a_token_every_endpoint_is_401(client, db, world, make_assignment):
    assignment = make_assignment()
    db.session.commit()
    for endpoint in ENDPOINTS:
        response = call(client, endpoint, assignment, {})
        assert_problem(response, 401)
        assert_no_target(response, world)


def test_answers_are_not_cached(client, db, world, make_assignment):
    assignment = make_assignment()
    headers = bearer(world.users["office"])
    db.session.commit()
    for response in (client.get("/api/v1/assignments", headers=headers),
                     client.get(f"/api/v1/assignments/{assignment.id}/target", headers=headers),
                     client.post(f"/api/v1/assignments/{assignment.id}/dispatch", headers=headers)):
        assert response.headers["Cache-Control"] == "no-store"


def test_target_reads_are_audited(client, db, world, make_assignment):
    assignment = make_assignment()
    office = world.users["office"]
    headers = bearer(office)
    db.session.commit()
    before = db.session.scalar(sa.select(sa.func.max(AuditEvent.seq)))
    for _ in range(2):
        assert client.get(f"/api/v1/assignments/{assignment.id}/target", headers=headers).status_code == 200
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.seq > before,
                                                            AuditEvent.action == "assignment.target_read")).all()
    assert len(events) == 2
    assert all(e.actor_id == office.id and e.channel == "api" and e.object_id == str(assignment.id) for e in events)


# --- dispatch and reveal ---------------------------------------------------------------------


def test_reveal_before_dispatch_is_a_403_problem(client, db, world, make_assignment):
    assignment = make_assignment()
    headers = bearer(world.users["team_leader"])
    db.session.commit()
    body = assert_problem(client.post(f"/api/v1/assignments/{assignment.id}/reveal", headers=headers), 403)
    assert "尚未派发" in body["detail"] and body["reason"] == "not_dispatched"
    db.session.refresh(assignment)
    assert assignment.status == "sealed"


def test_online_reveal_after_dispatch_opens_the_listed_envelope(client, db, world, make_assignment):
    assignment = make_assignment()
    member, office = bearer(world.users["team_member"]), bearer(world.users["office"])
    db.session.commit()
    # Before dispatch: the team cannot read the target, and has no envelope.
    assert_problem(client.get(f"/api/v1/assignments/{assignment.id}/target", headers=member), 403)

    dispatched = client.post(f"/api/v1/assignments/{assignment.id}/dispatch", headers=office)
    assert dispatched.status_code == 200
    assert "只显示这一次" in dispatched.get_json()["warning"]
    assert_no_target(dispatched, world)
    [item] = [i for i in client.get("/api/v1/assignments", headers=member).get_json() if i["id"] == assignment.id]
    envelope = base64.b64decode(item["envelope"])

    revealed = client.post(f"/api/v1/assignments/{assignment.id}/reveal", headers=member)
    assert revealed.status_code == 200
    body = revealed.get_json()
    assert body["status"] == "revealed" and body["key_format"] == "base64url"
    assert body["assignment_uuid"] == assignment.uuid
    assert_no_target(revealed, world)
    target = sealing.open_with_key(envelope, sealing.key_from_text(body["key"]), assignment.uuid)
    assert (target["venue_id"], target["name"], target["address"]) == (
        world.venue.id, world.venue.name, world.venue.address)

    # Now the team may read it from the server too (audited); the detail still has no target.
    assert client.get(f"/api/v1/assignments/{assignment.id}/target", headers=member).get_json() == target
    assert_no_target(client.get(f"/api/v1/assignments/{assignment.id}", headers=member), world)
    actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "assignment",
                                                                    AuditEvent.object_id == str(assignment.id))
                                 .order_by(AuditEvent.seq)).all()
    assert actions == ["assignment.dispatched", "assignment.revealed", "assignment.key_released",
                       "assignment.target_read"]


def test_offline_reveal_with_the_dispatch_code_needs_no_server(client, db, world, make_assignment):
    assignment = make_assignment()
    member, office = bearer(world.users["team_leader"]), bearer(world.users["office"])
    db.session.commit()
    code = client.post(f"/api/v1/assignments/{assignment.id}/dispatch", headers=office).get_json()["reveal_code"]
    [item] = [i for i in client.get("/api/v1/assignments", headers=member).get_json() if i["id"] == assignment.id]
    envelope = base64.b64decode(item["envelope"])
    # On the device, with no network: only the envelope, the uuid and the code read over the phone.
    spoken = code.lower().replace("-", " ").replace("0", "o")
    target = sealing.open_with_code(envelope, spoken, item["uuid"])
    assert (target["venue_id"], target["name"], target["address"], target["operator_name"]) == (
        world.venue.id, world.venue.name, world.venue.address, world.venue.operator_name)
    db.session.refresh(assignment)
    assert assignment.status == "dispatched" and assignment.wrapped_reveal_code is None
    # The code is nowhere on the server any more.
    for table in ("assignment", "audit_event", "assignment_transition"):
        for row in db.session.execute(sa.text(f"SELECT * FROM {table}")):
            for value in row:
                if isinstance(value, (str, bytes)):
                    text = value if isinstance(value, str) else value.decode("latin-1")
                    assert code not in text and code.replace("-", "") not in text


def test_dispatch_twice_gives_409_and_no_second_code(client, db, world, make_assignment):
    assignment = make_assignment()
    office = bearer(world.users["office"])
    db.session.commit()
    assert client.post(f"/api/v1/assignments/{assignment.id}/dispatch", headers=office).status_code == 200
    second = client.post(f"/api/v1/assignments/{assignment.id}/dispatch", headers=office)
    body = assert_problem(second, 409)
    assert "reveal_code" not in body and "已派发" in body["detail"]


@pytest.mark.parametrize("starts_in, lasts, reason", [
    (timedelta(hours=3), timedelta(hours=2), "before_window"),
    (timedelta(hours=-4), timedelta(hours=1), "after_window"),
])
def test_reveal_outside_the_window_is_refused(client, db, world, make_assignment, starts_in, lasts, reason):
    assignment = make_assignment("dispatched", starts_in=starts_in, lasts=lasts)
    member = bearer(world.users["team_member"])
    db.session.commit()
    body = assert_problem(client.post(f"/api/v1/assignments/{assignment.id}/reveal", headers=member), 403)
    assert body["reason"] == reason
    assert "key" not in body


def test_cancel(client, db, world, make_assignment):
    assignment = make_assignment()
    office, member = bearer(world.users["office"]), bearer(world.users["team_member"])
    db.session.commit()
    url = f"/api/v1/assignments/{assignment.id}/cancel"
    assert "reason" in assert_problem(client.post(url, headers=office, json={}), 422)["errors"]
    assert "venue" in assert_problem(client.post(url, headers=office, json={"reason": "x", "venue": 1}),
                                     422)["errors"]
    assert_problem(client.post(url, headers=member, json={"reason": "不去了"}), 403)
    response = client.post(url, headers=office, json={"reason": "场所已停业"})
    assert response.status_code == 200
    assert response.get_json()["status"] == "cancelled"
    assert_no_target(response, world)
    assert_problem(client.post(url, headers=office, json={"reason": "再取消一次"}), 409)
    assert_problem(client.post(f"/api/v1/assignments/{assignment.id}/dispatch", headers=office), 409)


def test_openapi_documents_the_endpoints(client):
    spec = client.get("/api/openapi.json").get_json()
    for path in ("/api/v1/assignments", "/api/v1/assignments/{assignment_id}",
                 "/api/v1/assignments/{assignment_id}/target", "/api/v1/assignments/{assignment_id}/dispatch",
                 "/api/v1/assignments/{assignment_id}/reveal", "/api/v1/assignments/{assignment_id}/cancel"):
        assert path in spec["paths"], path
    assignment_fields = spec["components"]["schemas"]["Assignment"]["properties"]
    assert "envelope" in assignment_fields
    assert not {"venue_id", "venue", "name", "address", "target"} & assignment_fields.keys()


# --- concurrent dispatch ---------------------------------------------------------------------
#
# Real transactions, each thread with its own application context, session and connection, on a
# database of its own (a fresh SQLite file or PostgreSQL database from `empty_database_url`), so
# nothing needs undoing afterwards.

ROUNDS = 3


def _seed(app, rounds: int) -> tuple[list[int], str, str]:
    """Committed: `rounds` sealed assignments, and tokens for one office and one admin user."""
    from server.accounts.passwords import hash_password

    with app.app_context():
        session = _db.session
        department = Department(code="dep", name="甲局")
        category = VenueCategory(code="cat", name="甲类", departments=[department])
        county = County(code="cty", name="甲县", kind="county")
        venue = Venue(name="并发测试场所", address="并发路1号", category=category, county=county)
        password = hash_password("correct horse 9")
        office = User(username="office", display_name="办公室", role="office", password_hash=password)
        admin = User(username="admin", display_name="管理员", role="admin", password_hash=password)
        leader = User(username="leader", display_name="组长", role="inspector", password_hash=password)
        session.add_all([department, category, county, venue, office, admin, leader])
        session.flush()
        start = utcnow() - timedelta(hours=1)
        digest = hashlib.sha256(b"placeholder").hexdigest()
        draw = Draw(created_by_id=office.id, status="committed", parameters={}, window_start=start,
                    window_end=start + timedelta(hours=6),
                    commitment=digest, sealed_seed=wrap_secret(b"seed", "draw-seed"), parameters_digest=digest,
                    venues_digest=digest, inspectors_digest=digest, result_digest=digest, venues_snapshot=b"x",
                    inspectors_snapshot=b"x")
        session.add(draw)
        session.flush()
        ids = []
        for position in range(1, rounds + 1):
            assignment = Assignment(draw_id=draw.id, position=position, venue=venue, visit_date=date.today(),
                                    window_start=draw.window_start, window_end=draw.window_end,
                                    members=[AssignmentMember(user_id=leader.id, position=1, is_leader=True)])
            session.add(assignment)
            record_created(assignment, office)
            ids.append(assignment.id)
        tokens = []
        for user in (office, admin):
            raw, token = issue_device_token(user, "并发测试", channel="api")
            token.last_used_at = utcnow()
            tokens.append(raw)
        session.commit()
        session.remove()
    return ids, tokens[0], tokens[1]


def _race(app, url: str, tokens: list[str]) -> list[tuple[int, dict]]:
    results: list[tuple[int, dict]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(tokens))

    def dispatch(token: str) -> None:
        try:
            client = app.test_client()
            start.wait(timeout=30)
            response = client.post(url, headers={"Authorization": f"Bearer {token}"})
            results.append((response.status_code, response.get_json()))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=dispatch, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a dispatch hung"
    assert errors == []
    return results


def test_concurrent_dispatch_yields_one_code(separate_app):
    app = separate_app
    ids, office_token, admin_token = _seed(app, ROUNDS)
    for assignment_id in ids:
        results = _race(app, f"/api/v1/assignments/{assignment_id}/dispatch", [office_token, admin_token])
        statuses = sorted(status for status, _ in results)
        assert statuses == [200, 409], results
        [code] = [body["reveal_code"] for status, body in results if status == 200]
        [problem] = [body for status, body in results if status == 409]
        assert "reveal_code" not in problem
        with app.app_context():
            assignment = _db.session.get(Assignment, assignment_id)
            assert assignment.status == "dispatched" and assignment.wrapped_reveal_code is None
            assert sealing.open_with_code(assignment.envelope, code, assignment.uuid)["name"] == "并发测试场所"
            moves = _db.session.scalars(sa.select(AssignmentTransition.to_status)
                                        .where(AssignmentTransition.assignment_id == assignment_id)).all()
            assert sorted(moves) == ["dispatched", "sealed"]
            events = _db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "assignment.dispatched",
                                                                     AuditEvent.object_id == str(assignment_id))).all()
            assert len(events) == 1
            _db.session.remove()


def test_dispatch_waiting_on_a_slower_one_gets_409(separate_app):
    """Deterministic interleaving: the second dispatcher read the row as `sealed` and reaches its
    UPDATE while the first one holds the row, uncommitted; it must lose, not dispatch again."""
    from server.draws import assignments as service

    app = separate_app
    [assignment_id], _, _ = _seed(app, 1)
    first_claimed, second_loaded = threading.Event(), threading.Event()
    outcome: dict = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with app.app_context():
                office = _db.session.scalar(sa.select(User).where(User.username == "office"))
                assignment = _db.session.get(Assignment, assignment_id)
                second_loaded.wait(timeout=30)
                outcome["first"] = service.dispatch(assignment, office, channel="api")
                first_claimed.set()
                # Hold the transaction open while the second one tries.
                threading.Event().wait(0.5)
                _db.session.commit()
                _db.session.remove()
        except BaseException as exc:
            first_claimed.set()
            errors.append(exc)

    def second() -> None:
        try:
            with app.app_context():
                admin = _db.session.scalar(sa.select(User).where(User.username == "admin"))
                assignment = _db.session.get(Assignment, assignment_id)
                assert assignment.status == "sealed"
                second_loaded.set()
                first_claimed.wait(timeout=30)
                try:
                    outcome["second"] = service.dispatch(assignment, admin, channel="api")
                    _db.session.commit()
                except service.Conflict as exc:
                    outcome["second_conflict"] = exc.detail
                    _db.session.rollback()
                _db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and not any(thread.is_alive() for thread in threads)
    assert "first" in outcome and "second" not in outcome, outcome
    assert outcome["second_conflict"]
