"""Closing a draw by hand first lists what is unfinished — sealed, dispatched or under way, by
number, status, window and team size, never a target — and closes only once that is confirmed:
the page's confirmation step, the service's refusal (which the API and the CLI answer with; their
own tests are in test_draws_api.py and test_cli_draws.py). Draw pages never print "None"."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from test_web_draws import after_window, csrf, demo, login, new_draw  # noqa: F401  (fixture)

from server.accounts.models.user import User
from server.columns import as_utc, local_text
from server.draws import assignments as assignment_service
from server.draws.closing import CloseNotConfirmed, close_draw, unfinished_assignments
from server.draws.models.draw import Draw


def _office(db) -> User:
    return db.session.scalar(sa.select(User).where(User.username == "office"))


def _with_one_dispatched(client, db) -> Draw:
    login(client, "office")
    draw = new_draw(client, db)
    assignment_service.dispatch(draw.assignments[1], _office(db), channel="web")
    db.session.commit()
    return draw


def test_the_confirmation_step_lists_sealed_and_dispatched_assignments_without_targets(client, db, demo,
                                                                                      monkeypatch):
    draw = _with_one_dispatched(client, db)
    after_window(monkeypatch, draw)
    close_url = f"/draws/{draw.id}/close"
    detail = client.get(f"/draws/{draw.id}").get_data(as_text=True)
    assert f'href="{close_url}"' in detail and f'action="{close_url}"' not in detail

    page = client.get(close_url).get_data(as_text=True)
    assert "还有 4 项任务未完成" in page and page.count("已封存") == 3 and "已派发" in page
    first = draw.assignments[0]
    window = f"{local_text(as_utc(first.window_start))} — {local_text(as_utc(first.window_end))}"
    assert "第 1 组" in page and window in page and f"{len(first.members)} 人" in page
    for assignment in draw.assignments:
        assert assignment.venue.name not in page and assignment.venue.address not in page
    assert f'action="{close_url}"' in page and "我已核对上列未完成的任务" in page

    # Without the box ticked nothing closes, and the person is sent back to the list.
    unticked = client.post(close_url, data={"csrf_token": csrf(client, close_url)})
    assert unticked.status_code == 302 and unticked.headers["Location"].endswith(close_url)
    db.session.refresh(draw)
    assert draw.status == "committed" and draw.revealed_seed is None
    closed = client.post(close_url, data={"csrf_token": csrf(client, close_url), "confirm": "y"})
    assert closed.status_code == 302
    db.session.refresh(draw)
    assert draw.status == "closed" and draw.revealed_seed


def test_before_the_window_ends_the_step_says_only_cancel(client, db, demo):
    login(client, "office")
    draw = new_draw(client, db)
    page = client.get(f"/draws/{draw.id}/close").get_data(as_text=True)
    assert "窗口结束前只能取消（须说明理由）" in page and 'name="confirm"' not in page


def test_service_refuses_an_unconfirmed_close_with_the_list_and_closes_a_finished_draw(client, db, demo,
                                                                                       monkeypatch):
    draw = _with_one_dispatched(client, db)
    later = as_utc(draw.window_end)
    with pytest.raises(CloseNotConfirmed) as refused:
        close_draw(draw, _office(db), now=later, confirmed=False)
    listed = refused.value.extra["unfinished_assignments"]
    assert [(row["position"], row["status_label"]) for row in listed] == [
        (1, "已封存"), (2, "已派发"), (3, "已封存"), (4, "已封存")]
    assert all(row["team_size"] == len(draw.assignments[0].members) for row in listed)
    assert "已封存 3 项、已派发 1 项" in refused.value.detail
    names = {a.venue.name for a in draw.assignments}
    assert not any(name in refused.value.detail or name in str(listed) for name in names)
    assert draw.status == "committed"

    # Nothing unfinished: nothing to confirm.
    for assignment in draw.assignments:
        assignment.status = "submitted"
    db.session.flush()
    assert unfinished_assignments(draw) == []
    close_draw(draw, _office(db), now=later, confirmed=False)
    assert draw.status == "closed"


@pytest.mark.parametrize("who", ["office", "auditor"])
def test_draw_pages_never_print_none(app, client, db, demo, who):
    login(client, "office")
    draw = new_draw(client, db)
    # A draw whose parameters lack the team size (an older draw) and whose creation counts are gone.
    draw.parameters = {key: value for key, value in draw.parameters.items() if key != "team"}
    db.session.commit()
    reader = app.test_client()
    login(reader, who)
    page = reader.get(f"/draws/{draw.id}").get_data(as_text=True)
    assert "None" not in page and "每组人数" not in page
