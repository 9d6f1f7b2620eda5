"""The done-when story through the API, and what propaganda cannot reach.

Propaganda composes a bulletin with two positive and two negative examples; the office approves
it; propaganda publishes and downloads the PDF: its text shows no phone number, ID number, plate
or name from the record, and its embedded images carry no GPS (none carries EXIF at all).
"""

from __future__ import annotations

import re
import subprocess

from material_world import (  # noqa: F401  (fixtures)
    assert_no_exif_or_gps,
    bearer,
    make_assignment,
    material_world,
    world,
)

from server.publicity.masking import contains_mobile_number


def run(*command, data=None):
    return subprocess.run(command, input=data, capture_output=True, check=False, timeout=120)


def test_propaganda_composes_office_approves_propaganda_downloads(client, db, material_world, tmp_path):
    office, propaganda = bearer(material_world.users["office"]), bearer(material_world.users["propaganda"])
    db.session.commit()  # the setup survives the rollback of a refused request
    listed = client.get("/api/v1/materials?state=candidate", headers=propaganda)
    assert listed.status_code == 200, listed.json
    ours = [item for item in listed.json if item["title"] and item["county"] == material_world.world.venue.county.name]
    assert sorted(item["kind"] for item in ours) == ["negative", "negative", "positive", "positive"]
    for item in ours:
        assert "text" not in item and "inspection_id" not in item  # the masked view only
        assert not contains_mobile_number(item["masked_text"])
        assert material_world.world.venue.operator_name not in item["masked_text"]
        if item["kind"] == "negative":
            assert item["venue"].startswith("某") and material_world.world.venue.name not in item["masked_text"]
    # propaganda draws a box over a face on the first photo of the first item
    first = ours[0]
    boxed = client.put(f"/api/v1/materials/{first['id']}/photos/1/boxes", json={"boxes": [[0.1, 0.1, 0.3, 0.3]]},
                       headers=propaganda)
    assert boxed.status_code == 200, boxed.json
    assert boxed.json["photos"][0]["boxes"] == [[0.1, 0.1, 0.3, 0.3]]
    image = client.get(boxed.json["photos"][0]["image_url"], headers=propaganda)
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    assert_no_exif_or_gps(image.data)
    image.close()
    # an unapproved item cannot go into a bulletin; the office approves all four
    ids = [item["id"] for item in ours]
    refused = client.post("/api/v1/bulletins", json={"title": "第一季度正反典型", "period_start": "2026-03-01",
                                                      "period_end": "2026-03-31", "item_ids": ids}, headers=propaganda)
    assert refused.status_code == 422
    assert client.post(f"/api/v1/materials/{ids[0]}/review", json={"decision": "approved"},
                       headers=propaganda).status_code == 403
    for item_id in ids:
        reviewed = client.post(f"/api/v1/materials/{item_id}/review", json={"decision": "approved"}, headers=office)
        assert reviewed.status_code == 200 and reviewed.json["state"] == "approved"
    created = client.post("/api/v1/bulletins", json={
        "title": "第一季度正反典型", "period_start": "2026-03-01", "period_end": "2026-03-31", "item_ids": ids,
        "editorial": "现将督查中发现的正反典型通报如下，请各地对照检查。\n举报电话13912345678不应出现。"},
        headers=propaganda)
    assert created.status_code == 201, created.json
    bulletin = created.json
    url = f"/api/v1/bulletins/{bulletin['id']}"
    preview = client.get(f"{url}/preview", headers=propaganda)
    assert preview.status_code == 200 and preview.data.startswith(b"%PDF-")
    assert client.get(f"{url}/pdf", headers=propaganda).status_code == 404  # not published
    assert client.post(f"{url}/transitions", json={"action": "submit"}, headers=propaganda).status_code == 200
    assert client.post(f"{url}/transitions", json={"action": "approve"}, headers=propaganda).status_code == 403
    approved = client.post(f"{url}/transitions", json={"action": "approve"}, headers=office)
    assert approved.status_code == 200 and approved.json["state"] == "approved"
    assert client.post(f"{url}/publish", json={"confirm": False}, headers=propaganda).status_code == 422
    published = client.post(f"{url}/publish", json={"confirm": True}, headers=propaganda)
    assert published.status_code == 200, published.json
    assert re.fullmatch(r"\d{4}年第\d+期", published.json["number"])
    # immutable
    assert client.patch(url, json={"version": published.json["version"], "title": "改"},
                        headers=office).status_code == 409
    assert client.post(f"{url}/transitions", json={"action": "return"}, headers=office).status_code == 409
    assert client.post(f"{url}/publish", json={"confirm": True}, headers=office).status_code == 409
    download = client.get(f"{url}/pdf", headers=propaganda)
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    pdf = tmp_path / "bulletin.pdf"
    pdf.write_bytes(download.data)
    download.close()
    text = run("pdftotext", "-enc", "UTF-8", str(pdf), "-").stdout.decode()
    flat = "".join(text.split())
    assert "先进典型" in flat and "反面典型" in flat and published.json["number"][5:] in flat
    assert not contains_mobile_number(text) and "330702199001011234" not in flat
    assert material_world.world.venue.operator_name not in flat
    assert run("qpdf", "--check", str(pdf)).returncode == 0
    # every embedded image: a JPEG with no EXIF and no GPS
    out = tmp_path / "img"
    assert run("pdfimages", "-all", str(pdf), str(out)).returncode == 0
    images = sorted(tmp_path.glob("img-*"))
    # a note's candidate carries its inspection's photos: 4 items × 4 photos
    assert len(images) == sum(len(item["photos"]) for item in ours) == 16
    for path in images:
        assert_no_exif_or_gps(path.read_bytes())


