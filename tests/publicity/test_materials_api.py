"""Flagging findings and photos as examples through the API; review; venue display decision."""

from __future__ import annotations

import uuid

from material_world import CHECKED_IN_AT, bearer, make_assignment, material_world, world  # noqa: F401

from server.field.models.inspection import Finding, Inspection


def test_office_flags_a_finding_with_its_photos(client, db, material_world):
    office = bearer(material_world.users["office"])
    finding = Finding(uuid=str(uuid.uuid4()), inspection_id=material_world.inspection.id, rule_code="K5",
                      description=f"包厢超员，{material_world.world.venue.operator_name}（13912340000）在场",
                      source="manual", created_at=CHECKED_IN_AT)
    db.session.add(finding)
    db.session.flush()
    material_world.photos[2].finding_id = finding.id
    db.session.commit()
    response = client.post("/api/v1/materials", json={"kind": "negative", "finding_id": finding.id}, headers=office)
    assert response.status_code == 201, response.json
    item = response.json
    assert item["source"] == "finding" and item["state"] == "candidate" and item["venue_display"] == "mask"
    assert len(item["photos"]) == 1 and item["text"] == finding.description
    assert "139****0000" in item["masked_text"] and material_world.world.venue.operator_name not in item["masked_text"]
    shown = client.patch(f"/api/v1/materials/{item['id']}", json={"venue_display": "show"}, headers=office)
    assert shown.status_code == 200 and shown.json["venue"] == material_world.world.venue.name


def test_flagging_photos_needs_a_submitted_inspection_and_its_own_photos(client, db, material_world, make_assignment):
    propaganda = bearer(material_world.users["propaganda"])
    db.session.commit()
    ids = [photo.id for photo in material_world.photos[:2]]
    ok = client.post("/api/v1/materials", json={"kind": "positive", "inspection_id": material_world.inspection.id,
                                                "photo_ids": ids, "text": "入口处扫码测温井然有序。"},
                     headers=propaganda)
    assert ok.status_code == 201 and [p["position"] for p in ok.json["photos"]] == [1, 2]
    assert "text" not in ok.json  # propaganda: the masked view only
    missing_text = client.post("/api/v1/materials", json={"kind": "positive",
                                                          "inspection_id": material_world.inspection.id},
                               headers=propaganda)
    assert missing_text.status_code == 422
    material_world.inspection.status = "draft"
    db.session.commit()
    draft = client.post("/api/v1/materials", json={"kind": "positive", "inspection_id": material_world.inspection.id,
                                                   "text": "草稿"}, headers=propaganda)
    assert draft.status_code == 409
    material_world.inspection.status = "complete"
    other = Inspection(uuid=str(uuid.uuid4()), assignment_id=make_assignment("submitted").id,
                       device_id=str(uuid.uuid4()), inspector_id=material_world.users["team_leader"].id,
                       checked_in_at=CHECKED_IN_AT, status="complete")
    db.session.add(other)
    db.session.commit()
    foreign = client.post("/api/v1/materials", json={"kind": "positive", "inspection_id": other.id, "text": "别处",
                                                     "photo_ids": ids}, headers=propaganda)
    assert foreign.status_code == 422
    unknown = client.post("/api/v1/materials", json={"kind": "positive", "finding_id": 2147483000},
                          headers=propaganda)
    assert unknown.status_code == 422
    assert client.post("/api/v1/materials", json={"kind": "positive", "finding_id": 1},
                       headers=bearer(material_world.users["county"])).status_code == 403
