"""Material and bulletin pages: propaganda sees masked text and redacted images, draws boxes with
the plain form, composes; the office approves; propaganda publishes (with confirmation) and
downloads; unpublished issues of others and originals are 404; navigation per role."""

from __future__ import annotations

import subprocess

from material_world import assert_no_exif_or_gps, make_assignment, material_world, world  # noqa: F401
from web_session import csrf, login

from server.extensions import db as _db
from server.publicity import materials
from server.publicity.masking import contains_mobile_number
from server.publicity.models.material import Bulletin, MaterialItem


def our_items(material_world):
    return list(_db.session.scalars(_db.select(MaterialItem).where(
        MaterialItem.inspection_id == material_world.inspection.id).order_by(MaterialItem.id)))


def test_library_pages_for_propaganda_and_office(app, client, db, material_world):
    propaganda, office = material_world.users["propaganda"], material_world.users["office"]
    login(client, propaganda)
    page = client.get("/materials").get_data(as_text=True)
    assert "典型材料" in page and 'href="/bulletins"' in page
    items = our_items(material_world)
    assert len(items) == 4
    negative = next(item for item in items if item.kind == "negative" and "浙G" in item.text)
    detail = client.get(f"/materials/{negative.id}").get_data(as_text=True)
    assert "浙G·***45" in detail and "浙G·12345" not in detail
    assert not contains_mobile_number(detail) and "原始记录" not in detail
    assert material_world.world.venue.name not in detail and material_world.world.venue.operator_name not in detail
    assert "redact.js" in detail
    # the plain-form fallback: one box per line
    token = csrf(client, f"/materials/{negative.id}")
    response = client.post(f"/materials/{negative.id}/photos/1/boxes",
                           data={"p1-csrf_token": token, "p1-boxes": "0.1, 0.1, 0.2, 0.2\n0.5，0.5，0.3，0.3"})
    assert response.status_code == 302
    _db.session.refresh(negative.photos[0])
    assert negative.photos[0].boxes == [[0.1, 0.1, 0.2, 0.2], [0.5, 0.5, 0.3, 0.3]]
    bad = client.post(f"/materials/{negative.id}/photos/1/boxes", data={"p1-csrf_token": token, "p1-boxes": "1, 2"},
                      follow_redirects=True)
    assert "遮挡框" in bad.get_data(as_text=True) and negative.photos[0].boxes_version == 1
    image = client.get(f"/materials/{negative.id}/photos/1/image")
    assert image.status_code == 200
    assert_no_exif_or_gps(image.data)
    image.close()
    # propaganda cannot review, cannot reach the original
    assert client.post(f"/materials/{negative.id}/review", data={"csrf_token": token,
                                                                 "decision": "approved"}).status_code == 403
    sha = negative.photos[0].photo.evidence_file.sha256
    assert client.get(f"/api/v1/evidence/{sha}").status_code in (401, 404)
    # the office sees the text as written and approves
    login(client, office)
    detail = client.get(f"/materials/{negative.id}").get_data(as_text=True)
    assert "原始记录" in detail and "浙G·12345" in detail
    token = csrf(client, f"/materials/{negative.id}")
    for item in items:
        assert client.post(f"/materials/{item.id}/review", data={"csrf_token": token,
                                                                 "decision": "approved"}).status_code == 302
    assert {item.state for item in our_items(material_world)} == {"approved"}


def test_compose_approve_publish_download_through_the_pages(app, client, db, material_world, tmp_path):
    propaganda, office = material_world.users["propaganda"], material_world.users["office"]
    materials.collect_note_candidates(office)
    items = our_items(material_world)
    for item in items:
        materials.review_material(item, "approved", actor=office)
    login(client, propaganda)
    token = csrf(client, "/bulletins")
    response = client.post("/bulletins", data={"csrf_token": token, "title": "三月正反典型", "period_start": "2026-03-01",
                                                "period_end": "2026-03-31", "editorial": "通报如下。",
                                                "item_ids": [str(item.id) for item in items]})
    assert response.status_code == 302, response.get_data(as_text=True)
    bulletin = _db.session.scalar(_db.select(Bulletin).where(Bulletin.title == "三月正反典型"))
    page = client.get(f"/bulletins/{bulletin.id}").get_data(as_text=True)
    assert "预览样稿" in page and "提交审核" in page
    preview = client.get(f"/bulletins/{bulletin.id}/preview.pdf")
    assert preview.status_code == 200 and preview.data.startswith(b"%PDF-")
    assert client.get(f"/bulletins/{bulletin.id}/bulletin.pdf").status_code == 404
    token = csrf(client, f"/bulletins/{bulletin.id}")
    assert client.post(f"/bulletins/{bulletin.id}/transition", data={"csrf_token": token,
                                                                     "action": "submit"}).status_code == 302
    login(client, office)
    token = csrf(client, f"/bulletins/{bulletin.id}")
    client.post(f"/bulletins/{bulletin.id}/transition", data={"csrf_token": token, "action": "approve",
                                                              "confirm": "y"})
    login(client, propaganda)
    token = csrf(client, f"/bulletins/{bulletin.id}")
    unconfirmed = client.post(f"/bulletins/{bulletin.id}/publish", data={"csrf_token": token}, follow_redirects=True)
    assert "须勾选确认" in unconfirmed.get_data(as_text=True)
    _db.session.refresh(bulletin)
    assert bulletin.state == "approved"
    client.post(f"/bulletins/{bulletin.id}/publish", data={"csrf_token": token, "confirm": "y"})
    _db.session.refresh(bulletin)
    assert bulletin.state == "published" and bulletin.serial is not None
    download = client.get(f"/bulletins/{bulletin.id}/bulletin.pdf")
    assert download.status_code == 200
    pdf = tmp_path / "b.pdf"
    pdf.write_bytes(download.data)
    download.close()
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True).stdout.decode()
    assert not contains_mobile_number(text) and "三月正反典型" in "".join(text.split())
    # a published issue: no edit form, no workflow buttons
    page = client.get(f"/bulletins/{bulletin.id}").get_data(as_text=True)
    assert "编辑草稿" not in page and "下载 PDF" in page


def test_propaganda_gets_404_for_an_office_draft_and_other_roles_no_library(client, db, material_world, make_user):
    office = material_world.users["office"]
    from datetime import date

    from server.publicity import bulletins

    draft = bulletins.create_bulletin(actor=office, title="办公室草稿", period_start=date(2026, 3, 1),
                                      period_end=date(2026, 3, 31))
    login(client, material_world.users["propaganda"])
    for url in (f"/bulletins/{draft.id}", f"/bulletins/{draft.id}/preview.pdf", f"/bulletins/{draft.id}/bulletin.pdf",
                "/materials/2147483000", "/bulletins/2147483000"):
        assert client.get(url).status_code == 404, url
    login(client, material_world.users["county"])
    page = client.get("/").get_data(as_text=True)
    assert 'href="/materials"' not in page
    assert client.get("/materials").status_code == 403
