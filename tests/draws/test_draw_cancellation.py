"""Abandoned draws are visible: cancelling needs a reason in words, reveals the seed, cancels the
open assignments and records how far the draw had got; closing before the window ends is refused;
dispatch only from an open draw inside its window; a new draw over an overlapping scope is linked
to the draw it replaces; the auditor's list shows it all and flags users who cancel often.

Written as the office would try to choose among draws: draw, read a target, cancel, draw again."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from assignment_world import PASSWORD_HASH
from test_draw_service import after_window, person, scope  # noqa: F401  (fixtures)
from test_draws_api import assert_problem, bearer, opened, world  # noqa: F401  (fixtures)
from web_session import csrf, login

from server.audit.models.audit import AuditEvent
from server.columns import as_utc, utcnow
from server.draws import assignments as assignment_service
from server.draws.assignment_reading import read_target
from server.draws.cancellation import cancel_draw, link_to_cancelled
from server.draws.closing import close_due_draws
from server.draws.creation import create_draw
from server.draws.listing import cancellation_summary
from server.draws.models.draw import Assignment, Draw
from server.draws.selection import commitment_of
from server.draws.verification import MATCH, verify_draw
from server.errors import Conflict, Forbidden, Invalid
from server.registry.models.reference import DrawPolicy

REASON = "范围选错，应改抽餐饮场所"


def created(scope, **overrides) -> Draw:  # noqa: F811
    start = utcnow() + timedelta(hours=1)
    arguments = {"counties": [scope.county.code], "categories": [scope.category.code], "sample_size": 4,
                 "window_start": start, "window_end": start + timedelta(days=2), **overrides}
    return create_draw(scope.office, **arguments)


def open_draw(scope, **overrides) -> Draw:  # noqa: F811
    """A draw with its assignments (one awaiting its contribution gets the auditor's share)."""
    made = created(scope, **overrides)
    if made.status == "awaiting":
        from server.draws.seeding import contribute

        contribute(made, scope.auditor, uuid.uuid4().hex)
    assert made.status == "committed" and made.assignments
    return made


def events(db, action: str, object_id) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action,
                                                               AuditEvent.object_id == str(object_id))
                                   .order_by(AuditEvent.seq)))


# ---------------------------------------------------------------- cancelling


@pytest.mark.parametrize("reason", [None, "", "   ", "redo", "重抽", "重新抽 x", "范" * 501])
def test_cancel_without_a_reason_in_words_is_refused(db, scope, reason):  # noqa: F811
    made = open_draw(scope)
    with pytest.raises(Invalid) as caught:
        cancel_draw(made, scope.office, reason, "api")
    assert "reason" in caught.value.errors and re.search(r"[\u4e00-\u9fff]", caught.value.detail)
    db.session.refresh(made)
    assert made.status == "committed" and made.revealed_seed is None and made.cancel_reason is None
    assert not events(db, "draw.cancelled", made.id)


def test_cancel_reveals_the_seed_cancels_open_assignments_and_records_progress(db, scope):  # noqa: F811
    made = open_draw(scope)
    first, second = made.assignments[:2]
    assignment_service.dispatch(first, scope.office, channel="api")
    read_target(second, scope.office, channel="api")

    cancel_draw(made, scope.office, f"  {REASON}  ", "api")

    assert made.status == "cancelled" and made.cancel_reason == REASON
    assert made.cancelled_by_id == scope.office.id and made.cancelled_at is not None
    assert commitment_of(bytes.fromhex(made.revealed_seed)) == made.commitment
    statuses = db.session.scalars(sa.select(Assignment.status).where(Assignment.draw_id == made.id)).all()
    assert statuses == ["cancelled"] * 4
    # Each assignment's cancellation is a transition of its own, audited with the draw's reason.
    for assignment in made.assignments:
        [event] = events(db, "assignment.cancelled", assignment.id)
        assert REASON in event.details["note"]
    [event] = events(db, "draw.cancelled", made.id)
    assert event.actor_id == scope.office.id
    assert {"reason": REASON, "from": "committed", "seed": made.revealed_seed, "assignments": 4,
            "assignments_cancelled": 4, "dispatched": 1, "revealed": 0, "target_reads": 1,
            "assignments_target_read": 1, "targets_read": True, "before_window_end": True}.items() <= event.details.items()
    # The abandoned draw stays verifiable: anyone can see the office did not pick the outcome.
    assert verify_draw(made).state == MATCH


