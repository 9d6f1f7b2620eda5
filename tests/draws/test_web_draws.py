"""Draw pages: the office draws, sees the sealed result, dispatches (code shown once), closes once
the window has ended; the auditor verifies. Runs on the demo registry."""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from sealing.envelope import open_with_code
from server.accounts.models.user import User
from server.audit.models.audit import AuditEvent
from server.columns import CHINA_STANDARD_TIME, as_utc
from server.demo.registry import DEMO_PASSWORD, seed_demo
from server.draws.models.draw import Assignment, Draw
from server.extensions import limiter

CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
COUNTIES = ["wucheng", "yiwu"]
CATEGORIES = ["restaurant", "enterprise_institution", "pharmacy"]


@pytest.fixture
def demo(db):
    limiter.reset()
    seed_demo()
    db.session.commit()


def login(client, username):
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)


def csrf(client, url):
    return CSRF.search(client.get(url).get_data(as_text=True)).group(1)


def draw_form(client, **overrides):
    # The form takes China Standard Time, like its users.
    start = datetime.now(CHINA_STANDARD_TIME) - timedelta(hours=1)
    data = {
        "csrf_token": csrf(client, "/draws/new"),
        "counties": COUNTIES, "categories": CATEGORIES, "sample_size": "4",
        "window_start": start.strftime("%Y-%m-%dT%H:%M"),
        "window_end": (start + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        "team_size": "2", "may_propose_penalties": "y", "meeting_point": "市公安局北门",
    }
    data.update(overrides)
    return client.post("/draws/new", data=data)


def new_draw(client, db) -> Draw:
    """A draw made on the page, with its assignments: one awaiting its seed contribution gets the
    demo auditor's (entered through the service; the contribution page has tests of its own)."""
    from server.draws.seeding import contribute

    response = draw_form(client)
    assert response.status_code == 302, response.get_data(as_text=True)
    draw_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    draw = db.session.get(Draw, draw_id)
    if draw.status == "awaiting":
        contribute(draw, db.session.scalar(sa.select(User).where(User.username == "auditor")), "3f9a0c1e7b2d4a6e8c0f")
        db.session.commit()
    return draw


def after_window(monkeypatch, draw: Draw) -> None:
    """Move the clock closing and the draw page read to just after the draw's window."""
    later = as_utc(draw.window_end) + timedelta(minutes=1)
    monkeypatch.setattr("server.draws.closing.utcnow", lambda: later)
    monkeypatch.setattr("server.draws.listing.utcnow", lambda: later)


def test_office_draws_and_sees_a_sealed_result(client, db, demo):
    login(client, "office")
    draw = new_draw(client, db)
    assert len(draw.assignments) == 4
    page = client.get(f"/draws/{draw.id}").get_data(as_text=True)
    assert "抽查第" in page and draw.commitment in page
    for assignment in draw.assignments:
        assert assignment.status == "sealed"
        assert assignment.venue.county.code in COUNTIES and assignment.venue.category.code in CATEGORIES
        # The detail page lists teams and days only; targets are one audited click away.
        assert assignment.venue.name not in page and assignment.venue.address not in page


def test_invalid_form_shows_chinese_errors_next_to_fields(client, db, demo):
    login(client, "office")
    before = db.session.scalar(sa.select(sa.func.count(Draw.id)))
    response = draw_form(client, counties=[], sample_size="0")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="counties-error">请至少选择一个县（市、区）。' in html
    assert 'id="sample_size-error">抽取场所数应在 1 到 5000 之间。' in html
    assert db.session.scalar(sa.select(sa.func.count(Draw.id))) == before


def test_infeasible_scope_is_explained_and_nothing_is_created(client, db, demo):
    login(client, "office")
    before = db.session.scalar(sa.select(sa.func.count(Draw.id)))
    response = draw_form(client, sample_size="4000")
    assert response.status_code == 422
    assert 'class="problem"' in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Draw.id))) == before


