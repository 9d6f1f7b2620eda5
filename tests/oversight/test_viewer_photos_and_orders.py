"""Department and county viewers: a finding shows its photos as re-encoded variants only (no EXIF,
no GPS, never the original), through a route that checks the finding's scope; the rectification
tracking page lists the orders that concern them, and its filters offer only what is in scope —
a value outside it is a Chinese field error, not an empty list."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from material_world import CHECKED_IN_AT, assert_no_exif_or_gps, make_assignment, material_world, world  # noqa: F401
from web_session import login

from server.columns import china_today
from server.enforcement import rectification_issuing as issuing
from server.extensions import db as _db
from server.field.models.inspection import Finding, Photo, Violation


def fetch(client, url):
    """GET and close the response (send_file keeps the file open until then)."""
    with client.get(url) as response:
        response.data  # noqa: B018  (read before the file closes)
        return response


@pytest.fixture
def finding(db, material_world):
    """A violation of the material world's inspection; its first photo is taken for its finding,
    the second for another finding, the other two for the visit as a whole."""
    mw = material_world
    venue = mw.world.venue
    own, other = (Finding(uuid=str(uuid.uuid4()), inspection_id=mw.inspection.id, rule_code=code, check_code=check,
                          description="测温缺失", source="manual", created_at=CHECKED_IN_AT)
                  for code, check in (("K10", "k10_temperature_at_entrance"), ("K2", "k2_other")))
    db.session.add_all([own, other])
    db.session.flush()
    mw.photos[0].finding_id = own.id
    mw.photos[1].finding_id = other.id
    violation = Violation(inspection_id=mw.inspection.id, finding_id=own.id, rule_code="K10",
                          check_code="k10_temperature_at_entrance", description="入口未测温", venue_id=venue.id,
                          county_id=venue.county_id, department_ids=[d.id for d in venue.category.departments])
    db.session.add(violation)
    db.session.flush()
    return violation


def test_a_finding_shows_its_photos_as_variants_without_exif(client, db, material_world, finding):
    mw = material_world
    login(client, mw.users["county"])
    page = client.get(f"/findings/{finding.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "现场照片" in html
    thumbnails = re.findall(r'<img src="([^"]+)"', html)
    larger = re.findall(r'<a href="(/findings/[^"]+/public)"', html)
    shown = {int(url.split("/")[4]) for url in thumbnails}
    # its finding's photo and the visit's, not the photo taken for another finding
    assert shown == {mw.photos[0].id, mw.photos[2].id, mw.photos[3].id}
    assert len(larger) == 3 and all(url.endswith("/thumbnail") for url in thumbnails)
    for url in [*thumbnails, *larger]:
        response = fetch(client, url)
        assert response.status_code == 200 and response.mimetype == "image/jpeg"
        assert_no_exif_or_gps(response.data)
    # no link to the original, and no way to ask for it or for a photo outside the finding
    assert "/api/v1/evidence/" not in html and mw.photos[0].sha256 not in html
    base = f"/findings/{finding.id}/photos"
    assert fetch(client, f"{base}/{mw.photos[0].id}/original").status_code == 404
    assert fetch(client, f"{base}/{mw.photos[0].id}/print").status_code == 404
    assert fetch(client, f"{base}/{mw.photos[1].id}/public").status_code == 404
    # the evidence API still refuses a viewer (a hash gives it nothing)
    assert fetch(client, f"/api/v1/evidence/{mw.photos[0].sha256}/public").status_code in (401, 404)

    # the department answering for the venue sees them too; another county does not
    login(client, mw.users["department"])
    assert fetch(client, thumbnails[0]).status_code == 200
    login(client, mw.users["other_county"])
    assert client.get(f"/findings/{finding.id}").status_code == 404
    assert fetch(client, thumbnails[0]).status_code == 404
    login(client, mw.users["propaganda"])
    assert fetch(client, thumbnails[0]).status_code == 403


def test_photos_not_yet_arrived_are_not_listed(client, db, material_world, finding):
    mw = material_world
    missing = Photo(uuid=str(uuid.uuid4()), inspection_id=mw.inspection.id, sha256="0" * 64, size=1,
                    filename="late.jpg", taken_at=CHECKED_IN_AT)
    _db.session.add(missing)
    _db.session.flush()
    login(client, mw.users["county"])
    html = client.get(f"/findings/{finding.id}").get_data(as_text=True)
    assert f"/photos/{missing.id}/" not in html
    assert fetch(client, f"/findings/{finding.id}/photos/{missing.id}/thumbnail").status_code == 404


@pytest.fixture
def order(db, material_world, finding):
    return issuing.issue_order([finding.id], deadline=china_today() + timedelta(days=5), requirements="入口设测温点",
                               actor=material_world.users["enforcement"])


def test_rectification_tracking_lists_the_viewers_orders_and_links_the_report_page(client, db, material_world, order):
    mw = material_world
    login(client, mw.users["county"])
    page = client.get("/rectification-tracking")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "整改跟踪" in html and f'href="/rectification/{order.id}"' in html
    assert mw.world.venue.name in html
    # the order's page offers the county the report form
    assert "报告整改完成" in client.get(f"/rectification/{order.id}").get_data(as_text=True)
    login(client, mw.users["other_county"])
    assert "没有符合条件的整改通知" in client.get("/rectification-tracking").get_data(as_text=True)


def test_tracking_filters_offer_only_the_viewers_scope(client, db, material_world, order):
    mw = material_world
    county, other_county = mw.world.venue.county, mw.world.other_venue.county
    category, other_category = mw.world.venue.category, mw.world.other_venue.category

    login(client, mw.users["county"])
    html = client.get("/rectification-tracking").get_data(as_text=True)
    assert county.name in html and other_county.name not in html  # only its own county is offered
    response = client.get("/rectification-tracking", query_string={"county_id": other_county.id})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "不是可选的值" in html and mw.world.venue.name not in html
    assert client.get("/rectification-tracking", query_string={"county_id": county.id}).status_code == 200

    login(client, mw.users["department"])
    html = client.get("/rectification-tracking").get_data(as_text=True)
    assert category.name in html and other_category.name not in html  # only its department's categories
    response = client.get("/rectification-tracking", query_string={"category_id": other_category.id})
    assert response.status_code == 422 and "不是可选的值" in response.get_data(as_text=True)
    response = client.get("/rectification-tracking", query_string={"category_id": category.id, "state": "open"})
    assert response.status_code == 200 and f'href="/rectification/{order.id}"' in response.get_data(as_text=True)
    response = client.get("/rectification-tracking", query_string={"state": "reinspection_scheduled"})
    assert response.status_code == 422  # the viewer cannot tell the open states apart, nor ask to

    login(client, mw.users["office"])
    assert client.get("/rectification-tracking").status_code == 403
