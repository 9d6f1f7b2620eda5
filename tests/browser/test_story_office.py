"""The office's story: log in, draw (新建抽查), see the sealed draw, dispatch one team with the
confirmation ticked, and find the assignment dispatched on the draw page."""

from __future__ import annotations

from browser_steps import dispatch_first, new_draw
from playwright.sync_api import expect


def test_office_draws_and_dispatches(story):
    page = story.login("office")
    draw_id = new_draw(story, page, sample_size=2)
    tasks = page.get_by_role("table", name="本次抽查的任务")
    expect(tasks.get_by_role("row")).to_have_count(3)  # the header and two assignments
    expect(tasks).to_contain_text("已封存")

    dispatched = dispatch_first(story, page, draw_id)
    dispatched_row = tasks.get_by_role("row").filter(has_text="已派发")
    expect(dispatched_row).to_have_count(1)
    expect(dispatched_row.get_by_role("button", name="派发")).to_have_count(0)
    # The other assignment is still sealed and can still be dispatched; the dispatched one cannot.
    expect(tasks.get_by_role("button", name="派发")).to_have_count(1)
    expect(page.get_by_role("list").filter(has_text="已派发：1")).to_be_visible()
    story.snap(page, "draw-after-dispatch")

    # The list of draws shows the new draw.
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="抽查派单").click()
    expect(page.get_by_role("link", name=f"第 {draw_id} 号")).to_be_visible()
    story.snap(page, "draw-list")
    assert dispatched.assignment_id > 0
