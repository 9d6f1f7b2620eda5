"""/api/v1/violations and /api/v1/cases: queue, decline, open, list with filters, detail, transitions."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from case_world import PERSON, UNIT, case_world, make_assignment, make_inspection, world  # noqa: F401

from server.accounts.auth import issue_device_token
from server.columns import utcnow
from server.enforcement import case_transitions
from server.enforcement.models.case import EnforcementCase
from server.extensions import db as _db

CASES = "/api/v1/cases"
VIOLATIONS = "/api/v1/violations"
IDPL = "idpl2025_art111_1_1"  # 传染病防治法 第一百一十一条, in force on the act date (2026-03-10)
# 传染病防治法 第一百一十一条: 责令改正 and 警告 always, the fine "可以并处".
WARNED = ["order_correction", "warning"]
FINED = ["order_correction", "warning", "fine"]


def bearer(user) -> dict:
    raw, token = issue_device_token(user, "测试终端", channel="api")
    token.last_used_at = utcnow()
    # Committed (a savepoint here): an error answer rolls back the request's transaction.
    _db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def officer(case_world):
    return bearer(case_world.officers[0])


def open_body(cw, violations=None, **overrides) -> dict:
    body = {"violation_ids": [v.id for v in (violations or cw.violations)], "officers": [o.id for o in cw.officers],
            "party": UNIT, "circumstance": "first"}
    body.update(overrides)
    return body


def opened(client, cw, headers, **overrides) -> dict:
    response = client.post(CASES, headers=headers, json=open_body(cw, **overrides))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_violation_queue_filters_and_decline(client, db, case_world, officer):
    cw = case_world
    ids = {v["id"] for v in client.get(VIOLATIONS, headers=officer).get_json()}
    assert {v.id for v in cw.violations} | {cw.other_violation.id} <= ids
    by_county = client.get(VIOLATIONS, headers=officer, query_string={"county_id": cw.world.venue.county_id})
    assert {v["id"] for v in by_county.get_json()} == {v.id for v in cw.violations}
    department = cw.world.other_venue.category.departments[0]
    by_department = client.get(VIOLATIONS, headers=officer, query_string={"department_id": department.id})
    assert {v["id"] for v in by_department.get_json()} == {cw.other_violation.id}
    by_rule = client.get(VIOLATIONS, headers=officer, query_string={"rule": "K5", "county_id":
                                                                     cw.world.other_venue.county_id})
    assert [v["id"] for v in by_rule.get_json()] == [cw.other_violation.id]
    assert client.get(VIOLATIONS, headers=officer, query_string={"colour": "red"}).status_code == 422

    response = client.post(f"{VIOLATIONS}/decline", headers=officer,
                           json={"violation_ids": [cw.other_violation.id], "reason": "已当场整改"})
    assert response.status_code == 200 and response.get_json() == {"declined": [cw.other_violation.id]}
    assert cw.other_violation.id not in {v["id"] for v in client.get(VIOLATIONS, headers=officer).get_json()}
    again = client.post(f"{VIOLATIONS}/decline", headers=officer,
                        json={"violation_ids": [cw.other_violation.id], "reason": "再次"})
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    empty = client.post(f"{VIOLATIONS}/decline", headers=officer, json={"violation_ids": [cw.violations[0].id]})
    assert empty.status_code == 422 and "reason" in empty.get_json()["errors"]


def test_open_case_and_read_it_with_photos_history_and_next_states(client, db, case_world, officer):
    cw = case_world
    case = opened(client, cw, officer)
    assert case["state"] == "filed" and case["version"] == 1 and case["state_label"] == "立案"
    assert case["allowed_transitions"] == ["investigating", "revoked"]
    assert [o["certificate_no"] for o in case["officers"]] == [o.enforcement_certificate_no for o in cw.officers]
    detail = client.get(f"{CASES}/{case['id']}", headers=officer).get_json()
    assert {p["sha256"] for p in detail["photos"]} == {p.sha256 for p in cw.photos}
    assert {v["id"] for v in detail["violations"]} == {v.id for v in cw.violations}
    assert [(h["from_state"], h["to_state"], h["actor"]) for h in detail["history"]] == [
        (None, "filed", cw.officers[0].username)]
    assert detail["act_date"] == "2026-03-10"
    # The violations have left the queue.
    assert not {v.id for v in cw.violations} & {v["id"] for v in client.get(VIOLATIONS, headers=officer).get_json()}
    assert client.get(f"{CASES}/{2**31 - 1}", headers=officer).status_code == 404


@pytest.mark.parametrize("change, field", [
    ({"officers": "one"}, "officers"),
    ({"officers": "inspector"}, "officers"),
    ({"officers": "uncertified"}, "officers"),
    ({"party": {"kind": "unit", "unit_name": "某公司"}}, "party.credit_code"),
    ({"circumstance": "bad"}, "circumstance"),
    ({"surprise": 1}, "surprise"),
])
def test_open_case_refuses_bad_input_with_422(client, db, case_world, officer, change, field):
    cw = case_world
    officers = {"one": [cw.officers[0].id], "inspector": [cw.officers[0].id, cw.users["team_leader"].id],
                "uncertified": [cw.officers[0].id, cw.uncertified.id]}
    body = open_body(cw)
    for key, value in change.items():
        body[key] = officers[value] if key == "officers" else value
    response = client.post(CASES, headers=officer, json=body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]
    assert db.session.scalar(sa.select(sa.func.count(EnforcementCase.id))) == 0


def test_a_violation_in_a_live_case_is_409(client, db, case_world, officer):
    opened(client, case_world, officer)
    response = client.post(CASES, headers=officer, json=open_body(case_world, violations=case_world.violations[:1]))
    assert response.status_code == 409 and "已在办理中的案件" in response.get_json()["detail"]


def test_transitions_through_the_api(client, db, case_world, officer):
    case = opened(client, case_world, officer, party=PERSON)
    url = f"{CASES}/{case['id']}/transitions"
    # An individual's first offence: at most 200 yuan, no hearing right.
    steps = [
        {"to": "investigating"},
        {"to": "notified", "proposed_penalty": {"types": FINED, "fine_amount": 200, "basis_code": IDPL},
         "notified_on": "2026-03-13"},
        {"to": "decided", "decided_penalty": {"types": FINED, "fine_amount": 200, "basis_code": IDPL},
         "decided_on": "2026-03-19"},
        {"to": "served", "served_on": "2026-03-20", "service_method": "direct"},
        {"to": "executed", "outcome": "paid", "paid_amount": 200, "paid_on": "2026-03-24"},
        {"to": "closed", "note": "罚款已缴清"},
    ]
    version = case["version"]
    for step in steps:
        response = client.post(url, headers=officer, json=dict(step, version=version))
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["state"] == step["to"] and body["version"] == version + 1
        version = body["version"]
    assert body["statement_deadline"] == "2026-03-18" and body["hearing_offered"] is False
    assert body["decided_penalty"] == {"types": FINED, "fine_amount": 200,
                                       "detention_days": None, "basis_code": IDPL,
                                       "description": "责令改正、警告并处罚款200元"}
    assert [h["to_state"] for h in body["history"]] == ["filed"] + [s["to"] for s in steps]
    assert body["allowed_transitions"] == []


def test_hearing_right_through_the_api(client, db, case_world, officer):
    """A unit that refused: the benchmark's lowest fine (10000) is the unit's hearing threshold."""
    case = opened(client, case_world, officer, circumstance="refused")
    url = f"{CASES}/{case['id']}/transitions"
    assert client.post(url, headers=officer, json={"to": "investigating", "version": 1}).status_code == 200
    response = client.post(url, headers=officer, json={
        "to": "notified", "version": 2, "notified_on": "2026-03-13",
        "proposed_penalty": {"types": FINED, "fine_amount": 10000, "basis_code": IDPL}})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["hearing_offered"] is True and body["hearing_request_deadline"] == "2026-03-18"


@pytest.mark.parametrize("party, circumstance, amount, range_text, allowed", [
    (PERSON, "first", 5000, "罚款200元以下；拟处责令改正、警告并处罚款5000元，罚款超出该范围", {"min_fine": None, "max_fine": 200}),
    (UNIT, "refused", 9999, "罚款10000元以上20000元以下；拟处责令改正、警告并处罚款9999元，罚款超出该范围",
     {"min_fine": 10000, "max_fine": 20000}),
], ids=["individual-first-5000", "unit-refused-9999"])
def test_penalty_outside_the_benchmark_is_409_naming_the_range(client, db, case_world, officer, party,
                                                                circumstance, amount, range_text, allowed):
    case = opened(client, case_world, officer, party=party, circumstance=circumstance)
    url = f"{CASES}/{case['id']}/transitions"
    assert client.post(url, headers=officer, json={"to": "investigating", "version": 1}).status_code == 200
    response = client.post(url, headers=officer, json={
        "to": "notified", "version": 2, "notified_on": "2026-03-13",
        "proposed_penalty": {"types": FINED, "fine_amount": amount, "basis_code": IDPL}})
    assert response.status_code == 409 and response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert "《中华人民共和国传染病防治法》第一百一十一条第一款第（一）项（2025年9月1日起施行）" in problem["detail"]
    assert range_text in problem["detail"]
    assert problem["allowed"] == {"basis_code": IDPL, "combinations": [["order_correction", "warning"],
                                                                       ["order_correction", "warning", "fine"]],
                                  "min_detention_days": None, "max_detention_days": None, **allowed}
    stored = client.get(f"{CASES}/{case['id']}", headers=officer).get_json()
    assert (stored["state"], stored["version"], stored["proposed_penalty"]) == ("investigating", 2, None)
    assert [h["to_state"] for h in stored["history"]] == ["filed", "investigating"]


def test_basis_code_of_an_old_version_is_recorded_as_the_one_in_force(client, db, case_world, officer):
    case = opened(client, case_world, officer, party=PERSON)
    url = f"{CASES}/{case['id']}/transitions"
    assert client.post(url, headers=officer, json={"to": "investigating", "version": 1}).status_code == 200
    # 治安管理处罚法 2012 第五十条 (≤ 200) ended 2025-12-31: the act of 2026-03-10 falls under 2025 第六十一条 (≤ 500).
    response = client.post(url, headers=officer, json={
        "to": "notified", "version": 2, "notified_on": "2026-03-13",
        "proposed_penalty": {"types": ["fine"], "fine_amount": 500, "basis_code": "psapl2012_art50_1_1"}})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["proposed_penalty"] == {"types": ["fine"], "fine_amount": 500, "detention_days": None,
                                                       "basis_code": "psapl2025_art61_1_1", "description": "罚款500元"}
    unknown = client.post(url, headers=officer, json={
        "to": "decided", "version": 3, "decided_on": "2026-03-19",
        "decided_penalty": {"types": ["fine"], "fine_amount": 500, "basis_code": "no-such-law"}})
    # A code in the body that names no law is a bad body (422 naming the field), not a missing resource.
    assert unknown.status_code == 422 and unknown.mimetype == "application/problem+json"
    errors = unknown.get_json()["errors"]
    assert list(errors) == ["decided_penalty.basis_code"] and "no-such-law" in errors["decided_penalty.basis_code"][0]
    assert client.get(f"{CASES}/{case['id']}", headers=officer).get_json()["state"] == "notified"


def test_refused_transition_and_stale_version_are_409(client, db, case_world, officer):
    case = opened(client, case_world, officer)
    url = f"{CASES}/{case['id']}/transitions"
    refused = client.post(url, headers=officer, json={"to": "closed", "version": 1})
    assert refused.status_code == 409
    problem = refused.get_json()
    assert problem["allowed"] == ["investigating", "revoked"]
    assert "调查取证" in problem["detail"] and "撤销" in problem["detail"] and "结案" in problem["detail"]
    assert client.post(url, headers=officer, json={"to": "investigating", "version": 1}).status_code == 200
    stale = client.post(url, headers=officer, json={"to": "revoked", "version": 1, "reason": "重复立案"})
    assert stale.status_code == 409 and stale.get_json()["current_version"] == 2
    missing = client.post(url, headers=officer, json={"to": "revoked", "version": 2})
    assert missing.status_code == 422 and "reason" in missing.get_json()["errors"]
    unknown = client.post(url, headers=officer, json={"to": "paradise", "version": 2})
    assert unknown.status_code == 422


def test_case_list_filters_and_pagination(client, db, case_world, officer, make_inspection):
    cw = case_world
    first = opened(client, cw, officer)
    second = opened(client, cw, officer, violations=[cw.other_violation], party=PERSON)
    extra_ids = []
    for _ in range(2):
        _, [violation] = make_inspection(checks=("k1_closed",))
        extra_ids.append(opened(client, cw, officer, violations=[violation])["id"])
    case = db.session.get(EnforcementCase, second["id"])
    case_transitions.transition(case, "investigating", actor=cw.officers[0], version=1)
    case_transitions.transition(case, "notified", actor=cw.officers[0], version=2, notified_on=date(2026, 3, 13),
                                proposed_penalty={"types": WARNED, "fine_amount": None, "basis_code": IDPL})
    _db.session.commit()

    def ids(**query):
        response = client.get(CASES, headers=officer, query_string=query)
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["items"]]

    assert ids(state="notified") == [second["id"]]
    assert set(ids(county_id=cw.world.venue.county_id)) == {first["id"], *extra_ids}
    department = cw.world.other_venue.category.departments[0]
    assert ids(department_id=department.id) == [second["id"]]
    assert ids(overdue="true") == [second["id"]]
    assert second["id"] not in ids(overdue="false")
    page = client.get(CASES, headers=officer, query_string={"per_page": 3, "page": 2}).get_json()
    assert page["total"] == 4 and page["page"] == 2 and len(page["items"]) == 1
    assert page["items"][0]["id"] == first["id"]  # newest first
    assert client.get(CASES, headers=officer, query_string={"state": "lost"}).status_code == 422


@pytest.mark.parametrize("role, status", [("inspector", 403), ("department", 403), ("office", 200)])
def test_who_reads_cases(client, db, case_world, officer, role, status):
    case = opened(client, case_world, officer)
    user = next(u for u in case_world.users.values() if u.role == role)
    headers = bearer(user)
    assert client.get(CASES, headers=headers).status_code == status
    assert client.get(f"{CASES}/{case['id']}", headers=headers).status_code == status
    assert client.get(VIOLATIONS, headers=headers).status_code == status
    acting = client.post(f"{CASES}/{case['id']}/transitions", headers=headers, json={"to": "investigating",
                                                                                     "version": 1})
    assert acting.status_code == 403
    assert client.post(CASES, headers=headers, json=open_body(case_world)).status_code == 403


def test_a_detention_for_a_unit_is_refused_naming_the_article(client, db, case_world, officer):
    case = opened(client, case_world, officer)
    url = f"{CASES}/{case['id']}/transitions"
    assert client.post(url, headers=officer, json={"to": "investigating", "version": 1}).status_code == 200
    response = client.post(url, headers=officer, json={
        "to": "notified", "version": 2, "notified_on": "2026-03-13",
        "proposed_penalty": {"types": ["detention"], "detention_days": 5, "basis_code": "psapl2025_art61_1_1"}})
    assert response.status_code == 409 and response.mimetype == "application/problem+json"
    assert "《中华人民共和国治安管理处罚法》第六十一条" in response.get_json()["detail"]
    assert "行政拘留只能对个人适用" in response.get_json()["detail"]
    unknown = client.post(url, headers=officer, json={
        "to": "notified", "version": 2, "notified_on": "2026-03-13",
        "proposed_penalty": {"types": ["caning"], "basis_code": IDPL}})
    assert unknown.status_code == 422
    assert "detention（行政拘留）" in unknown.get_json()["errors"]["proposed_penalty"]["types"]["0"][0]


