"""/api/v1/legal-bases and /api/v1/penalty-checks: reading by date, roles, the 409 problem with the
allowed range, audited admin edits refused when they break the rules."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from server.accounts.auth import issue_device_token
from server.accounts.models.user import User
from server.audit.models.audit import AuditEvent
from server.columns import utcnow
from server.registry.models.reference import LegalBasis

READERS = ("enforcement", "office", "admin")


def bearer(db, role: str) -> dict:
    user = User(username=f"{role}-{uuid.uuid4().hex[:10]}", display_name=f"测试{role}", role=role)
    db.session.add(user)
    db.session.flush()
    raw, token = issue_device_token(user, "测试设备", channel="api")
    token.last_used_at = utcnow()
    # Committed (a savepoint here): a refused request rolls back, and the token must outlive it.
    db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["detail"]
    return body


def check_body(**overrides) -> dict:
    body = {"basis_code": "psapl2025_art61_1_1", "circumstance": "first", "party_kind": "individual",
            "penalty_types": ["fine"], "fine_amount": 300, "act_date": "2026-01-01"}
    body.update(overrides)
    return body


@pytest.mark.parametrize("role", READERS)
def test_list_in_force_by_date(client, db, role):
    headers = bearer(db, role)
    before = client.get("/api/v1/legal-bases?on=2025-12-31", headers=headers)
    after = client.get("/api/v1/legal-bases?on=2026-01-01", headers=headers)
    assert before.status_code == after.status_code == 200
    codes_before = {basis["code"] for basis in before.get_json()}
    codes_after = {basis["code"] for basis in after.get_json()}
    assert "psapl2012_art50_1_1" in codes_before and "psapl2025_art61_1_1" not in codes_before
    assert "psapl2025_art61_1_1" in codes_after and "psapl2012_art50_1_1" not in codes_after
    psapl = next(b for b in after.get_json() if b["code"] == "psapl2025_art61_1_1")
    assert psapl["provision"] == "psapl-emergency-order"
    assert psapl["max_fine_individual"] == 1000 and psapl["max_fine_unit"] is None
    first = next(b for b in psapl["benchmarks"] if b["circumstance"] == "first")
    assert first["description"] == "警告；或罚款500元以下" and first["max_fine"] == 500
    assert first["combinations"] == [["warning"], ["fine"]] and first["penalty_types"] == ["warning", "fine"]
    assert psapl["authority_kind"] == "公安机关"
    idpl = next(b for b in after.get_json() if b["code"] == "idpl2025_art111_1_1")
    assert idpl["authority_kind"] == "疾病预防控制部门"


@pytest.mark.parametrize("role", ("propaganda", "department", "county", "auditor"))
def test_other_roles_are_refused(client, db, role):
    headers = bearer(db, role)
    assert_problem(client.get("/api/v1/legal-bases", headers=headers), 403)
    assert_problem(client.post("/api/v1/penalty-checks", json=check_body(), headers=headers), 403)


def test_inspectors_read_the_bases_in_force_for_their_phones(client, db):
    headers = bearer(db, "inspector")
    answer = client.get("/api/v1/legal-bases", headers=headers)
    assert answer.status_code == 200
    psapl = next(b for b in answer.get_json() if b["code"] == "psapl2025_art61_1_1")
    assert psapl["max_fine_individual"] == 1000
    assert client.get("/api/v1/legal-bases/psapl2025_art61_1_1", headers=headers).status_code == 200
    assert_problem(client.post("/api/v1/penalty-checks", json=check_body(), headers=headers), 403)
    assert_problem(client.post("/api/v1/legal-bases", json={}, headers=headers), 403)


def test_anonymous_is_refused(client, db):
    assert_problem(client.get("/api/v1/legal-bases"), 401)


def test_get_one_and_unknown(client, db):
    headers = bearer(db, "enforcement")
    response = client.get("/api/v1/legal-bases/idpl2013_art42", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["valid_to"] == "2025-08-31"
    assert_problem(client.get("/api/v1/legal-bases/nothing", headers=headers), 404)


def test_penalty_check_refused_names_range(client, db):
    headers = bearer(db, "enforcement")
    body = assert_problem(client.post("/api/v1/penalty-checks", headers=headers,
                                      json=check_body(fine_amount=300, act_date="2025-12-31")), 409)
    assert "《中华人民共和国治安管理处罚法》第五十条第一款第（一）项（2006年3月1日起施行，2025年12月31日止）" in body["detail"]
    assert "个人初次违法的裁量基准为：警告；或罚款200元以下" in body["detail"]
    assert body["allowed"] == {"basis_code": "psapl2012_art50_1_1", "combinations": [["warning"], ["fine"]],
                               "min_fine": None, "max_fine": 200, "min_detention_days": None,
                               "max_detention_days": None}


def test_penalty_check_serious_fine_without_detention_is_refused(client, db):
    headers = bearer(db, "enforcement")
    body = assert_problem(client.post("/api/v1/penalty-checks", headers=headers, json=check_body(
        circumstance="serious", fine_amount=800, act_date="2026-02-01")), 409)
    assert "《中华人民共和国治安管理处罚法》第六十一条第一款第（一）项" in body["detail"]
    assert "拟处罚款800元不在允许的处罚组合之内" in body["detail"]
    allowed = client.post("/api/v1/penalty-checks", headers=headers, json=check_body(
        circumstance="serious", penalty_types=["detention", "fine"], fine_amount=800, detention_days=5,
        act_date="2026-02-01"))
    assert allowed.status_code == 200, allowed.get_json()
    assert allowed.get_json()["hearing_right"] is False
    minor = client.post("/api/v1/penalty-checks", headers=headers, json=check_body(
        circumstance="serious", penalty_types=["detention"], fine_amount=None, detention_days=5, party_minor=True,
        act_date="2026-02-01"))
    assert minor.get_json()["hearing_right"] is True


def test_penalty_check_allowed_returns_benchmark(client, db):
    headers = bearer(db, "office")
    response = client.post("/api/v1/penalty-checks", headers=headers,
                           json=check_body(basis_code="idpl2025_art111_1_1", circumstance="refused", party_kind="unit",
                                           penalty_types=["order_correction", "warning", "fine"], fine_amount=20000,
                                           act_date="2025-09-01"))
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert result["code"] == "idpl2025_art111_refused_unit"
    assert result["legal_basis"]["code"] == "idpl2025_art111_1_1"
    assert result["description"] == "责令改正、警告；或责令改正、警告并处罚款10000元以上20000元以下"
    assert result["legal_basis"]["authority_kind"] == "疾病预防控制部门"
    assert result["hearing_right"] is True


@pytest.mark.parametrize("overrides", [{"circumstance": "drunk"}, {"fine_amount": "abc"}, {"colour": "red"},
                                       {"act_date": "tomorrow"}])
def test_penalty_check_bad_body_is_422(client, db, overrides):
    headers = bearer(db, "enforcement")
    assert_problem(client.post("/api/v1/penalty-checks", headers=headers, json=check_body(**overrides)), 422)


def _events(db, action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).filter_by(action=action).order_by(AuditEvent.seq)))


def test_admin_edit_is_audited_and_applies(client, db):
    headers = bearer(db, "admin")
    response = client.patch("/api/v1/legal-bases/psapl2025_art61_1_1", headers=headers, json={
        "benchmarks": [{"code": "psapl2025_art61_first_individual", "max_fine": "400"}]})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["admin_edited"] is True
    (event,) = _events(db, "legal_basis.updated")
    assert event.object_id == "psapl2025_art61_1_1" and event.channel == "api"
    assert event.details["changes"] == {"psapl2025_art61_first_individual.max_fine": {"from": "500", "to": "400"}}
    refused = client.post("/api/v1/penalty-checks", headers=bearer(db, "enforcement"),
                          json=check_body(fine_amount=450, act_date="2026-02-01"))
    assert "罚款400元以下" in assert_problem(refused, 409)["detail"]


def test_non_admin_cannot_edit(client, db):
    for role in ("enforcement", "office"):
        headers = bearer(db, role)
        assert_problem(client.patch("/api/v1/legal-bases/psapl2025_art61_1_1", headers=headers,
                                    json={"text": "改"}), 403)
        assert_problem(client.post("/api/v1/legal-bases", headers=headers, json={}), 403)
    assert _events(db, "legal_basis.updated") == []


@pytest.mark.parametrize(("patch", "fragment"), [
    ({"benchmarks": [{"code": "psapl2025_art61_first_individual", "max_fine": "1001"}]}, "超过该条款对个人的最高罚款 1000元"),
    ({"benchmarks": [{"code": "psapl2025_art61_repeated_individual", "min_fine": "600"}]}, "下限不能高于上限"),
    ({"valid_to": "2025-12-31"}, "失效日期不能早于生效日期"),
    ({"benchmarks": [{"code": "idpl2013_art42_first_unit", "max_fine": "100"}]}, None),
])
def test_edit_breaking_rules_is_refused(client, db, patch, fragment):
    headers = bearer(db, "admin")
    code = "idpl2013_art42" if "idpl2013_art42_first_unit" in str(patch) else "psapl2025_art61_1_1"
    body = assert_problem(client.patch(f"/api/v1/legal-bases/{code}", headers=headers, json=patch), 409)
    if fragment:
        assert fragment in body["detail"]
    db.session.expire_all()
    assert db.session.scalar(select(LegalBasis.admin_edited_at).filter_by(code=code)) is None
    assert _events(db, "legal_basis.updated") == []


NEW_VERSION = {
    "code": "psapl2030_art61_1_1", "provision": "psapl-emergency-order", "law": "中华人民共和国治安管理处罚法",
    "article": "第六十一条第一款第（一）项", "text": "（假设的修订文本）", "authority_kind": "公安机关",
    "authority_source": "（假设）", "penalty_types": ["warning", "fine"],
    "max_fine_individual": "800", "valid_from": "2030-01-01",
    "benchmarks": [{"code": "psapl2030_first_individual", "circumstance": "first", "party_kind": "individual",
                    "combinations": [["warning"], ["fine"]], "max_fine": "800", "valid_from": "2030-01-01"}],
}


def test_new_version_must_not_overlap_then_applies(client, db):
    headers = bearer(db, "admin")
    body = assert_problem(client.post("/api/v1/legal-bases", headers=headers, json=NEW_VERSION), 409)
    assert "有效期重叠" in body["detail"] and "psapl2025_art61_1_1" in body["detail"]
    assert db.session.scalar(select(LegalBasis).filter_by(code="psapl2030_art61_1_1")) is None

    closed = client.patch("/api/v1/legal-bases/psapl2025_art61_1_1", headers=headers, json={"valid_to": "2029-12-31"})
    assert closed.status_code == 200, closed.get_json()
    # Ending the version ended its benchmarks too.
    assert {b["valid_to"] for b in closed.get_json()["benchmarks"]} == {"2029-12-31"}
    created = client.post("/api/v1/legal-bases", headers=headers, json=NEW_VERSION)
    assert created.status_code == 201, created.get_json()
    (event,) = _events(db, "legal_basis.created")
    assert event.object_id == "psapl2030_art61_1_1"

    allowed = client.post("/api/v1/penalty-checks", headers=headers,
                          json=check_body(basis_code="psapl2012_art50_1_1", fine_amount=800, act_date="2030-06-01"))
    assert allowed.status_code == 200, allowed.get_json()
    assert allowed.get_json()["legal_basis"]["code"] == "psapl2030_art61_1_1"


@pytest.mark.parametrize(("change", "status"), [
    ({"colour": "red"}, 422),
    ({"penalty_types": ["caning"]}, 422),
    ({"valid_to": "2020-01-01"}, 422),
    ({"code": "psapl2025_art61_1_1"}, 409),
    ({"benchmarks": [{**NEW_VERSION["benchmarks"][0], "max_fine": "900"}]}, 409),
])
def test_new_version_validated_like_the_file(client, db, change, status):
    headers = bearer(db, "admin")
    body = {**NEW_VERSION, "provision": "test-provision", **change}
    assert_problem(client.post("/api/v1/legal-bases", headers=headers, json=body), status)
    assert _events(db, "legal_basis.created") == []
