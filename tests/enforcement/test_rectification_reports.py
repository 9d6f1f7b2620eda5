"""Reports that a rectification is done: the venue's county (属地) or responsible department (部门)
reports with a note and photos, the office confirms (the re-inspection follows) or sends it back;
only the answerable county or department reports; bad notes and photos are refused in Chinese;
the photos are shown only as re-encoded variants without EXIF."""

from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO

import pytest
import sqlalchemy as sa
from material_world import assert_no_exif_or_gps, make_jpeg
from rectification_world import bearer, make_assignment, rectification_world, world  # noqa: F401
from web_session import login

from server.accounts.models.user import User
from server.audit.models.audit import AuditEvent
from server.enforcement import rectification as service
from server.enforcement import rectification_issuing as issuing
from server.enforcement import rectification_reports as reports
from server.enforcement import reinspection
from server.enforcement.models.rectification import RectificationReport
from server.extensions import db as _db

API = "/api/v1/rectification-orders"
TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


@pytest.fixture
def order(db, rectification_world):
    rw = rectification_world
    return issuing.issue_order([rw.violation.id], deadline=rw.today + timedelta(days=10), requirements="控制参观人数",
                               actor=rw.users["enforcement"])


@pytest.fixture
def answerable(db, rectification_world):
    """The museum's county user, another county's, and the museum's department's."""
    rw = rectification_world
    tag = rw.world.tag
    museum = rw.museum
    local = User(username=f"wucheng-{tag}", display_name="婺城区联络员", role="county", password_hash=rw.users[
        "county"].password_hash, county=museum.county)
    department = User(username=f"mdept-{tag}", display_name="文旅局联络员", role="department",
                      password_hash=rw.users["county"].password_hash, department=museum.category.departments[0])
    db.session.add_all([local, department])
    db.session.flush()
    return {"county": local, "department": department, "other_county": rw.users["county"]}


def png_bytes() -> bytes:
    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (40, 30), (10, 200, 30)).save(buffer, "PNG")
    return buffer.getvalue()


def api_report(client, user, order_id, *, note="已安排专人在入口限流，参观人数控制在 400 人以内。", photos=None):
    _db.session.commit()
    photos = [("after.jpg", make_jpeg(seed=3))] if photos is None else photos
    data = {"photos": [(BytesIO(content), name) for name, content in photos]}
    if note is not None:
        data["note"] = note
    return client.post(f"{API}/{order_id}/reports", headers=bearer(user), data=data,
                       content_type="multipart/form-data")


def fetch(client, url, **options):
    """GET a file and close the response (send_file keeps the file open until then)."""
    with client.get(url, **options) as response:
        response.data  # noqa: B018  (read before the file closes)
        return response


