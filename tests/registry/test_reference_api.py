"""The read-only reference API under /api/v1/reference."""

from __future__ import annotations

import pytest

BASE = "/api/v1/reference"


def get_json(client, path: str, status: int = 200):
    response = client.get(BASE + path)
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_json()


def test_counties(client):
    counties = get_json(client, "/counties")
    assert [c["name"] for c in counties] == ["婺城区", "金东区", "兰溪市", "东阳市", "义乌市", "永康市",
                                             "浦江县", "武义县", "磐安县", "金华开发区"]
    assert isinstance(counties[0].pop("id"), int)
    assert counties[0] == {"code": "wucheng", "name": "婺城区", "kind": "district", "division_code": "330702"}
    assert counties[-1]["division_code"] is None


def test_departments(client):
    departments = {d["code"]: d for d in get_json(client, "/departments")}
    assert departments["psb"]["name"] == "市公安局"
    assert departments["psb"]["is_enforcement_authority"] is True
    assert departments["communications"]["name"] == "市通信发展办"
    assert len(departments) == 17


def test_roster(client):
    roster = get_json(client, "/roster")
    assert len(roster) == 42
    assert roster[0] == {"name": "金盛", "group_role": "leader", "title": "市公安局常务副局长",
                         "department": {"code": "psb", "name": "市公安局"}, "office_role": None,
                         "is_responsible_leader": True}
    by_name = {m["name"]: m for m in roster}
    assert by_name["傅建军"]["office_role"] == "办公室主任"
    assert by_name["施敏玲"]["department"]["code"] == "communications"


def test_duties(client):
    duties = get_json(client, "/duties")
    assert [d["seq"] for d in duties] == list(range(1, 19))
    assert duties[0]["department"] == {"code": "psb", "name": "市公安局"}
    assert duties[16]["party"] == "others" and duties[16]["department"] is None
    assert duties[17]["party"] == "locality"


def test_categories_with_departments_and_rules(client):
    categories = {c["code"]: c for c in get_json(client, "/categories")}
    assert categories["ktv"]["departments"] == [{"code": "culture_tourism", "name": "市文广旅游局"}]
    assert categories["ktv"]["rules"] == ["K1"]
    assert categories["hotel"]["rules"] == ["K7", "K8"]
    assert categories["restaurant"]["responsibility_source"] == "default"
    assert categories["gymnasium"]["group"] == "文化旅游和体育场馆"


def test_rules_with_items_and_checks(client):
    rules = get_json(client, "/rules")
    assert [r["code"] for r in rules] == [f"K{n}" for n in range(1, 12)]
    k5 = next(r for r in rules if r["code"] == "K5")
    assert k5["categories"] == ["restaurant"]
    assert k5["section"] == "三.5"
    assert [i["code"] for i in k5["items"]] == ["k5_takeaway_promoted", "k5_private_room_in_use",
                                                 "k5_private_room_seats", "k5_private_room_diners"]
    assert k5["checks"][0]["expression"] == {
        "<=": [{"var": "obs.k5_private_room_diners"}, {"*": [{"var": "obs.k5_private_room_seats"}, "1/2"]}]}


def test_one_rule(client):
    rule = get_json(client, "/rules/K8")
    choices = rule["items"][2]["choices"]
    assert {"value": "green", "label": "绿码"} in choices
    assert rule["checks"][0]["applies_when"] is None


def test_category_rule_bundle_evaluates_offline(client):
    from rulecheck import VIOLATION, evaluate_rule

    (bundle,) = get_json(client, "/categories/scenic_area/rules")
    assert set(bundle) == {"code", "section", "title", "items", "checks"}
    result = evaluate_rule(bundle, venue={"approved_capacity": 11}, observations={"k3_visitors": 6})
    assert result.verdict == VIOLATION


@pytest.mark.parametrize("path", ["/rules/K99", "/categories/no_such_kind/rules"])
def test_unknown_code_is_problem_404(client, path):
    response = client.get(BASE + path)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == 404
    assert "没有代码为" in body["detail"]


def test_reference_endpoints_are_documented(client):
    spec = client.get("/api/openapi.json").get_json()
    paths = {path: item for path, item in spec["paths"].items() if path.startswith(BASE)}
    assert set(paths) == {f"{BASE}/{p}" for p in (
        "counties", "departments", "roster", "duties", "categories", "categories/{code}/rules", "rules",
        "rules/{code}")}
    for path, item in paths.items():
        operation = item["get"]
        assert operation["summary"], path
        assert "200" in operation["responses"], path
        assert "schema" in operation["responses"]["200"]["content"]["application/json"], path
