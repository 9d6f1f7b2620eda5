"""The team's story: the office dispatches in the browser and phones the code; the team's field
client (`anfang-field`, its own --home) logs in, pulls, reveals with the code, records a K3
violation with a photo and a proposed penalty, submits and syncs against the live server; then
the office follows it on the draw and inspection pages, and enforcement finds the violation in
its queue."""

from __future__ import annotations

import re
import sqlite3

from browser_steps import dispatch_first, field, new_draw
from PIL import Image
from playwright.sync_api import expect


def test_field_client_records_and_enforcement_sees_the_violation(story, tmp_path):
    office = story.login("office")
    draw_id = new_draw(story, office)
    dispatched = dispatch_first(story, office, draw_id)

    # The office knows its teams; there is no page yet that lists a team's usernames.
    leader = story.site.query(
        "SELECT u.username FROM assignment_member m JOIN user_account u ON u.id = m.user_id"
        " WHERE m.assignment_id = :id ORDER BY m.is_leader DESC, u.username", id=dispatched.assignment_id)[0][0]

    home = tmp_path / "device"
    field(story, home, "login", "--server", story.site.url, "--user", leader, "--password-stdin",
          input=story.site.password + "\n")
    assert "已下载" in field(story, home, "pull")
    assert str(dispatched.assignment_id) in field(story, home, "list")
    revealed = field(story, home, "reveal", dispatched.assignment_id, "--code", dispatched.code,
                     "--lat", "29.31", "--lon", "120.08")
    venue = re.search(r"督查对象：(.+?)，地址", revealed).group(1)

    # More visitors than any museum's approved capacity: over half of it whatever the venue.
    recorded = field(story, home, "record", dispatched.assignment_id, "--set", "k3_visitors=100000")
    assert "违规" in recorded and "K3" in recorded
    connection = sqlite3.connect(home / "field.sqlite3")
    try:
        ((finding,),) = connection.execute("SELECT uuid FROM findings WHERE withdrawn_at IS NULL").fetchall()
    finally:
        connection.close()
    photo = tmp_path / "entrance.jpg"
    Image.new("RGB", (320, 240), (180, 40, 40)).save(photo, "JPEG", quality=85)
    field(story, home, "photo", dispatched.assignment_id, photo, "--finding", finding[:8], "--caption", "入口排队人员密集")
    field(story, home, "penalty", dispatched.assignment_id, "--finding", finding[:8], "--type", "warning")
    field(story, home, "submit", dispatched.assignment_id)
    field(story, home, "sync")
    assert "待同步操作：0 项" in field(story, home, "status")

    # The office's draw page follows the progress.
    office.reload()
    expect(office.get_by_role("table", name="本次抽查的任务")).to_contain_text("已提交")
    story.snap(office, "draw-after-sync")
    # … and the record itself, with the photo received in full.
    office.get_by_role("navigation", name="主导航").get_by_role("link", name="督查记录").click()
    # The demo's week of records may hold another visit to a venue of the same name: this draw's row.
    record = (office.get_by_role("table", name="督查记录列表").get_by_role("row").filter(has_text=venue)
              .filter(has_text=f"抽查 {dispatched.draw_id} 第"))
    expect(record).to_have_count(1)
    expect(record).to_contain_text("1 / 1")
    story.snap(office, "inspections")
    record.get_by_role("link", name=re.compile(r"^第 \d+ 号$")).click()
    expect(office.get_by_role("main")).to_contain_text("K3")
    expect(office.get_by_role("main")).to_contain_text(venue)
    story.snap(office, "inspection-record")

    enforcement = story.login("enforcement")
    enforcement.get_by_role("navigation", name="主导航").get_by_role("link", name="执法办案").click()
    enforcement.get_by_role("link", name="待处理的违规问题").click()
    expect(enforcement.get_by_role("heading", name="待处理的违规问题")).to_be_visible()
    # This record's violation: the demo's week may hold others at a venue of the same name.
    [(violation_id,)] = story.site.query(
        "SELECT v.id FROM violation v JOIN inspection i ON i.id = v.inspection_id WHERE i.assignment_id = :id",
        id=dispatched.assignment_id)
    row = enforcement.get_by_role("row").filter(
        has=enforcement.get_by_role("checkbox", name=f"选择 {violation_id} 立案", exact=True))
    expect(row).to_have_count(1)
    expect(row).to_contain_text(venue)
    # The queue names the rule by its requirement, not its code.
    expect(row).to_contain_text("接待人数不超过核定人数的50%")
    expect(row).not_to_contain_text("K3")
    story.snap(enforcement, "violation-queue")