def events(action: str) -> list[AuditEvent]:
    return list(_db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def test_county_reports_with_a_photo_on_the_page_and_the_office_confirms_then_reinspection_follows(
        app, client, db, rectification_world, order, answerable):
    rw = rectification_world
    county = answerable["county"]
    login(client, county)
    page = client.get(f"/rectification/{order.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "报告整改完成" in html and 'enctype="multipart/form-data"' in html
    token = TOKEN.search(html).group(1)
    response = client.post(f"/rectification/{order.id}/reports", content_type="multipart/form-data",
                           data={"csrf_token": token, "note": "已在入口设专人限流。",
                                 "photos": [(BytesIO(make_jpeg(seed=7)), "门口.jpg")]})
    assert response.status_code == 302, response.get_data(as_text=True)
    html = client.get(f"/rectification/{order.id}").get_data(as_text=True)
    assert "已报告整改完成，等待领导小组办公室确认" in html and "待确认" in html and "已在入口设专人限流。" in html
    assert "报告整改完成</button>" not in html  # one report waits: no second form
    report = _db.session.scalar(sa.select(RectificationReport).where(RectificationReport.order_id == order.id))
    assert report.reported_as == "county" and len(report.photos) == 1
    evidence = report.photos[0].evidence_file
    assert evidence.gps_lat is not None  # the original keeps its EXIF for the office
    # The thumbnail and the larger public variant on the page carry no EXIF; the original is not linked.
    thumbnail = re.search(r'<img src="([^"]+/thumbnail)"', html).group(1)
    larger = re.search(r'<a href="([^"]+/public)"', html).group(1)
    for url in (thumbnail, larger):
        image = fetch(client, url)
        assert image.status_code == 200 and image.mimetype == "image/jpeg"
        assert_no_exif_or_gps(image.data)
    assert f"/api/v1/evidence/{evidence.sha256}\"" not in html
    assert fetch(client, thumbnail.replace("/thumbnail", "/original")).status_code == 404

    # Another county may not see the photos (the order is outside its scope).
    login(client, answerable["other_county"])
    assert fetch(client, larger).status_code == 404

    office = rw.users["office"]
    login(client, office)
    listing = client.get("/rectification").get_data(as_text=True)
    assert "待确认的整改完成报告" in listing and f"/rectification/{order.id}#reports" in listing
    html = client.get(f"/rectification/{order.id}").get_data(as_text=True)
    token = TOKEN.search(html).group(1)
    blank = client.post(f"/rectification/{order.id}/reports/{report.id}/return", data={"csrf_token": token,
                                                                                      "reason": ""})
    assert blank.status_code == 422 and "请填写退回原因。" in blank.get_data(as_text=True)
    response = client.post(f"/rectification/{order.id}/reports/{report.id}/confirm", data={"csrf_token": token})
    assert response.status_code == 302
    assert "已确认第" in client.get(f"/rectification/{order.id}").get_data(as_text=True)
    _db.session.refresh(order)
    assert order.rectification_confirmed_at is not None and [e.object_id for e in events(
        "rectification.report_confirmed")] == [str(order.id)]
    assert len(events("rectification.reported_done")) == 1

    # Confirmed before the deadline: the county now reads 待复查, and today's scheduling run draws it.
    assert service.shown_state(order, county)[1] == "待复查"
    scheduled = reinspection.schedule_reinspections(rw.today, actor=office)
    assert [o.id for o, _ in scheduled.scheduled] == [order.id] and order.state == "reinspection_scheduled"


def test_sent_back_the_county_reports_again_through_the_api(client, db, rectification_world, order, answerable):
    rw = rectification_world
    county, office = answerable["county"], rw.users["office"]
    first = api_report(client, county, order.id)
    assert first.status_code == 201, first.get_data(as_text=True)
    body = first.get_json()
    assert body["state"] == "submitted" and body["reported_as_label"] == "属地" and len(body["photos"]) == 1
    again = api_report(client, county, order.id)
    assert again.status_code == 409 and "待确认" in again.get_json()["detail"]

    _db.session.commit()
    missing = client.post(f"{API}/{order.id}/reports/{body['id']}/return", headers=bearer(office), json={})
    assert missing.status_code == 422 and missing.get_json()["errors"]["reason"] == ["必填。"]
    blank = client.post(f"{API}/{order.id}/reports/{body['id']}/return", headers=bearer(office), json={"reason": " "})
    assert blank.status_code == 422 and blank.get_json()["errors"]["reason"] == ["请填写退回原因。"]
    sent_back = client.post(f"{API}/{order.id}/reports/{body['id']}/return", headers=bearer(office),
                            json={"reason": "照片看不出限流措施。"})
    assert sent_back.status_code == 200 and sent_back.get_json()["state_label"] == "已退回"
    twice = client.post(f"{API}/{order.id}/reports/{body['id']}/confirm", headers=bearer(office))
    assert twice.status_code == 409
    assert events("rectification.report_returned")[0].details["reason"] == "照片看不出限流措施。"
    _db.session.refresh(order)
    assert order.rectification_confirmed_at is None
    assert reinspection.schedule_reinspections(rw.today, actor=office).scheduled == []  # not due: sent back

    second = api_report(client, county, order.id, photos=[("a.png", png_bytes()), ("b.jpg", make_jpeg(seed=9))])
    assert second.status_code == 201 and len(second.get_json()["photos"]) == 2
    listed = client.get(f"{API}/{order.id}/reports", headers=bearer(county)).get_json()
    assert [r["state"] for r in listed] == ["returned", "submitted"]
    photo = fetch(client, listed[1]["photos"][0]["public_url"], headers=bearer(county))
    assert photo.status_code == 200
    assert_no_exif_or_gps(photo.data)
    confirmed = client.post(f"{API}/{order.id}/reports/{listed[1]['id']}/confirm", headers=bearer(office))
    assert confirmed.status_code == 200 and confirmed.get_json()["state"] == "confirmed"
    after = api_report(client, county, order.id)
    assert after.status_code == 409 and "已经领导小组办公室确认" in after.get_json()["detail"]


def test_only_the_answerable_county_or_department_reports(app, client, db, rectification_world, order, answerable):
    rw = rectification_world
    # The museum's department may report; another county does not even see the order (404, as an
    # unknown id, so that ids cannot be probed); other roles are refused outright (403).
    assert api_report(client, answerable["department"], order.id).get_json()["reported_as_label"] == "部门"
    assert api_report(client, answerable["other_county"], order.id).status_code == 404
    assert api_report(client, rw.users["other_department"], order.id).status_code == 404
    for key in ("office", "enforcement", "outsider", "propaganda", "auditor"):
        response = api_report(client, rw.users[key], order.id)
        assert response.status_code == 403, key
        assert response.headers["Content-Type"] == "application/problem+json"
    # Reviewing is the office's: the county cannot confirm its own report.
    report_id = _db.session.scalar(sa.select(RectificationReport.id))
    assert client.post(f"{API}/{order.id}/reports/{report_id}/confirm",
                       headers=bearer(answerable["county"])).status_code == 403
    # On the page: another county gets 404, the order's page shows no form to the office.
    login(client, answerable["other_county"])
    assert client.get(f"/rectification/{order.id}").status_code == 404
    login(client, rw.users["office"])
    html = client.get(f"/rectification/{order.id}").get_data(as_text=True)
    assert "报告整改完成</button>" not in html and "确认整改完成，安排复查" in html


@pytest.mark.parametrize(("note", "photos", "field", "message"), [
    (None, None, "note", "必填。"),
    ("   ", None, "note", "请填写整改情况说明。"),
    ("改" * 2001, None, "note", "不能超过 2000 个字。"),
    ("已整改", [], "photos", "请至少上传一张整改后的照片。"),
    ("已整改", [("x.txt", b"not a photo at all")], "photos", "文件内容不是可接受的图片格式"),
    ("已整改", [("x.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")], "photos", "文件内容不是可接受的图片格式"),
    ("已整改", [(f"{n}.jpg", make_jpeg(seed=n)) for n in range(7)], "photos", "最多上传 6 张照片。"),
])
def test_bad_note_or_photos_are_422_in_chinese_and_store_nothing(client, db, rectification_world, order,
                                                                 answerable, note, photos, field, message):
    response = api_report(client, answerable["county"], order.id, note=note, photos=photos)
    assert response.status_code == 422, response.get_data(as_text=True)
    problem = response.get_json()
    assert response.headers["Content-Type"] == "application/problem+json"
    errors = problem["errors"][field]
    assert any(message in text for text in errors), problem
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(RectificationReport)) == 0


def test_an_oversized_photo_is_refused(monkeypatch, client, db, rectification_world, order, answerable):
    monkeypatch.setattr(reports, "MAX_PHOTO_BYTES", 1000)
    response = api_report(client, answerable["county"], order.id)
    assert response.status_code == 422 and "文件过大" in response.get_json()["errors"]["photos"][0]


def test_the_page_shows_field_errors_in_chinese(client, db, rectification_world, order, answerable):
    login(client, answerable["county"])
    token = TOKEN.search(client.get(f"/rectification/{order.id}").get_data(as_text=True)).group(1)
    response = client.post(f"/rectification/{order.id}/reports", content_type="multipart/form-data",
                           data={"csrf_token": token, "note": "",
                                 "photos": [(BytesIO(b"plain text"), "note.txt")]})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "请填写整改情况说明。" in html and "novalidate" in html
    response = client.post(f"/rectification/{order.id}/reports", content_type="multipart/form-data",
                           data={"csrf_token": token, "note": "已整改", "photos": [(BytesIO(b"plain"), "a.txt")]})
    assert response.status_code == 422 and "文件内容不是可接受的图片格式" in response.get_data(as_text=True)
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(RectificationReport)) == 0