def test_propaganda_cannot_reach_originals_gps_or_unpublished_issues_by_guessing(client, db, material_world):
    office, propaganda = bearer(material_world.users["office"]), bearer(material_world.users["propaganda"])
    other_propaganda = bearer(material_world.users["propaganda"])
    db.session.commit()  # the setup survives the rollback of a refused request
    items = client.get("/api/v1/materials", headers=office).json
    ours = [item for item in items if item.get("inspection_id") == material_world.inspection.id]
    assert ours and "text" in ours[0]  # the office sees the text as written
    for item in ours:
        client.post(f"/api/v1/materials/{item['id']}/review", json={"decision": "approved"}, headers=office)
    draft = client.post("/api/v1/bulletins", json={"title": "办公室草稿", "period_start": "2026-03-01",
                                                    "period_end": "2026-03-31", "item_ids": [ours[0]["id"]]},
                        headers=office).json
    photo = material_world.photos[0]
    sha = photo.evidence_file.sha256
    for path in (f"/api/v1/evidence/{sha}", f"/api/v1/evidence/{sha}/print", f"/api/v1/evidence/{sha}/thumbnail",
                 f"/api/v1/bulletins/{draft['id']}", f"/api/v1/bulletins/{draft['id']}/pdf",
                 f"/api/v1/bulletins/{draft['id']}/preview", f"/api/v1/bulletins/{draft['id'] + 1000}",
                 f"/api/v1/materials/{ours[0]['id'] + 100000}", f"/api/v1/materials/{ours[0]['id']}/photos/99/image",
                 "/api/v1/materials/abc", "/api/v1/bulletins/99999999999"):
        response = client.get(path, headers=propaganda)
        assert response.status_code == 404, (path, response.status_code)
    # a rejected item disappears for propaganda
    client.post(f"/api/v1/materials/{ours[1]['id']}/review", json={"decision": "rejected"}, headers=office)
    assert client.get(f"/api/v1/materials/{ours[1]['id']}", headers=propaganda).status_code == 404
    # no GPS or coordinates anywhere in what propaganda reads
    body = client.get(f"/api/v1/materials/{ours[0]['id']}", headers=other_propaganda).get_data(as_text=True)
    assert "29.07" not in body and "119.64" not in body and sha not in body
    assert client.get("/api/v1/materials", headers=bearer(material_world.users["county"])).status_code == 403


def test_bad_input_is_a_clear_problem(client, db, material_world):
    propaganda = bearer(material_world.users["propaganda"])
    db.session.commit()  # the setup survives the rollback of a refused request
    response = client.post("/api/v1/bulletins", json={"title": "x", "period_start": "2026-03-31",
                                                       "period_end": "2026-03-01", "junk": 1}, headers=propaganda)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    response = client.post("/api/v1/bulletins", json={"title": "x", "period_start": "2026-03-31",
                                                       "period_end": "2026-03-01"}, headers=propaganda)
    assert response.status_code == 422 and "period_end" in response.json["errors"]
    response = client.post("/api/v1/materials", json={"kind": "positive"}, headers=propaganda)
    assert response.status_code == 422
