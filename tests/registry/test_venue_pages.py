"""Register pages: the office lists venues with filters, registers one (field errors in Chinese
next to the fields), edits it, closes it with a reason, and imports a file: upload → dry run
listing each row's problems → confirm. Other readers see the list, never the forms."""

from __future__ import annotations

import io
import re
import uuid

import pytest
import sqlalchemy as sa

from server.extensions import limiter
from server.registry.models.venue import Venue, VenueVersion

from venue_helpers import broken_check, credit_code

CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
PASSWORD = "correct horse 9"
HEADINGS = "名称,类别,县（市、区）,乡镇（街道）,地址,经营者,统一社会信用代码,核定人数,包厢座位数,经度,纬度\n"


def login(client, user):
    limiter.reset()
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": user.username, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


def csrf(client, url):
    return CSRF.search(client.get(url).get_data(as_text=True)).group(1)


@pytest.fixture
def office(db, make_user, client):
    user = make_user("office")
    db.session.commit()
    login(client, user)
    return user


def form(client, url, **values):
    tag = uuid.uuid4().hex[:6]
    data = {"csrf_token": csrf(client, url), "name": f"乐享KTV{tag}", "category": "ktv", "county": "yiwu",
            "town": "稠城街道", "address": f"工人北路{tag}号", "operator_name": "王五",
            "credit_code": credit_code(uuid.uuid4().int % 9_000_000), "approved_capacity": "",
            "rooms": "包厢A:12;包厢B:8", "longitude": "120.07", "latitude": "29.30"}
    data.update(values)
    return client.post(url, data=data)


def test_register_edit_close_on_pages(client, db, office):
    refused = form(client, "/venues/new", credit_code=broken_check(credit_code(7)), longitude="118.1")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert "统一社会信用代码校验位不符，请核对。" in page and "不在金华市范围内" in page

    made = form(client, "/venues/new")
    assert made.status_code == 302
    venue = db.session.get(Venue, int(made.headers["Location"].rsplit("/", 1)[1]))
    assert [(r.name, r.seats) for r in venue.rooms] == [("包厢A", 12), ("包厢B", 8)]

    edit_url = f"/venues/{venue.id}/edit"
    assert venue.name in client.get(edit_url).get_data(as_text=True)
    edited = form(client, edit_url, name=venue.name, address=venue.address, credit_code=venue.credit_code,
                  rooms="包厢A:10")
    assert edited.status_code == 302
    db.session.refresh(venue)
    assert [(r.name, r.seats) for r in venue.rooms] == [("包厢A", 10)]

    url = f"/venues/{venue.id}"
    short = client.post(f"{url}/close", data={"csrf_token": csrf(client, url), "reason": "停"})
    assert short.status_code == 422 and "关闭理由为 4–256 个字。" in short.get_data(as_text=True)
    closed = client.post(f"{url}/close", data={"csrf_token": csrf(client, url), "reason": "已停业并注销执照"})
    assert closed.status_code == 302
    db.session.refresh(venue)
    assert venue.closed_reason == "已停业并注销执照"
    detail = client.get(url).get_data(as_text=True)
    assert "已关闭" in detail and "关闭场所</button>" not in detail
    changes = db.session.scalars(sa.select(VenueVersion.change).where(VenueVersion.venue_id == venue.id)
                                 .order_by(VenueVersion.version)).all()
    assert changes == ["created", "updated", "closed"]

    listed = client.get("/venues", query_string={"q": venue.name, "state": "closed"}).get_data(as_text=True)
    assert f">{venue.name}</a>" in listed
    assert f">{venue.name}</a>" not in client.get("/venues", query_string={"q": venue.name}).get_data(as_text=True)


def test_import_page_dry_run_then_confirm(client, db, office):
    assert 'value="inspectors"' in client.get("/venues/import").get_data(as_text=True)
    tag = uuid.uuid4().hex[:6]
    good = credit_code(uuid.uuid4().int % 9_000_000)
    bad = HEADINGS + f"馆{tag},KTV,义乌市,稠城街道,路{tag}号,张三,{broken_check(good)},,包厢A:12,,\n"
    response = client.post("/venues/import", data={"csrf_token": csrf(client, "/venues/import"), "kind": "venues",
                                                   "file": (io.BytesIO(bad.encode()), "v.csv")},
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "<td>2</td><td>统一社会信用代码</td>" in page
    assert "确认导入</button>" not in page

    fixed = bad.replace(broken_check(good), good)
    response = client.post("/venues/import", data={"csrf_token": csrf(client, "/venues/import"), "kind": "venues",
                                                   "file": (io.BytesIO(fixed.encode()), "v.csv")},
                           content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "确认后将新增 1 个场所" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Venue).where(Venue.name == f"馆{tag}")) == 0
    confirm_form = page[page.index('action="/venues/import/confirm"'):]
    hidden = dict(re.findall(r'name="(kind|filename|content|csrf_token)"[^>]*value="([^"]*)"', confirm_form))
    confirmed = client.post("/venues/import/confirm", data={
        "csrf_token": hidden["csrf_token"], "kind": hidden["kind"], "filename": hidden["filename"],
        "content": hidden["content"], "merge": ""})
    assert confirmed.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Venue).where(Venue.name == f"馆{tag}")) == 1


def test_other_readers_see_the_list_not_the_forms(client, db, make_user):
    auditor = make_user("auditor")
    db.session.commit()
    login(client, auditor)
    assert client.get("/venues").status_code == 200
    assert "登记场所" not in client.get("/venues").get_data(as_text=True)
    assert client.get("/venues/new").status_code == 403
    assert client.get("/venues/import").status_code == 403