def test_a_county_filter_outside_the_viewers_county_is_a_field_error(client, db, rectification_world, order,
                                                                     answerable):
    _db.session.commit()
    own = client.get(API, headers=bearer(answerable["county"]), query_string={"county": "wucheng"})
    assert own.status_code == 200 and [o["id"] for o in own.get_json()] == [order.id]
    other = client.get(API, headers=bearer(answerable["county"]), query_string={"county": "yiwu"})
    assert other.status_code == 422 and "只能查询本辖区" in other.get_json()["errors"]["county"][0]


def test_the_office_lists_confirms_and_returns_reports_at_the_command_line(cli, client, db, rectification_world,
                                                                          order, answerable):
    rw = rectification_world
    office = rw.users["office"].username
    assert cli.invoke(args=["rectification", "reports", "--by", office]).output.strip() == "没有待确认的整改完成报告。"
    first = api_report(client, answerable["county"], order.id).get_json()
    listed = cli.invoke(args=["rectification", "reports", "--by", office])
    assert listed.exit_code == 0 and "属地" in listed.output and "1 张" in listed.output and "共 1 项" in listed.output
    no_reason = cli.invoke(args=["rectification", "return", str(order.id), str(first["id"]), "--by", office])
    assert no_reason.exit_code == 1 and "必须用 --reason 写明退回原因" in no_reason.output
    county = cli.invoke(args=["rectification", "confirm", str(order.id), str(first["id"]),
                              "--by", answerable["county"].username])
    assert county.exit_code == 1 and "无权" in county.output
    returned = cli.invoke(args=["rectification", "return", str(order.id), str(first["id"]), "--reason", "照片不清楚",
                                "--by", office])
    assert returned.exit_code == 0 and "已退回" in returned.output
    second = api_report(client, answerable["county"], order.id).get_json()
    confirmed = cli.invoke(args=["rectification", "confirm", str(order.id), str(second["id"]), "--by", office])
    assert confirmed.exit_code == 0 and "已确认" in confirmed.output
    scheduled = cli.invoke(args=["rectification", "schedule", "--by", office])
    assert scheduled.exit_code == 0 and f"整改通知 {order.id}" in scheduled.output
