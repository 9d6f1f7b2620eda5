"""Every error under /api/ is an RFC 9457 problem document, never a traceback."""

import pytest
from flask_smorest import Blueprint

from server import create_app
from server.errors import Conflict, NotFound

PROBLEM_KEYS = {"type", "title", "status", "detail"}


def assert_problem(response, status):
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert PROBLEM_KEYS <= body.keys()
    assert body["status"] == status
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def test_unknown_api_path_is_404_problem(client):
    body = assert_problem(client.get("/api/v1/no-such-thing"), 404)
    assert body["type"] == "about:blank"
    assert body["detail"] == "请求的资源不存在。"


def test_wrong_method_is_405_problem_with_allow(client):
    response = client.delete("/api/openapi.json")
    assert_problem(response, 405)
    assert "GET" in response.headers["Allow"]


def test_web_errors_are_pages_not_json(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "未找到" in response.get_data(as_text=True)


@pytest.fixture(scope="module")
def probe_app(tmp_path_factory):
    """An app with probe endpoints that raise each kind of error."""
    import marshmallow as ma

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path_factory.mktemp('p') / 'p.db'}")
    blp = Blueprint("probe", __name__, url_prefix="/api/v1/probe")

    class BodySchema(ma.Schema):
        count = ma.fields.Integer(required=True, validate=ma.validate.Range(min=0))

    @blp.post("/body")
    @blp.arguments(BodySchema)
    def body(data):
        return data

    @blp.get("/missing")
    def missing():
        raise NotFound("场所 42 不存在。")

    @blp.get("/conflict")
    def conflict():
        raise Conflict("该任务已派发，不能再修改。", state="dispatched")

    @blp.get("/crash")
    def crash():
        raise RuntimeError("boom: secret internals")

    @blp.post("/busy")
    def busy():
        import sqlite3

        from sqlalchemy.exc import OperationalError

        # What SQLAlchemy raises when SQLite's busy timeout ran out waiting for the write lock.
        raise OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError("database is locked"))

    from server.extensions import api_of, csrf

    api_of(app).register_blueprint(blp)
    csrf.exempt(blp)
    return app


def test_invalid_body_is_422_with_field_errors(probe_app):
    body = assert_problem(probe_app.test_client().post("/api/v1/probe/body", json={"count": -1, "extra": 1}), 422)
    assert set(body["errors"]) == {"count", "extra"}


def test_non_json_body_is_422_not_500(probe_app):
    response = probe_app.test_client().post("/api/v1/probe/body", data="{not json", content_type="application/json")
    assert response.status_code in (400, 422)
    assert response.mimetype == "application/problem+json"


def test_validation_messages_are_chinese_with_their_numbers(probe_app):
    client = probe_app.test_client()
    body = assert_problem(client.post("/api/v1/probe/body", json={"count": -1, "extra": 1}), 422)
    assert body["errors"] == {"count": ["须不小于 0。"], "extra": ["未知字段。"]}
    assert assert_problem(client.post("/api/v1/probe/body", json={}), 422)["errors"] == {"count": ["缺少必填字段。"]}
    wrong_type = assert_problem(client.post("/api/v1/probe/body", json={"count": "三"}), 422)
    assert wrong_type["errors"] == {"count": ["须为整数。"]}
    not_json = client.post("/api/v1/probe/body", data="{not json", content_type="application/json").json
    assert not_json["errors"] == {"_schema": ["请求体不是有效的 JSON。"]}


def test_domain_not_found_is_404_problem(probe_app):
    body = assert_problem(probe_app.test_client().get("/api/v1/probe/missing"), 404)
    assert body["detail"] == "场所 42 不存在。"
    assert body["type"] == "urn:anfang:problem:not-found"


def test_state_conflict_is_409_problem_with_extension_member(probe_app):
    body = assert_problem(probe_app.test_client().get("/api/v1/probe/conflict"), 409)
    assert body["state"] == "dispatched"


def test_unexpected_error_is_500_problem_without_internals(probe_app):
    response = probe_app.test_client().get("/api/v1/probe/crash")
    body = assert_problem(response, 500)
    assert "boom" not in response.get_data(as_text=True)
    assert body["detail"]


def test_locked_database_is_503_problem_to_retry(probe_app):
    response = probe_app.test_client().post("/api/v1/probe/busy")
    body = assert_problem(response, 503)
    assert body["type"] == "urn:anfang:problem:database-busy"
    assert "稍后重试" in body["detail"] and "BEGIN" not in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) > 0
