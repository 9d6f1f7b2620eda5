"""/api/v1/venues: office and admin register, edit and close venues (401/403/404/409/422
problems in Chinese), every change versioned and audited; a closed venue is not drawn;
the reference answers carry the ids other answers refer to."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from server.audit.models.audit import AuditEvent
from server.columns import utcnow
from server.draws.candidates import snapshot_venues
from server.registry.models.reference import County, Department, VenueCategory
from server.registry.models.venue import Venue, VenueVersion

from venue_helpers import assert_problem, bearer, broken_check, credit_code, person

BASE = "/api/v1/venues"


def serial() -> int:
    return uuid.uuid4().int % 10_000_000


def body(**overrides) -> dict:
    tag = uuid.uuid4().hex[:6]
    values = {"name": f"星光KTV{tag}", "category": "ktv", "county": "婺城区", "town": "城东街道",
              "address": f"八一北街{tag}号", "operator_name": "李四", "credit_code": credit_code(serial()),
              "rooms": [{"name": "包厢A", "seats": 12}, {"name": "包厢B", "seats": 8}],
              "longitude": 119.6478, "latitude": 29.079}
    values.update(overrides)
    return values


@pytest.fixture
def office(db):
    return person(db, "office")


@pytest.fixture
def headers(db, office):
    return bearer(db, office)


def events(db, venue_id: int) -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.object_type == "venue",
                                                          AuditEvent.object_id == str(venue_id))
                              .order_by(AuditEvent.seq)).all()


def test_create_edit_close_with_versions_and_audit(client, db, office, headers):
    created = client.post(BASE, json=body(), headers=headers)
    assert created.status_code == 201, created.get_data(as_text=True)
    venue = created.get_json()
    assert venue["category"]["code"] == "ktv" and venue["county"]["code"] == "wucheng"
    assert venue["rooms"] == [{"name": "包厢A", "seats": 12}, {"name": "包厢B", "seats": 8}]
    assert venue["longitude"] == "119.647800" and venue["closed_at"] is None

    edited = client.patch(f"{BASE}/{venue['id']}", json={"rooms": [{"name": "包厢A", "seats": 10}],
                                                          "address": "八一北街 1 号"}, headers=headers)
    assert edited.status_code == 200, edited.get_data(as_text=True)
    assert edited.get_json()["rooms"] == [{"name": "包厢A", "seats": 10}]
    assert edited.get_json()["name"] == venue["name"]

    closed = client.post(f"{BASE}/{venue['id']}/close", json={"reason": "已停业注销营业执照"}, headers=headers)
    assert closed.status_code == 200 and closed.get_json()["closed_at"] is not None

    versions = db.session.scalars(sa.select(VenueVersion).where(VenueVersion.venue_id == venue["id"])
                                  .order_by(VenueVersion.version)).all()
    assert [(v.version, v.change) for v in versions] == [(1, "created"), (2, "updated"), (3, "closed")]
    assert versions[0].values["rooms"] == venue["rooms"] and versions[0].values["address"] == venue["address"]
    assert versions[1].values["address"] == "八一北街 1 号" and versions[1].values["rooms"][0]["seats"] == 10
    assert versions[2].values["closed_reason"] == "已停业注销营业执照"
    assert all(v.changed_by_id == office.id for v in versions)

    listed = client.get(f"{BASE}/{venue['id']}/versions", headers=headers).get_json()
    assert [v["change"] for v in listed] == ["created", "updated", "closed"]

    created_event, updated_event, closed_event = events(db, venue["id"])
    assert created_event.action == "venue.created" and created_event.details["before"] is None
    assert created_event.details["after"]["credit_code"] == venue["credit_code"]
    # The operator's name is personal data: the unchangeable audit log says only that it is there.
    assert created_event.details["after"]["operator_name"] != "李四"
    assert updated_event.details["before"]["address"] == venue["address"]
    assert updated_event.details["after"] == {"address": "八一北街 1 号", "rooms": [{"name": "包厢A", "seats": 10}]}
    assert closed_event.action == "venue.closed" and closed_event.details["after"]["closed_reason"]


def test_problems_401_403_404_422(client, db, headers):
    assert_problem(client.post(BASE, json=body()), 401)
    for role in ("inspector", "auditor", "county", "propaganda"):
        assert_problem(client.post(BASE, json=body(), headers=bearer(db, person(db, role))), 403)
    assert_problem(client.get(f"{BASE}/999999999", headers=headers), 404)
    assert_problem(client.patch(f"{BASE}/999999999", json={"name": "新名称"}, headers=headers), 404)
    assert_problem(client.post(f"{BASE}/999999999/close", json={"reason": "停业注销"}, headers=headers), 404)

    problem = assert_problem(client.post(BASE, json=body(credit_code=broken_check(credit_code(12345)),
                                                         longitude=121.5, name=""), headers=headers), 422)
    assert problem["errors"]["credit_code"] == ["统一社会信用代码校验位不符，请核对。"]
    assert "不在金华市范围内" in problem["errors"]["longitude"][0]
    assert problem["errors"]["name"] == ["请填写名称。"]
    # Z is not in the standard's character set (GB 32100 leaves out I, O, S, V, Z): said so, not "须为 18 位".
    problem = assert_problem(client.post(BASE, json=body(credit_code="91330782MA2ABCDZ1X"), headers=headers), 422)
    assert "不含 I、O、S、V、Z" in problem["errors"]["credit_code"][0]
    problem = assert_problem(client.post(BASE, json=body(credit_code="91330782MA2ABCDE1X"), headers=headers), 422)
    assert problem["errors"]["credit_code"] == ["统一社会信用代码校验位不符，请核对。"]
    problem = assert_problem(client.post(BASE, json=body(category="剧院"), headers=headers), 422)
    assert "没有名称或代码为“剧院”的场所类别" in problem["errors"]["category"][0]
    # A theatre is checked against half its 核定人数 (K3): it must be registered.
    problem = assert_problem(client.post(BASE, json=body(category="theatre", rooms=[]), headers=headers), 422)
    assert "须登记核定人数" in problem["errors"]["approved_capacity"][0]
    problem = assert_problem(client.post(BASE, json=body(category="theatre", approved_capacity=800),
                                         headers=headers), 422)
    assert "不登记包厢座位数" in problem["errors"]["rooms"][0]
    assert_problem(client.post(BASE, json=body(unknown_field=1), headers=headers), 422)
    assert_problem(client.get(BASE, query_string={"per_page": 1000}, headers=headers), 422)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Venue).where(Venue.name == "")) == 0


def test_duplicates_refused_409_or_merged_on_request(client, db, headers):
    first = client.post(BASE, json=body(), headers=headers).get_json()
    same_code = body(credit_code=first["credit_code"])
    problem = assert_problem(client.post(BASE, json=same_code, headers=headers), 409)
    assert problem["venue_ids"] == [first["id"]] and "已登记在场所" in problem["errors"]["credit_code"][0]
    same_place = body(name=first["name"], address=first["address"], credit_code=None)
    problem = assert_problem(client.post(BASE, json=same_place, headers=headers), 409)
    assert "同名同地址" in problem["errors"]["address"][0]

    merged = client.post(BASE, json=same_code | {"merge": True, "operator_name": "王五"}, headers=headers)
    assert merged.status_code == 200 and merged.get_json()["id"] == first["id"]
    assert merged.get_json()["name"] == same_code["name"]
    versions = db.session.scalars(sa.select(VenueVersion.change).where(VenueVersion.venue_id == first["id"])
                                  .order_by(VenueVersion.version)).all()
    assert versions == ["created", "merged"]

    other = client.post(BASE, json=body(), headers=headers).get_json()
    problem = assert_problem(client.patch(f"{BASE}/{other['id']}", json={"credit_code": first["credit_code"]},
                                          headers=headers), 409)
    assert problem["venue_ids"] == [first["id"]]


def test_closed_venue_conflicts_and_is_not_drawn(client, db, headers):
    venue = client.post(BASE, json=body(), headers=headers).get_json()
    kept = client.post(BASE, json=body(), headers=headers).get_json()
    county = db.session.scalar(sa.select(County).where(County.code == "wucheng"))
    category = db.session.scalar(sa.select(VenueCategory).where(VenueCategory.code == "ktv"))
    since = utcnow() - timedelta(days=90)
    before = {c.id for c in snapshot_venues([county.id], [category.id], since)}
    assert {venue["id"], kept["id"]} <= before

    assert_problem(client.post(f"{BASE}/{venue['id']}/close", json={"reason": "关"}, headers=headers), 422)
    assert client.post(f"{BASE}/{venue['id']}/close", json={"reason": "已停业注销"}, headers=headers).status_code == 200
    assert_problem(client.post(f"{BASE}/{venue['id']}/close", json={"reason": "已停业注销"}, headers=headers), 409)
    assert_problem(client.patch(f"{BASE}/{venue['id']}", json={"name": "改名"}, headers=headers), 409)

    after = {c.id for c in snapshot_venues([county.id], [category.id], since)}
    assert venue["id"] not in after and kept["id"] in after
    # A closed venue no longer blocks registering the same unit again.
    again = client.post(BASE, json=body(credit_code=venue["credit_code"]), headers=headers)
    assert again.status_code == 201


def test_list_pages_and_filters(client, db, headers):
    tag = uuid.uuid4().hex[:6]
    made = [client.post(BASE, json=body(name=f"筛选{tag}{n}号", county="jindong"), headers=headers).get_json()
            for n in range(5)]
    client.post(f"{BASE}/{made[0]['id']}/close", json={"reason": "已停业注销"}, headers=headers)
    page = client.get(BASE, query_string={"q": f"筛选{tag}", "per_page": 2, "page": 2}, headers=headers).get_json()
    assert page["total"] == 4 and page["pages"] == 2 and page["page"] == 2 and page["per_page"] == 2
    assert [v["id"] for v in page["items"]] == [made[3]["id"], made[4]["id"]]
    closed = client.get(BASE, query_string={"q": f"筛选{tag}", "state": "closed"}, headers=headers).get_json()
    assert [v["id"] for v in closed["items"]] == [made[0]["id"]]
    other = client.get(BASE, query_string={"q": f"筛选{tag}", "county": "wucheng"}, headers=headers).get_json()
    assert other["total"] == 0
    # A county viewer reads only its own county's venues.
    jindong = db.session.scalar(sa.select(County).where(County.code == "jindong"))
    viewer = bearer(db, person(db, "county", county=jindong))
    assert client.get(BASE, query_string={"q": f"筛选{tag}"}, headers=viewer).get_json()["total"] == 4
    wucheng = db.session.scalar(sa.select(County).where(County.code == "wucheng"))
    outsider = bearer(db, person(db, "county", county=wucheng))
    assert client.get(BASE, query_string={"q": f"筛选{tag}"}, headers=outsider).get_json()["total"] == 0


def test_reference_answers_carry_the_ids_other_answers_use(client, db):
    departments = {d["id"]: d["code"] for d in client.get("/api/v1/reference/departments").get_json()}
    psb = db.session.scalar(sa.select(Department).where(Department.code == "psb"))
    assert departments[psb.id] == "psb"
    ktv = db.session.scalar(sa.select(VenueCategory).where(VenueCategory.code == "ktv"))
    # The department_ids of a violation are the ids of its category's departments.
    category = {c["code"]: c for c in client.get("/api/v1/reference/categories").get_json()}["ktv"]
    assert category["id"] == ktv.id
    assert {d.id for d in ktv.departments} <= set(departments)
    counties = {c["code"]: c["id"] for c in client.get("/api/v1/reference/counties").get_json()}
    assert counties["wucheng"] == db.session.scalar(sa.select(County.id).where(County.code == "wucheng"))
