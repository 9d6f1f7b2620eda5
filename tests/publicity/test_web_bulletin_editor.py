"""The bulletin editor through the pages: items from the approved library added, reordered and
removed; the issue's own wording (masked when shown and printed); redaction boxes saved and
checked with Chinese errors next to the field; the 样稿 preview; submit → approve → publish, each
irreversible step refused without its confirmation; CSRF on every form; propaganda never gets an
original or a position."""

from __future__ import annotations

import re
import subprocess
from datetime import date

from material_world import assert_no_exif_or_gps, make_assignment, material_world, world  # noqa: F401
from web_session import csrf, login

from server.extensions import db as _db
from server.publicity import bulletins, materials
from server.publicity.models.material import Bulletin, MaterialItem


def approved_items(material_world) -> list[MaterialItem]:
    office = material_world.users["office"]
    materials.collect_note_candidates(office)
    items = list(_db.session.scalars(_db.select(MaterialItem).where(
        MaterialItem.inspection_id == material_world.inspection.id).order_by(MaterialItem.id)))
    for item in items:
        materials.review_material(item, "approved", actor=office)
    return items


def order_of(bulletin) -> list[int]:
    _db.session.expire_all()
    return [entry.material_item_id for entry in _db.session.get(Bulletin, bulletin.id).entries]