def test_cancel_a_draw_still_awaiting_its_contribution(db, scope):  # noqa: F811
    made = created(scope)
    if made.status != "awaiting":
        pytest.fail("a new draw waits for its seed contribution")
    cancel_draw(made, scope.admin, "纪检人员出差，本轮暂停", "cli")
    assert made.status == "cancelled" and made.revealed_seed and made.assignments == []
    [event] = events(db, "draw.cancelled", made.id)
    assert event.details["from"] == "awaiting" and event.details["assignments"] == 0
    assert event.details["targets_read"] is False


def test_cancel_is_for_the_office_and_only_once(db, scope):  # noqa: F811
    made = open_draw(scope)
    with pytest.raises(Forbidden):
        cancel_draw(made, scope.auditor, REASON, "api")
    cancel_draw(made, scope.office, REASON, "api")
    with pytest.raises(Conflict, match="已取消"):
        cancel_draw(made, scope.office, REASON, "api")
    closed = open_draw(scope, sample_size=1)
    from server.draws.closing import close_draw

    close_draw(closed, scope.office, now=after_window(closed))
    with pytest.raises(Conflict, match="已关闭"):
        cancel_draw(closed, scope.office, REASON, "api")
    with pytest.raises(Conflict, match="已取消"):
        close_draw(made, scope.office, now=after_window(made))


def test_close_due_cancels_a_draw_never_seeded_and_closes_an_open_one(db, scope):  # noqa: F811
    never_seeded, running = created(scope, sample_size=1), open_draw(scope, sample_size=1)
    later = max(as_utc(never_seeded.window_end), as_utc(running.window_end)) + timedelta(minutes=1)
    done = close_due_draws(scope.admin, now=later)
    assert {draw.id: draw.status for draw in done} == {never_seeded.id: "cancelled", running.id: "closed"}
    assert never_seeded.cancel_reason == "窗口结束时仍未录入随机数"
    assert events(db, "draw.cancelled", never_seeded.id)[0].details["reason"] == "窗口结束时仍未录入随机数"


# ---------------------------------------------------------------- dispatch only from an open draw


def test_dispatch_from_a_closed_or_cancelled_draw_or_after_the_window_is_refused(db, scope):  # noqa: F811
    closed = open_draw(scope, sample_size=2)
    inside = as_utc(closed.window_start) + timedelta(minutes=5)
    from server.draws.closing import close_draw

    close_draw(closed, scope.office, now=after_window(closed))
    # The silent variant: the seed is public, the targets computable; dispatching now would hide a choice.
    with pytest.raises(Conflict, match="抽查已关闭，不能再派发任务"):
        assignment_service.dispatch(closed.assignments[0], scope.office, channel="api", now=inside)
    with pytest.raises(Conflict):
        assignment_service.dispatch(closed.assignments[0], scope.office, channel="api", now=after_window(closed))

    cancelled = open_draw(scope, sample_size=2)
    cancel_draw(cancelled, scope.office, REASON, "api")
    with pytest.raises(Conflict):
        assignment_service.dispatch(cancelled.assignments[0], scope.office, channel="api", now=inside)
    # Even an assignment someone put back to sealed in the database: the draw itself is cancelled.
    db.session.execute(sa.update(Assignment).where(Assignment.id == cancelled.assignments[1].id)
                       .values(status="sealed"))
    db.session.expire_all()
    with pytest.raises(Conflict, match="抽查已取消，不能派发任务"):
        assignment_service.dispatch(db.session.get(Assignment, cancelled.assignments[1].id), scope.office,
                                    channel="api", now=inside)
    statuses = db.session.scalars(sa.select(Assignment.status).where(
        Assignment.draw_id.in_([closed.id, cancelled.id]))).all()
    assert "dispatched" not in statuses


def test_dispatch_long_before_the_window_follows_the_policy_lead(db, scope):  # noqa: F811
    start = utcnow() + timedelta(days=3)
    made = open_draw(scope, sample_size=1, window_start=start, window_end=start + timedelta(days=1))
    [assignment] = made.assignments
    with pytest.raises(Conflict, match="最早可在开始前 24 小时"):
        assignment_service.dispatch(assignment, scope.office, channel="api")
    policy = db.session.scalar(sa.select(DrawPolicy).where(DrawPolicy.code == "default"))
    policy.settings = {**policy.settings, "dispatch": {"lead_hours": 96}}
    db.session.flush()
    assert assignment_service.dispatch(assignment, scope.office, channel="api")
    assert assignment.status == "dispatched"


# ---------------------------------------------------------------- linking the replacement


