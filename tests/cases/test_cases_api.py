"""/api/v1/violations and /api/v1/cases: queue, decline, open, list with filters, detail, transitions."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from case_world import PERSON, UNIT, case_world, make_assignment, make_inspection, world  # noqa: F401

from server.extensions import db as _db
from server.models import EnforcementCase
from server.models.base import utcnow
from server.services import cases as service
from server.services.auth import issue_device_token

CASES = "/api/v1/cases"
VIOLATIONS = "/api/v1/violations"


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
    steps = [
        {"to": "investigating"},
        {"to": "notified", "proposed_penalty": {"type": "fine", "amount": 500, "basis_code": "idpl2025_art111_1_1"},
         "notified_on": "2026-03-13"},
        {"to": "decided", "decided_penalty": {"type": "fine", "amount": 500, "basis_code": "idpl2025_art111_1_1"},
         "decided_on": "2026-03-19"},
        {"to": "served", "served_on": "2026-03-20", "service_method": "direct"},
        {"to": "executed", "outcome": "paid", "paid_amount": 500, "paid_on": "2026-03-24"},
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
    assert [h["to_state"] for h in body["history"]] == ["filed"] + [s["to"] for s in steps]
    assert body["allowed_transitions"] == []


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
    service.transition(case, "investigating", actor=cw.officers[0], version=1)
    service.transition(case, "notified", actor=cw.officers[0], version=2, notified_on=date(2026, 3, 13),
                       proposed_penalty={"type": "warning", "amount": None, "basis_code": "X"})
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
