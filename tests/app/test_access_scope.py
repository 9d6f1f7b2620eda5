"""Authorisation by role AND object scope (DESIGN.md §6), for venues; and the view decorators."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from flask import Blueprint as WebBlueprint
from flask_login import AnonymousUserMixin, current_user
from flask_smorest import Blueprint as ApiBlueprint

from server import access, create_app
from server.access import (
    Scope,
    api_auth_required,
    authorize,
    get_authorized,
    get_or_404,
    grant,
    register_policy,
    require_role,
    scope_filter,
    web_role_required,
)
from server.accounts.auth import issue_device_token
from server.accounts.models.user import User
from server.accounts.passwords import hash_password
from server.errors import Forbidden, NotFound, Unauthorized
from server.extensions import db as _db
from server.extensions import limiter
from server.registry.models.reference import County, Department, VenueCategory
from server.registry.models.venue import Venue

PASSWORD = "correct horse 9"
# Hashed once: the world below has ten users, and argon2 is slow on purpose.
PASSWORD_HASH = hash_password(PASSWORD)


@dataclass
class World:
    """Two departments each responsible for one category; two counties; a venue in each cell."""

    venues: dict
    users: dict


@pytest.fixture
def world(db, make_venue) -> World:
    tag = uuid.uuid4().hex[:8]
    dept_a = Department(code=f"a{tag}", name=f"甲局{tag}")
    dept_b = Department(code=f"b{tag}", name=f"乙局{tag}")
    cat_a = VenueCategory(code=f"ca{tag}", name=f"甲类{tag}", departments=[dept_a])
    cat_b = VenueCategory(code=f"cb{tag}", name=f"乙类{tag}", departments=[dept_b])
    county_1 = County(code=f"k1{tag}", name=f"一县{tag}", kind="county")
    county_2 = County(code=f"k2{tag}", name=f"二县{tag}", kind="county")
    db.session.add_all([dept_a, dept_b, cat_a, cat_b, county_1, county_2])
    db.session.flush()
    venues = {
        "a1": make_venue(category=cat_a, county=county_1),
        "a2": make_venue(category=cat_a, county=county_2),
        "b1": make_venue(category=cat_b, county=county_1),
        "b2": make_venue(category=cat_b, county=county_2),
    }

    def user(role, **overrides):
        name = f"{role}-{uuid.uuid4().hex[:10]}"
        row = User(username=name, display_name=name, role=role, password_hash=PASSWORD_HASH, **overrides)
        db.session.add(row)
        return row

    users = {
        "office": user("office"),
        "admin": user("admin"),
        "auditor": user("auditor"),
        "enforcement": user("enforcement"),
        "department_a": user("department", department=dept_a),
        "county_1": user("county", county=county_1),
        "department_none": user("department"),  # misconfigured: no department, so no venue
        "county_none": user("county"),
        "propaganda": user("propaganda"),
        "inspector": user("inspector", department=dept_a, county=county_1),
    }
    db.session.flush()
    return World(venues, users)


ALL = {"a1", "a2", "b1", "b2"}
READ_SCOPE = {
    "office": ALL,
    "admin": ALL,
    "auditor": ALL,
    "enforcement": ALL,
    "department_a": {"a1", "a2"},  # the categories its department is responsible for
    "county_1": {"a1", "b1"},  # its territory
    "department_none": set(),
    "county_none": set(),
}
REFUSED_ROLES = ("propaganda", "inspector")


@pytest.mark.parametrize("who", sorted(READ_SCOPE))
def test_read_one_venue(world, who):
    user = world.users[who]
    for key, venue in sorted(world.venues.items()):
        if key in READ_SCOPE[who]:
            authorize(user, "read", venue)
        else:
            with pytest.raises(Forbidden, match="不在您的职责范围内"):
                authorize(user, "read", venue)


@pytest.mark.parametrize("who", sorted(READ_SCOPE))
def test_list_filter_matches_the_object_check(db, world, who):
    user = world.users[who]
    ids = {venue.id: key for key, venue in world.venues.items()}
    visible = db.session.scalars(sa.select(Venue.id).where(Venue.id.in_(ids), scope_filter(user, "read", Venue)))
    assert {ids[venue_id] for venue_id in visible} == READ_SCOPE[who]


@pytest.mark.parametrize("who", REFUSED_ROLES)
def test_roles_without_a_grant_are_refused_venues(world, who):
    user = world.users[who]
    with pytest.raises(Forbidden, match="无权查看场所"):
        authorize(user, "read", world.venues["a1"])
    with pytest.raises(Forbidden):
        scope_filter(user, "read", Venue)


@pytest.mark.parametrize("who, allowed", [
    ("office", True), ("admin", True), ("auditor", False), ("enforcement", False),
    ("department_a", False), ("county_1", False), ("propaganda", False), ("inspector", False),
])
def test_only_office_and_admin_manage_venues(world, who, allowed):
    user, venue = world.users[who], world.venues["a1"]
    if allowed:
        authorize(user, "manage", venue)
    else:
        with pytest.raises(Forbidden):
            authorize(user, "manage", venue)


@pytest.mark.parametrize("anonymous", [None, AnonymousUserMixin()])
def test_anonymous_is_unauthorized_not_forbidden(world, anonymous):
    with pytest.raises(Unauthorized):
        authorize(anonymous, "read", world.venues["a1"])
    with pytest.raises(Unauthorized):
        require_role(anonymous, "office")


def test_require_role(world):
    assert require_role(world.users["office"], "office", "admin") is world.users["office"]
    with pytest.raises(Forbidden, match="宣传人员账号无权访问此功能"):
        require_role(world.users["propaganda"], "office", "admin")


def test_get_or_404_names_the_object_in_chinese(world):
    venue = world.venues["a1"]
    assert get_or_404(Venue, venue.id) is venue
    assert get_or_404(Venue, str(venue.id)) is venue
    with pytest.raises(NotFound, match="编号为 987654321 的场所不存在"):
        get_or_404(Venue, 987654321)
    for bad in ("abc", None, -1, 0, 2**40):
        with pytest.raises(NotFound):
            get_or_404(Venue, bad)


def test_get_authorized_checks_existence_then_scope(world):
    county_user = world.users["county_1"]
    assert get_authorized(Venue, world.venues["b1"].id, county_user) is world.venues["b1"]
    with pytest.raises(Forbidden):
        get_authorized(Venue, world.venues["b2"].id, county_user)
    with pytest.raises(NotFound):
        get_authorized(Venue, 987654321, county_user)


def test_later_features_plug_in_rules_without_touching_the_helper(world, monkeypatch):
    """A new object type registers its own policy; nothing in access.py changes."""
    monkeypatch.setattr(access, "_POLICIES", dict(access._POLICIES))

    class Note:
        def __init__(self, author_id):
            self.author_id = author_id

    own = Scope("own notes", lambda user, note: note.author_id == user.id, lambda user: sa.true())
    register_policy(Note, "笔记")
    grant(Note, "read", "inspector", own)
    inspector = world.users["inspector"]
    authorize(inspector, "read", Note(inspector.id))
    with pytest.raises(Forbidden):
        authorize(inspector, "read", Note(inspector.id + 1))
    with pytest.raises(Forbidden):
        authorize(world.users["office"], "read", Note(inspector.id))


def test_unregistered_models_are_refused_loudly(world):
    class Unknown:
        pass

    with pytest.raises(LookupError):
        authorize(world.users["office"], "read", Unknown())
    with pytest.raises(ValueError):
        grant(Venue, "read", "no-such-role")


# --- the decorators, over HTTP --------------------------------------------------------------


@pytest.fixture(scope="module")
def probe_app(app, database_url):
    """A second app on the same database with endpoints guarded by the decorators.

    Requests to it use the test's session (the `db` fixture replaces it globally), so the test's
    rows are visible.
    """
    probe = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, EVIDENCE_DIR=app.config["EVIDENCE_DIR"])
    api_blp = ApiBlueprint("probe", __name__, url_prefix="/api/v1/probe")

    @api_blp.get("/office-only")
    @api_auth_required("office")
    def office_only():
        return {"username": current_user.username}

    @api_blp.get("/venues/<int:venue_id>")
    @api_auth_required()
    def venue_detail(venue_id):
        return {"id": get_authorized(Venue, venue_id, current_user).id}

    probe.extensions["anfang_api"].register_blueprint(api_blp)

    web_bp = WebBlueprint("probe_pages", __name__)

    @web_bp.get("/probe/office")
    @web_role_required("office", "admin")
    def office_page():
        return "办公室页面"

    probe.register_blueprint(web_bp)
    yield probe
    with probe.app_context():
        _db.engine.dispose()


@pytest.fixture
def probe(probe_app, db, world):
    # The probe app's requests run in their own app context, hence their own session: they see
    # committed rows only.
    db.session.commit()
    limiter.reset()
    return probe_app.test_client()


def _token_for(db, user) -> str:
    raw, _ = issue_device_token(user, "探针设备", ttl_days=1)
    db.session.commit()
    return raw


def _problem(response, status):
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert {"type", "title", "status", "detail"} <= body.keys() and body["status"] == status
    return body


def test_api_decorator_401_without_a_token(probe, world):
    response = probe.get("/api/v1/probe/office-only")
    _problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_api_decorator_403_for_the_wrong_role(probe, db, world):
    token = _token_for(db, world.users["propaganda"])
    body = _problem(probe.get("/api/v1/probe/office-only", headers={"Authorization": f"Bearer {token}"}), 403)
    assert body["title"] == "无权访问"
    assert "宣传人员" in body["detail"]


def test_api_decorator_passes_the_right_role(probe, db, world):
    token = _token_for(db, world.users["office"])
    response = probe.get("/api/v1/probe/office-only", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json() == {"username": world.users["office"].username}


def test_api_object_scope_403_and_404(probe, db, world):
    token = _token_for(db, world.users["county_1"])
    headers = {"Authorization": f"Bearer {token}"}
    assert probe.get(f"/api/v1/probe/venues/{world.venues['a1'].id}", headers=headers).status_code == 200
    _problem(probe.get(f"/api/v1/probe/venues/{world.venues['a2'].id}", headers=headers), 403)
    body = _problem(probe.get("/api/v1/probe/venues/987654321", headers=headers), 404)
    assert "场所" in body["detail"]


def _web_login(client, username):
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    return client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})


def test_web_decorator_sends_anonymous_visitors_to_login(probe, world):
    response = probe.get("/probe/office")
    assert response.status_code == 302
    assert "/login?next=/probe/office" in response.headers["Location"]


def test_web_decorator_403_page_for_the_wrong_role(probe, world):
    _web_login(probe, world.users["county_1"].username)
    response = probe.get("/probe/office")
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert "属地政府账号无权访问此功能" in response.get_data(as_text=True)


def test_web_decorator_passes_the_right_role(probe, world):
    _web_login(probe, world.users["admin"].username)
    response = probe.get("/probe/office")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "办公室页面"