def test_a_draw_over_an_overlapping_scope_replaces_the_cancelled_one(db, scope, make_venue):  # noqa: F811
    first = open_draw(scope, sample_size=1)
    cancel_draw(first, scope.office, REASON, "api")
    second = open_draw(scope, sample_size=1)
    assert second.replaces_id == first.id
    assert events(db, "draw.created", second.id)[0].details["replaces"] == first.id
    # The link is to the most recent overlapping cancellation.
    cancel_draw(second, scope.office, REASON, "api")
    third = created(scope, sample_size=1)
    assert third.replaces_id == second.id
    # Past the policy's link_days the cancelled draw is history, not a replacement.
    assert link_to_cancelled(third, now=utcnow() + timedelta(days=31)) == {}


def test_scopes_overlap_on_a_shared_pair_or_the_same_reinspected_venue():
    from server.draws.cancellation import scopes_overlap

    def sample(counties, categories):
        return Draw(purpose="sample", parameters={"scope": {"counties": counties, "categories": categories}})

    assert scopes_overlap(sample(["a", "b"], ["x"]), {"scope": {"counties": ["b"], "categories": ["x", "y"]}}, "sample")
    assert not scopes_overlap(sample(["a"], ["x"]), {"scope": {"counties": ["a"], "categories": ["y"]}}, "sample")
    assert not scopes_overlap(sample(["a"], ["x"]), {"scope": {"counties": ["b"], "categories": ["x"]}}, "sample")
    again = Draw(purpose="reinspection", parameters={"scope": {"counties": ["a"], "categories": ["x"], "venues": [7]}})
    assert scopes_overlap(again, {"scope": {"counties": ["a"], "categories": ["x"], "venues": [7]}}, "reinspection")
    assert not scopes_overlap(again, {"scope": {"counties": ["a"], "categories": ["x"], "venues": [8]}},
                              "reinspection")


# ---------------------------------------------------------------- the grind loop, as the office would run it


def _grind(client, world, rounds: int = 3) -> list[dict]:  # noqa: F811
    """Create, read a target through the audited read, cancel, create again — `rounds` times."""
    office = bearer(world.users["office"])
    draws = []
    for n in range(rounds + 1):
        response = client.post("/api/v1/draws", json=world.body(), headers=office)
        assert response.status_code == 201, response.get_data(as_text=True)
        draw = opened(client, world, response.get_json())
        draws.append(draw)
        if n == rounds:
            break
        target = client.get(f"/api/v1/assignments/{draw['assignments'][0]['id']}/target", headers=office)
        assert target.status_code == 200
        cancelled = client.post(f"/api/v1/draws/{draw['id']}/cancel", json={"reason": f"第{n + 1}轮目标不理想，重新抽取"},
                                headers=office)
        assert cancelled.status_code == 200, cancelled.get_data(as_text=True)
        assert cancelled.get_json()["status"] == "cancelled"
    return draws


def test_grind_loop_leaves_every_cancelled_draw_visible_linked_and_the_user_flagged(client, db, world, app):  # noqa: F811
    draws = _grind(client, world)
    auditor = bearer(world.users["auditor"])

    listed = {item["id"]: item for item in client.get("/api/v1/draws", headers=auditor).get_json()}
    for n, draw in enumerate(draws[:3]):
        item = listed[draw["id"]]
        assert item["status"] == "cancelled" and item["status_label"] == "已取消"
        assert item["cancel_reason"] == f"第{n + 1}轮目标不理想，重新抽取"
        assert item["cancelled_by"]["username"] == world.users["office"].username and item["cancelled_at"]
        assert item["replaced_by"] == [draws[n + 1]["id"]]
        successor = listed[draws[n + 1]["id"]]
        assert successor["replaces"]["id"] == draw["id"] and successor["replaces"]["status"] == "cancelled"
        [event] = events(db, "draw.cancelled", draw["id"])
        assert event.details["targets_read"] is True and event.details["target_reads"] == 1
    assert listed[draws[3]["id"]]["status"] == "committed"

    summary = client.get("/api/v1/draws/cancellations", headers=auditor).get_json()
    [row] = [r for r in summary["users"] if r["user"]["username"] == world.users["office"].username]
    assert row["last_30_days"] == row["month"] == row["flag_window"] == row["total"] == 3 and row["flagged"]
    assert summary["flagged"] == 1 and summary["months"][0] == {"month": summary["this_month"], "count": 3}

    # The auditor's page says the same, in words.
    world.users["auditor"].password_hash = PASSWORD_HASH
    page_client = app.test_client()
    login(page_client, world.users["auditor"])
    html = page_client.get("/draws").get_data(as_text=True)
    for n, draw in enumerate(draws[:3]):
        assert f"第{n + 1}轮目标不理想，重新抽取" in html
        assert f'<a href="/draws/{draw["id"]}">替代第 {draw["id"]} 号（已取消）</a>' in html
    assert world.users["office"].display_name in html and "超过阈值" in html
    assert html.count("已取消") >= 3
    # Every table of the list scrolls inside its own box on a phone rather than widening the page.
    assert html.count("<table") == html.count('<div class="table-scroll">\n<table') + html.count(
        '<div class="table-scroll">\n  <table') + html.count('<table class="table table--compact">')
    detail = page_client.get(f"/draws/{draws[1]['id']}").get_data(as_text=True)
    assert "第2轮目标不理想，重新抽取" in detail and f"替代第 {draws[0]['id']} 号（已取消）" in detail