def new_draft(client, title="四月正反典型") -> Bulletin:
    token = csrf(client, "/bulletins")
    response = client.post("/bulletins", data={"csrf_token": token, "title": title, "period_start": "2026-03-01",
                                                "period_end": "2026-03-31"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return _db.session.scalar(_db.select(Bulletin).where(Bulletin.title == title))


def test_add_reorder_remove_items(client, material_world):
    a, b, c, d = approved_items(material_world)
    login(client, material_world.users["propaganda"])
    bulletin = new_draft(client)
    url = f"/bulletins/{bulletin.id}"
    for item in (a, b, c):
        response = client.post(f"{url}/items", data={"csrf_token": csrf(client, url), "item_id": str(item.id)})
        assert response.status_code == 302, response.get_data(as_text=True)
    assert order_of(bulletin) == [a.id, b.id, c.id]
    page = client.get(url).get_data(as_text=True)
    # the add list offers only what is not in the issue yet
    assert re.search(rf'<option value="{d.id}"', page) and not re.search(rf'<option value="{a.id}"', page)
    assert client.post(f"{url}/items/{c.id}/up", data={"csrf_token": csrf(client, url)}).status_code == 302
    assert order_of(bulletin) == [a.id, c.id, b.id]
    client.post(f"{url}/items/{a.id}/down", data={"csrf_token": csrf(client, url)})
    assert order_of(bulletin) == [c.id, a.id, b.id]
    client.post(f"{url}/items/{c.id}/up", data={"csrf_token": csrf(client, url)})  # already first: stays
    assert order_of(bulletin) == [c.id, a.id, b.id]
    client.post(f"{url}/items/{a.id}/remove", data={"csrf_token": csrf(client, url)})
    assert order_of(bulletin) == [c.id, b.id]
    # the page lists them in that order
    page = client.get(url).get_data(as_text=True)
    assert page.index(f'id="entry-{c.id}"') < page.index(f'id="entry-{b.id}"') and f'id="entry-{a.id}"' not in page
    # an item twice, or one not approved: refused next to the field, nothing changes
    materials.review_material(d, "rejected", actor=material_world.users["office"])
    for item_id in (str(c.id), str(d.id), "2147483000", "abc"):
        response = client.post(f"{url}/items", data={"csrf_token": csrf(client, url), "item_id": item_id})
        page = response.get_data(as_text=True)
        assert response.status_code == 422 and 'id="item_id-error"' in page
        assert re.search("不是可选的值|请选择要加入的材料", page), item_id
    assert order_of(bulletin) == [c.id, b.id]
    # an item not in the issue is a 404
    assert client.post(f"{url}/items/{a.id}/up", data={"csrf_token": csrf(client, url)}).status_code == 404


def test_edit_text_and_per_item_wording(client, material_world, tmp_path):
    a, b, *_ = approved_items(material_world)
    operator = material_world.world.venue.operator_name
    login(client, material_world.users["propaganda"])
    bulletin = new_draft(client)
    url = f"/bulletins/{bulletin.id}"
    client.post(f"{url}/items", data={"csrf_token": csrf(client, url), "item_id": str(a.id)})
    # title and lead paragraph
    response = client.post(url, data={"csrf_token": csrf(client, url), "title": "第一季度正反典型通报",
                                      "period_start": "2026-03-01", "period_end": "2026-03-31",
                                      "editorial": "为推动防控措施落实，现将督查情况通报如下。", "version": ""})
    assert response.status_code == 302
    _db.session.expire_all()
    assert _db.session.get(Bulletin, bulletin.id).title == "第一季度正反典型通报"
    # a period ending before it starts: the error next to the field, nothing saved
    response = client.post(url, data={"csrf_token": csrf(client, url), "title": "不该保存",
                                      "period_start": "2026-03-31", "period_end": "2026-03-01"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "结束日期不能早于开始日期" in page and 'class="field__error"' in page
    response = client.post(url, data={"csrf_token": csrf(client, url), "title": "", "period_start": "2026-02-30",
                                      "period_end": "2026-03-01"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "请输入标题" in page and "日期格式不正确" in page
    _db.session.expire_all()
    assert _db.session.get(Bulletin, bulletin.id).title == "第一季度正反典型通报"
    # the issue's own wording for an item; a name typed into it is masked on the page and in the PDF
    response = client.post(f"{url}/items/{a.id}/wording", data={
        f"e{a.id}-csrf_token": csrf(client, url), f"e{a.id}-heading": "主动登记健康码的好做法",
        f"e{a.id}-text": f"经营者{operator}坚持查验健康码。\n值得推广。"})
    assert response.status_code == 302, response.get_data(as_text=True)
    _db.session.expire_all()
    entry = _db.session.get(Bulletin, bulletin.id).entries[0]
    assert entry.heading == "主动登记健康码的好做法" and operator in entry.text
    page = client.get(url).get_data(as_text=True)
    # the edit field gives back what was typed; what the issue prints is masked
    printed = re.sub(r"<textarea.*?</textarea>", "", page, flags=re.S)
    assert "主动登记健康码的好做法" in printed and "坚持查验健康码" in printed and operator not in printed
    preview = client.get(f"{url}/preview.pdf")
    assert preview.status_code == 200 and preview.mimetype == "application/pdf" and preview.data.startswith(b"%PDF-")
    assert "inline" in preview.headers.get("Content-Disposition", "inline")
    pdf = tmp_path / "preview.pdf"
    pdf.write_bytes(preview.data)
    preview.close()
    text = "".join(subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                                  check=True).stdout.decode().split())
    assert "主动登记健康码的好做法" in text and "样稿" in text and "为推动防控措施落实" in text
    assert operator not in text
    # blank wording goes back to the library's
    client.post(f"{url}/items/{a.id}/wording", data={f"e{a.id}-csrf_token": csrf(client, url),
                                                     f"e{a.id}-heading": "", f"e{a.id}-text": ""})
    _db.session.expire_all()
    entry = _db.session.get(Bulletin, bulletin.id).entries[0]
    assert entry.heading is None and entry.text is None


def test_redaction_boxes_saved_and_checked(client, material_world):
    items = approved_items(material_world)
    item = next(item for item in items if item.photos)
    login(client, material_world.users["propaganda"])
    url = f"/materials/{item.id}"
    page = client.get(url).get_data(as_text=True)
    assert "redact.js" in page and 'data-boxes-field="p1-boxes"' in page
    # outside the image: a Chinese error next to the field, nothing saved
    for bad in ("0.9, 0.9, 0.5, 0.5", "0.1, 0.1, 0, 0.2", "-0.1, 0.2, 0.1, 0.1", "0.1, 0.1", "[[0.5, 0.5, 0.9, 0.1]]"):
        response = client.post(f"{url}/photos/1/boxes", data={"p1-csrf_token": csrf(client, url), "p1-boxes": bad})
        page = response.get_data(as_text=True)
        assert response.status_code == 422, bad
        assert 'id="p1-boxes-error"' in page and re.search("超出图片范围|格式不正确|四个 0–1", page), bad
        _db.session.refresh(item.photos[0])
        assert item.photos[0].boxes == [] and item.photos[0].boxes_version == 0
    # what the canvas writes (lines) and JSON both work
    response = client.post(f"{url}/photos/1/boxes", data={"p1-csrf_token": csrf(client, url),
                                                         "p1-boxes": "0.1, 0.2, 0.3, 0.15\n0.6，0.6，0.4，0.4"})
    assert response.status_code == 302
    _db.session.refresh(item.photos[0])
    assert item.photos[0].boxes == [[0.1, 0.2, 0.3, 0.15], [0.6, 0.6, 0.4, 0.4]]
    assert item.photos[0].boxes_version == 1
    page = client.get(url).get_data(as_text=True)
    assert "0.1, 0.2, 0.3, 0.15" in page  # the form shows the stored boxes for editing by keyboard
    # an unknown photo is a 404; without the CSRF token nothing is saved
    assert client.post(f"{url}/photos/99/boxes", data={"p99-csrf_token": csrf(client, url),
                                                       "p99-boxes": ""}).status_code == 404
    response = client.post(f"{url}/photos/1/boxes", data={"p1-boxes": ""})
    assert response.status_code in (400, 422)
    _db.session.refresh(item.photos[0])
    assert len(item.photos[0].boxes) == 2


def test_submit_approve_publish_need_confirmation(client, material_world):
    a, b, *_ = approved_items(material_world)
    propaganda, office = material_world.users["propaganda"], material_world.users["office"]
    login(client, propaganda)
    bulletin = new_draft(client)
    url = f"/bulletins/{bulletin.id}"
    client.post(f"{url}/items", data={"csrf_token": csrf(client, url), "item_id": str(a.id)})
    response = client.post(f"{url}/transition", data={"csrf_token": csrf(client, url), "action": "submit"})
    assert response.status_code == 302
    _db.session.expire_all()
    assert _db.session.get(Bulletin, bulletin.id).state == "submitted"
    # a submitted issue is no longer editable
    page = client.get(url).get_data(as_text=True)
    assert "保存文字" not in page and "加入本期" not in page
    assert client.post(f"{url}/items/{a.id}/remove", data={"csrf_token": csrf(client, url)}).status_code == 302
    assert order_of(bulletin) == [a.id]
    # propaganda cannot approve
    refused = client.post(f"{url}/transition", data={"csrf_token": csrf(client, url), "action": "approve",
                                                     "confirm": "y"}, follow_redirects=True)
    assert "无权" in refused.get_data(as_text=True)
    _db.session.expire_all()
    assert _db.session.get(Bulletin, bulletin.id).state == "submitted"
    login(client, office)
    page = client.get(url).get_data(as_text=True)
    assert "确认审核通过" in page
    refused = client.post(f"{url}/transition", data={"csrf_token": csrf(client, url), "action": "approve"},
                          follow_redirects=True)
    assert "审核通过前须勾选确认" in refused.get_data(as_text=True)
    _db.session.expire_all()
    assert _db.session.get(Bulletin, bulletin.id).state == "submitted"
    client.post(f"{url}/transition", data={"csrf_token": csrf(client, url), "action": "approve", "confirm": "y"})
    _db.session.expire_all()
    assert _db.session.get(Bulletin, bulletin.id).state == "approved"
    login(client, propaganda)
    page = client.get(url).get_data(as_text=True)
    assert "确认发布" in page
    refused = client.post(f"{url}/publish", data={"csrf_token": csrf(client, url)}, follow_redirects=True)
    assert "发布前须勾选确认" in refused.get_data(as_text=True)
    _db.session.expire_all()
    assert _db.session.get(Bulletin, bulletin.id).serial is None
    # without the CSRF token: refused, still unpublished
    assert client.post(f"{url}/publish", data={"confirm": "y"}).status_code == 400
    published = client.post(f"{url}/publish", data={"csrf_token": csrf(client, url), "confirm": "y"},
                            follow_redirects=True).get_data(as_text=True)
    _db.session.expire_all()
    issue = _db.session.get(Bulletin, bulletin.id)
    assert issue.state == "published" and issue.serial is not None
    assert f"第{issue.serial}期" in published and "简报已发布" in published


def test_csrf_required_on_editor_forms(client, material_world):
    a, *_ = approved_items(material_world)
    login(client, material_world.users["propaganda"])
    bulletin = new_draft(client)
    url = f"/bulletins/{bulletin.id}"
    assert client.post(f"{url}/items", data={"item_id": str(a.id)}).status_code in (400, 422)
    assert order_of(bulletin) == []
    client.post(f"{url}/items", data={"csrf_token": csrf(client, url), "item_id": str(a.id)})
    for path, data in ((f"{url}/items/{a.id}/remove", {}), (url, {"title": "无令牌", "period_start": "2026-03-01",
                                                                 "period_end": "2026-03-31"}),
                       (f"{url}/items/{a.id}/wording", {f"e{a.id}-heading": "无令牌"}),
                       (f"{url}/transition", {"action": "submit"})):
        assert client.post(path, data=data).status_code in (302, 400, 422), path
    _db.session.expire_all()
    issue = _db.session.get(Bulletin, bulletin.id)
    assert issue.state == "draft" and issue.title == "四月正反典型" and order_of(bulletin) == [a.id]
    assert issue.entries[0].heading is None


def test_propaganda_never_sees_originals_or_positions(client, material_world):
    items = approved_items(material_world)
    login(client, material_world.users["propaganda"])
    bulletin = new_draft(client)
    url = f"/bulletins/{bulletin.id}"
    for item in items:
        client.post(f"{url}/items", data={"csrf_token": csrf(client, url), "item_id": str(item.id)})
    pages = [client.get(url).get_data(as_text=True)] + [client.get(f"/materials/{item.id}").get_data(as_text=True)
                                                        for item in items]
    for page in pages:
        assert "29.07" not in page and "119.64" not in page  # the inspection's and the photos' positions
        for photo in material_world.photos:
            assert photo.sha256 not in page and "/api/v1/evidence" not in page
    for item in items:
        for entry in item.photos:
            image = client.get(f"/materials/{item.id}/photos/{entry.position}/image")
            assert image.status_code == 200
            assert_no_exif_or_gps(image.data)
            image.close()
    for photo in material_world.photos:
        assert client.get(f"/api/v1/evidence/{photo.sha256}").status_code in (401, 403, 404)


def test_lists_paginate_sort_and_filter(client, material_world):
    items = approved_items(material_world)
    office = material_world.users["office"]
    propaganda = material_world.users["propaganda"]
    for n in range(22):
        bulletins.create_bulletin(actor=propaganda, title=f"测试简报{n:02d}", period_start=date(2026, 3, 1),
                                  period_end=date(2026, 3, 31))
    login(client, propaganda)
    first = client.get("/bulletins").get_data(as_text=True)
    assert "第 1 / 2 页" in first and "下一页" in first
    second = client.get("/bulletins", query_string={"page": 2}).get_data(as_text=True)
    assert "第 2 / 2 页" in second
    ascending = client.get("/bulletins", query_string={"sort": "title"}).get_data(as_text=True)
    assert ascending.index("测试简报00") < ascending.index("测试简报01") and "测试简报21" not in ascending
    assert 'aria-sort="ascending"' in ascending
    published = client.get("/bulletins", query_string={"state": "published"}).get_data(as_text=True)
    assert "没有符合条件的简报" in published
    assert client.get("/bulletins", query_string={"state": "nonsense"}).status_code == 400
    assert client.get("/bulletins", query_string={"page": "x"}).status_code == 400
    # the library: filter by kind and state, sort by title
    login(client, office)
    negative = client.get("/materials", query_string={"kind": "negative"}).get_data(as_text=True)
    positive_ids = [item.id for item in items if item.kind == "positive"]
    assert not any(f'href="/materials/{item_id}"' in negative for item_id in positive_ids)
    page = client.get("/materials", query_string={"state": "approved", "sort": "kind"})
    assert page.status_code == 200 and 'aria-sort="ascending"' in page.get_data(as_text=True)
    assert client.get("/materials", query_string={"sort": "nonsense"}).status_code == 400
