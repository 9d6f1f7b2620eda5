"""Propaganda reads no evidence file, not even a photo of its own material: it gets the redacted
images of the material pages only (DESIGN.md §6). Knowing a hash from elsewhere (a bulletin, a
log, another role) gives a 404, as for any unknown hash."""

from __future__ import annotations

from material_world import bearer, make_assignment, material_world, world  # noqa: F401


def test_propaganda_reads_no_evidence_variant_even_of_its_material(client, db, material_world):
    propaganda = bearer(material_world.users["propaganda"])
    office = bearer(material_world.users["office"])
    db.session.commit()
    inside, outside = material_world.photos[0], material_world.photos[1]

    def status(photo, variant="public", headers=propaganda):
        response = client.get(f"/api/v1/evidence/{photo.sha256}/{variant}", headers=headers)
        response.close()  # a sent file stays open until the response is closed
        return response.status_code

    assert status(inside) == 404  # no material yet
    flagged = client.post("/api/v1/materials", json={"kind": "positive", "inspection_id": material_world.inspection.id,
                                                     "photo_ids": [inside.id], "text": "入口处扫码测温井然有序。"},
                          headers=propaganda)
    assert flagged.status_code == 201, flagged.json
    assert status(inside) == 404  # the public variant carries none of the item's redaction boxes
    missing = client.get(f"/api/v1/evidence/{outside.sha256}/public", headers=propaganda)
    assert missing.status_code == 404 and "不在您的范围内" in missing.json["detail"]
    assert status(inside, "print") == 404 and status(inside, "thumbnail") == 404  # public only
    original = client.get(f"/api/v1/evidence/{inside.sha256}", headers=propaganda)
    assert original.status_code == 404
    assert status(outside, headers=office) == 200  # the office reads every photo