def test_cancel_over_the_api_needs_a_reason_and_an_open_draw(client, db, world, monkeypatch):  # noqa: F811
    office = bearer(world.users["office"])
    draw = opened(client, world, client.post("/api/v1/draws", json=world.body(), headers=office).get_json())
    url = f"/api/v1/draws/{draw['id']}/cancel"
    for body in ({}, {"reason": ""}, {"reason": "oops"}, {"reason": None}, {"reason": "取消"}):
        problem = assert_problem(client.post(url, json=body, headers=office), 422)
        assert "reason" in problem["errors"]
    assert_problem(client.post("/api/v1/draws/999999/cancel", json={"reason": REASON}, headers=office), 404)
    assert client.post(url, json={"reason": REASON}, headers=office).status_code == 200
    again = assert_problem(client.post(url, json={"reason": REASON}, headers=office), 409)
    assert "已取消" in again["detail"]
    # Nor can a cancelled draw be closed later to look like an ordinary one.
    later = as_utc(db.session.get(Draw, draw["id"]).window_end) + timedelta(minutes=1)
    monkeypatch.setattr("server.draws.closing.utcnow", lambda: later)
    assert_problem(client.post(f"/api/v1/draws/{draw['id']}/close", headers=office), 409)


def test_cancel_on_the_page_needs_a_reason(client, db, world, app):  # noqa: F811
    office_user = world.users["office"]
    office_user.password_hash = PASSWORD_HASH
    draw = opened(client, world, client.post("/api/v1/draws", json=world.body(),
                                             headers=bearer(office_user)).get_json())
    page_client = app.test_client()
    login(page_client, office_user)
    url = f"/draws/{draw['id']}/cancel"
    blank = page_client.post(url, data={"csrf_token": csrf(page_client, f"/draws/{draw['id']}"), "confirm": "y",
                                        "reason": ""})
    assert blank.status_code == 422 and "请写明取消的理由" in blank.get_data(as_text=True)
    latin = page_client.post(url, data={"csrf_token": csrf(page_client, f"/draws/{draw['id']}"), "confirm": "y",
                                        "reason": "wrong scope"})
    assert latin.status_code == 422 and "至少 4 个汉字" in latin.get_data(as_text=True)
    assert db.session.get(Draw, draw["id"]).status == "committed"
    done = page_client.post(url, data={"csrf_token": csrf(page_client, f"/draws/{draw['id']}"), "confirm": "y",
                                       "reason": REASON})
    assert done.status_code == 302
    page = page_client.get(f"/draws/{draw['id']}").get_data(as_text=True)
    assert "已取消" in page and REASON in page and f'action="{url}"' not in page


def test_summary_counts_beijing_months(db, scope):  # noqa: F811
    made = open_draw(scope, sample_size=1)
    cancel_draw(made, scope.office, REASON, "api")
    # 2026-11-30 17:00 UTC is already 1 December in Beijing.
    made.cancelled_at = as_utc(made.cancelled_at).replace(year=2026, month=11, day=30, hour=17)
    db.session.flush()
    now = made.cancelled_at + timedelta(days=1)
    summary = cancellation_summary(scope.auditor, now=now)
    assert summary["this_month"] == "2026-12" and summary["months"][0] == {"month": "2026-12", "count": 1}
    [row] = [r for r in summary["users"] if r["user"]["id"] == scope.office.id]
    assert (row["month"], row["last_30_days"], row["flagged"]) == (1, 1, False)


def test_the_auditor_sees_the_teams_of_a_cancelled_sample_draw_but_not_of_a_cancelled_reinspection(db):
    from server.accounts.models.user import User
    from server.draws.disclosure import shows_teams
    from server.draws.models.draw import Draw

    auditor = User(role="auditor")
    sample, reinspection = Draw(status="cancelled", purpose="sample"), Draw(status="cancelled", purpose="reinspection")
    assert shows_teams(sample, auditor) and not shows_teams(reinspection, auditor)
    assert not shows_teams(Draw(status="committed", purpose="sample"), auditor)
    assert shows_teams(reinspection, User(role="office"))