def test_dispatch_needs_confirmation_and_shows_the_code_once(client, db, demo):
    login(client, "office")
    draw = new_draw(client, db)
    # Each assignment's window is its visit day; the last day is never about to end.
    assignment = max(draw.assignments, key=lambda a: a.window_end)
    url = f"/assignments/{assignment.id}/dispatch"

    unconfirmed = client.post(url, data={"csrf_token": csrf(client, f"/draws/{draw.id}")})
    assert unconfirmed.status_code == 302
    db.session.refresh(assignment)
    assert assignment.status == "sealed"

    response = client.post(url, data={"csrf_token": csrf(client, f"/draws/{draw.id}"), "confirm": "y"})
    assert response.status_code == 200, response.get_data(as_text=True)[-1500:]
    assert response.headers["Cache-Control"] == "no-store"
    code = re.search(r'<p class="code" id="reveal-code">([^<]+)</p>', response.get_data(as_text=True)).group(1)
    db.session.refresh(assignment)
    assert assignment.status == "dispatched" and assignment.wrapped_reveal_code is None
    # The code read over the phone opens the envelope the team's devices already hold.
    target = open_with_code(assignment.envelope, code, assignment.uuid)
    assert target["name"] == assignment.venue.name
    assert code not in client.get(f"/draws/{draw.id}").get_data(as_text=True)

    again = client.post(url, data={"csrf_token": csrf(client, f"/draws/{draw.id}"), "confirm": "y"})
    assert again.status_code == 409


def test_reading_a_target_on_a_page_is_audited(client, db, demo):
    login(client, "office")
    draw = new_draw(client, db)
    assignment = draw.assignments[0]
    page = client.get(f"/assignments/{assignment.id}/target").get_data(as_text=True)
    assert assignment.venue.name in page and "审计日志" in page
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "assignment.target_read")
                              .order_by(AuditEvent.seq.desc()).limit(1))
    assert event.object_id == str(assignment.id) and event.channel == "web"
    assert assignment.venue.name not in str(event.details)


def test_close_then_auditor_verifies(client, db, demo, app, monkeypatch):
    login(client, "office")
    draw = new_draw(client, db)
    before = client.get(f"/draws/{draw.id}/verification").get_data(as_text=True)
    assert "尚未公开" in before
    close_url = f"/draws/{draw.id}/close"
    # While the window runs the page offers cancelling (with a reason), not closing; a forged close is refused.
    page = client.get(f"/draws/{draw.id}").get_data(as_text=True)
    assert f'action="{close_url}"' not in page and f'action="/draws/{draw.id}/cancel"' in page
    early = client.post(close_url, data={"csrf_token": csrf(client, f"/draws/{draw.id}"), "confirm": "y"})
    assert early.status_code == 409 and "窗口结束前只能取消（须说明理由）" in early.get_data(as_text=True)
    db.session.refresh(draw)
    assert draw.status == "committed" and draw.revealed_seed is None

    after_window(monkeypatch, draw)
    # The draw page leads to the confirmation step, which holds the close form.
    assert f'href="{close_url}"' in client.get(f"/draws/{draw.id}").get_data(as_text=True)
    assert f'action="{close_url}"' in client.get(close_url).get_data(as_text=True)
    response = client.post(close_url, data={"csrf_token": csrf(client, close_url), "confirm": "y"})
    assert response.status_code == 302
    client.post("/logout", data={"csrf_token": csrf(client, "/")})

    auditor = app.test_client()
    login(auditor, "auditor")
    page = auditor.get(f"/draws/{draw.id}/verification").get_data(as_text=True)
    assert 'verdict--match' in page and draw.revealed_seed in page


@pytest.mark.parametrize("username", ["inspector01", "department", "county", "propaganda", "enforcement"])
def test_other_roles_cannot_reach_draw_pages(client, db, demo, username):
    login(client, username)
    assert client.get("/draws").status_code == 403
    assert client.get("/draws/new").status_code == 403


def test_auditor_may_read_but_not_create(client, db, demo):
    login(client, "auditor")
    assert client.get("/draws").status_code == 200
    assert client.get("/draws/new").status_code == 403


def test_envelope_is_not_readable_without_code(db, demo, client):
    login(client, "office")
    draw = new_draw(client, db)
    assignment = db.session.scalar(sa.select(Assignment).where(Assignment.draw_id == draw.id).limit(1))
    blob = assignment.envelope or b""
    for text in (assignment.venue.name, assignment.venue.address):
        assert text.encode() not in blob and base64.b64encode(text.encode()) not in blob
