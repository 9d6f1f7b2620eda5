"""The application factory, configuration, health check and the OpenAPI document."""

import pytest
from openapi_spec_validator import validate

from server import create_app
from server.config import DEFAULT_SECRET_KEY, ConfigError


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"


def test_openapi_document_is_valid_openapi_3(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = response.json
    assert document["openapi"].startswith("3.")
    validate(document)
    assert document["paths"], "the API documents at least one path"


def test_openapi_documents_errors_as_problem_json(client):
    responses = client.get("/api/openapi.json").json["components"]["responses"]
    assert "application/problem+json" in responses["DEFAULT_ERROR"]["content"]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"SECRET_KEY": DEFAULT_SECRET_KEY, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://x/y"}, "SECRET_KEY"),
        ({"SECRET_KEY": "short", "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://x/y"}, "SECRET_KEY"),
        ({"SECRET_KEY": "x" * 40, "SQLALCHEMY_DATABASE_URI": None}, "DATABASE_URL"),
    ],
)
def test_production_refuses_unsafe_settings(overrides, message):
    with pytest.raises(ConfigError, match=message):
        create_app("production", **overrides)


def test_production_starts_with_real_settings(tmp_path):
    app = create_app("production", SECRET_KEY="k" * 48, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'p.db'}",
                     ALLOW_SQLITE_SINGLE_PROCESS=True)
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_unknown_configuration_name_is_refused():
    with pytest.raises(ConfigError, match="unknown configuration"):
        create_app("staging")
