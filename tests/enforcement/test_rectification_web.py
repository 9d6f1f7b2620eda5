"""Rectification pages: the overdue list for the office, the issuing form on the case page."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from rectification_world import make_assignment, rectification_world, world  # noqa: F401
from web_session import login

from server.accounts.models.user import User
from server.enforcement import case_opening as opening
from server.enforcement import rectification_issuing as issuing
from server.enforcement.models.rectification import RectificationOrder


def test_the_office_sees_overdue_orders_and_inspectors_are_refused(app, client, db, rectification_world):
    rw = rectification_world
    order = issuing.issue_order([rw.violation.id], deadline=rw.today + timedelta(days=1), requirements="限流",
                                actor=rw.users["enforcement"])
    login(client, rw.users["office"])
    page = client.get("/rectification")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and '<a href="/rectification" aria-current="page">整改复查</a>' in html  # the nav item
    assert "没有逾期的整改通知" in html and f"第 {order.id} 号" in html  # pending, not yet overdue
    order.deadline = rw.today - timedelta(days=1)
    db.session.commit()
    html = client.get("/rectification").get_data(as_text=True)
    assert "期限已过，尚未安排复查" in html and rw.museum.name in html

    for key in ("outsider", "propaganda"):
        other = app.test_client()
        login(other, rw.users[key])
        assert other.get("/rectification").status_code == 403


def test_the_case_page_issues_an_order_for_the_cases_violations(client, db, rectification_world):
    rw = rectification_world
    first = rw.users["enforcement"]
    first.enforcement_certificate_no = f"浙执A{rw.world.tag}"
    second = User(username=f"enfw-{rw.world.tag}", display_name="执法乙", role="enforcement", password_hash="x",
                  enforcement_certificate_no=f"浙执B{rw.world.tag}")
    db.session.add(second)
    db.session.flush()
    case = opening.open_case([rw.violation.id], officers=[first.id, second.id], circumstance="first",
                             party={"kind": "individual", "name": "李某", "id_number": "330702199001011234",
                                    "address": "金华市婺城区某路2号"},
                             actor=first)
    login(client, first)
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "尚未责令整改" in page and f"/cases/{case.id}/rectification" in page
    token = re.search(r'name="rectification-csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    url = f"/cases/{case.id}/rectification"

    past = client.post(url, data={"rectification-csrf_token": token, "rectification-deadline": rw.today.isoformat(),
                                "rectification-requirements": "限流"})
    assert past.status_code == 302
    assert "整改期限须晚于今天" in client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RectificationOrder)) == 0

    deadline = rw.today + timedelta(days=5)
    done = client.post(url, data={"rectification-csrf_token": token, "rectification-deadline": deadline.isoformat(),
                                  "rectification-requirements": "参观人数控制在核定人数50%以内"})
    assert done.status_code == 302
    html = client.get(f"/cases/{case.id}").get_data(as_text=True)
    order = db.session.scalar(sa.select(RectificationOrder).where(RectificationOrder.case_id == case.id))
    assert order is not None and order.deadline == deadline
    assert f"第 {order.id} 号整改通知：期限至 {deadline.isoformat()}，整改中" in html

    # Without the CSRF token nothing is stored.
    client.post(url, data={"rectification-deadline": deadline.isoformat(), "rectification-requirements": "再来"})
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RectificationOrder)) == 1
