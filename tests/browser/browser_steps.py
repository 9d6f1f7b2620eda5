"""Steps several browser stories share: the office draws museums and dispatches one assignment."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from playwright.sync_api import expect

CHINA_STANDARD_TIME = timezone(timedelta(hours=8))
# 博物馆 falls under rule K3 (visitors ≤ 50 % of capacity): a count the field client can get wrong.
DRAW_CATEGORY = "博物馆"
DRAW_COUNTIES = ("义乌市", "东阳市", "婺城区")
ANFANG_FIELD = Path(sys.executable).with_name("anfang-field")


@dataclass
class Dispatched:
    draw_id: int
    assignment_id: int
    code: str


def local_minute(moment: datetime) -> str:
    """A datetime-local input's value in China Standard Time, the pages' time."""
    return moment.astimezone(CHINA_STANDARD_TIME).strftime("%Y-%m-%dT%H:%M")


def new_draw(story, page, *, sample_size: int = 1) -> int:
    """新建抽查 through the form; returns the draw's number shown on its page."""
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="抽查派单").click()
    expect(page.get_by_role("heading", name="抽查派单")).to_be_visible()
    story.snap(page, "draws")
    page.get_by_role("link", name="新建抽查").click()
    expect(page.get_by_role("heading", name="新建抽查")).to_be_visible()
    for county in DRAW_COUNTIES:
        page.get_by_role("group", name="县（市、区）").get_by_label(county, exact=True).check()
    page.get_by_role("group", name="场所类别").get_by_label(DRAW_CATEGORY, exact=True).check()
    page.get_by_label("抽取场所数").fill(str(sample_size))
    now = datetime.now(timezone.utc)
    # Open now, so the team can reveal at once; the form takes minutes, so start a little earlier,
    # but never on the Beijing day before: an assignment's day is its window start's, and a day
    # already over can no longer be dispatched.
    midnight = now.astimezone(CHINA_STANDARD_TIME).replace(hour=0, minute=0, second=0, microsecond=0)
    page.get_by_label("时间窗口开始").fill(local_minute(max(now - timedelta(minutes=10), midnight)))
    page.get_by_label("时间窗口结束").fill(local_minute(now + timedelta(hours=3)))
    page.get_by_label("每组人数").fill("2")
    page.get_by_label("集合地点").fill("市公安局一楼大厅")
    story.snap(page, "new-draw-form")
    page.get_by_role("button", name="抽取并封存").click()
    heading = page.get_by_role("heading", name=re.compile(r"抽查第 \d+ 号"))
    expect(heading).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("待纪检监察人员录入随机数")
    story.snap(page, "draw-awaiting-share")
    draw_id = int(re.search(r"第 (\d+) 号", heading.inner_text()).group(1))
    enter_share(story, draw_id)
    page.reload()
    expect(page.get_by_role("table", name="本次抽查的任务")).to_contain_text("已封存")
    story.snap(page, "draw-sealed")
    return draw_id


def enter_share(story, draw_id: int) -> None:
    """The auditor completes the draw's seed: 随机生成 in their own browser, then 录入并生成任务."""
    auditor = story.login("auditor")
    auditor.goto(f"/draws/{draw_id}/contribution")
    expect(auditor.get_by_role("heading", name=re.compile(fr"抽查第 {draw_id} 号"))).to_be_visible()
    auditor.get_by_role("button", name="随机生成").click()
    share = auditor.get_by_label("随机数").input_value()
    assert re.fullmatch(r"[0-9a-f]{32}", share), share
    story.snap(auditor, "auditor-share")
    auditor.get_by_role("button", name="录入并生成任务").click()
    expect(auditor.get_by_role("status")).to_contain_text("随机数已录入")
    story.snap(auditor, "auditor-share-entered")
    auditor.context.close()
    story.pages.remove(auditor)


def dispatch_first(story, page, draw_id: int) -> Dispatched:
    """派发 the first sealed assignment of the draw page shown, with the confirmation ticked."""
    row = page.get_by_role("row").filter(has=page.get_by_role("button", name="派发")).first
    action = row.get_by_role("button", name="派发").locator("xpath=ancestor::form").get_attribute("action")
    assignment_id = int(re.search(r"/assignments/(\d+)/dispatch", action).group(1))
    row.get_by_label("确认派发：揭封码只显示一次").check()
    story.snap(page, "dispatch-confirmed")
    row.get_by_role("button", name="派发").click()
    expect(page.get_by_role("heading", name="任务已派发")).to_be_visible()
    code = page.locator("#reveal-code").inner_text().strip()
    assert re.fullmatch(r"[0-9A-Z]{5}-[0-9A-Z]{5}", code), code
    story.snap(page, "dispatched-code")
    page.get_by_role("link", name="返回抽查").click()
    expect(page.get_by_role("heading", name=re.compile(fr"抽查第 {draw_id} 号"))).to_be_visible()
    return Dispatched(draw_id, assignment_id, code)


# --- the field client ------------------------------------------------------------------------------


def field(story, home: Path, *args, input: str | None = None) -> str:
    """`anfang-field --home HOME …` as the inspector types it; fails the story on a non-zero exit."""
    result = subprocess.run([str(ANFANG_FIELD), "--home", str(home), *map(str, args)], input=input,
                            capture_output=True, text=True, timeout=120,
                            env={**story.site.environment, "COLUMNS": "200"})
    transcript = story.folder / "field-client.txt"
    with transcript.open("a", encoding="utf-8") as log:
        log.write(f"$ anfang-field {' '.join(map(str, args))}\n{result.stdout}{result.stderr}\n")
    assert result.returncode == 0, f"anfang-field {' '.join(map(str, args))}:\n{result.stdout}{result.stderr}"
    return result.stdout
