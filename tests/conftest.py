"""Fixtures: every test runs on SQLite, and again on PostgreSQL (ids contain `postgresql`).

The schema is built by the migrations (not create_all) so the suite also proves them; reference
data is loaded once per backend; each test runs inside a transaction that is rolled back.
"""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession
from postgres_databases import PG_ADMIN_URL, fresh_database, postgres_unreachable

from server import create_app
from server.extensions import db as _db

@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'anfang-test.sqlite3'}"
        return
    reason = postgres_unreachable()
    if reason is not None:
        message = f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {reason}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with fresh_database("anfang_test") as url:
        yield url


@pytest.fixture
def empty_database_url(database_url, tmp_path):
    """A URL to an empty database on the same backend: a new SQLite file or a new PostgreSQL database."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    with fresh_database("anfang_test_empty") as url:
        yield url


@pytest.fixture
def separate_app(empty_database_url, tmp_path):
    """The app on a migrated database of its own, for tests whose threads commit for real (each
    with its own application context, session and connection): nothing needs undoing after."""
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=empty_database_url, EVIDENCE_DIR=str(tmp_path))
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
        _db.session.remove()
    yield app
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=database_url,
        EVIDENCE_DIR=str(tmp_path_factory.mktemp("evidence")),
    )
    with app.app_context():
        upgrade(directory=app.config["MIGRATIONS_DIR"])
        from server.registry.loader import load_reference

        load_reference()
        _db.session.commit()
        _db.session.remove()
    yield app
    with app.app_context():
        _db.engine.dispose()


class ConnectionBoundSession(FlaskSession):
    """Flask-SQLAlchemy's session picks an engine per bind key and ignores `bind`; tests bind it to
    the one connection whose outer transaction they roll back."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        return bind if bind is not None else self.bind


@pytest.fixture
def db(app):
    """The database, inside a transaction rolled back after the test (commits become savepoints)."""
    with app.app_context():
        connection = _db.engine.connect()
        transaction = connection.begin()
        original_session = _db.session
        _db.session = _db._make_scoped_session(
            {"bind": connection, "join_transaction_mode": "create_savepoint", "class_": ConnectionBoundSession}
        )
        try:
            yield _db
        finally:
            _db.session.remove()
            _db.session = original_session
            transaction.rollback()
            connection.close()


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def cli(app, db):
    return app.test_cli_runner()


@pytest.fixture
def make_venue(db):
    from server.registry.models.reference import County, VenueCategory
    from server.registry.models.venue import Venue

    counter = iter(range(1, 10**6))

    def make(**overrides) -> Venue:
        n = next(counter)
        if "category" not in overrides and "category_id" not in overrides:
            overrides["category"] = db.session.scalar(sa.select(VenueCategory).order_by(VenueCategory.id))
        if "county" not in overrides and "county_id" not in overrides:
            overrides["county"] = db.session.scalar(sa.select(County).order_by(County.id))
        values = dict(
            name=f"测试场所{n}",
            address=f"测试路{n}号",
            town="测试街道",
            approved_capacity=100,
            operator_name="张三",
            contact_phone="13800000000",
        )
        values.update(overrides)
        venue = Venue(**values)
        db.session.add(venue)
        db.session.flush()
        return venue

    return make


@pytest.fixture
def make_user(db):
    from server.accounts.models.user import User
    from server.accounts.passwords import hash_password

    counter = iter(range(1, 10**6))

    def make(role: str = "inspector", password: str = "correct horse 9", **overrides) -> User:
        n = next(counter)
        values = dict(username=f"{role}{n}", display_name=f"测试用户{n}", role=role,
                      password_hash=hash_password(password))
        values.update(overrides)
        user = User(**values)
        db.session.add(user)
        db.session.flush()
        return user

    return make


@pytest.fixture
def scope_rows(db):
    """A department responsible for one category, and a county (unique codes per test)."""
    from server.registry.models.reference import County, Department, VenueCategory

    tag = uuid.uuid4().hex[:8]
    department = Department(code=f"d{tag}", name=f"测试局{tag}")
    category = VenueCategory(code=f"c{tag}", name=f"测试场所类别{tag}", departments=[department])
    county = County(code=f"k{tag}", name=f"测试县{tag}", kind="county")
    db.session.add_all([department, category, county])
    db.session.flush()
    return department, category, county


@pytest.fixture
def new_user(make_user, db, scope_rows):
    """Users committed (a savepoint in tests) so that a 4xx answer's rollback keeps them."""
    department, _, county = scope_rows

    def make(role: str = "office", **overrides):
        if role == "department":
            overrides.setdefault("department", department)
        if role == "county":
            overrides.setdefault("county", county)
        user = make_user(role, **overrides)
        db.session.commit()
        return user

    return make


@pytest.fixture(scope="session")
def organ_keys_dir(app, tmp_path_factory):
    """A local CA and one signing certificate per issuing organ, as the demo makes them."""
    from server.demo.signing import DEMO_CA_NAME, DEMO_CITY, DEMO_ORGANIZATION, issuing_seals
    from server.pdf.local_ca import ensure_local_ca

    directory = tmp_path_factory.mktemp("signing")
    with app.app_context():
        organs = issuing_seals()
    ensure_local_ca(directory, organs, ca_name=DEMO_CA_NAME, organization=DEMO_ORGANIZATION, locality=DEMO_CITY)
    return directory


@pytest.fixture
def organ_keys(app, organ_keys_dir, monkeypatch):
    """This test's documents are signed with the organ keys of `organ_keys_dir`."""
    monkeypatch.setitem(app.config, "DOCUMENT_SIGNING_DIR", str(organ_keys_dir))
    return organ_keys_dir
