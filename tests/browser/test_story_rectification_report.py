"""属地 reports a rectification done, the office confirms it: the county user, on a phone, opens
the demo's order in their territory, writes what was put right and attaches a photo; the office
sees the report waiting, looks at the photo and confirms; the order is then due for its
re-inspection (the next scheduling run draws a team for it)."""

from __future__ import annotations

import io
import re

from PIL import Image
from playwright.sync_api import expect


def jpeg(tmp_path) -> str:
    path = tmp_path / "整改后.jpg"
    image = Image.new("RGB", (640, 480), (200, 210, 220))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    path.write_bytes(buffer.getvalue())
    return str(path)


def test_county_reports_done_with_a_photo_and_the_office_confirms(story, tmp_path):
    county = story.login("county", page=story.open_phone())
    county.get_by_role("button", name="菜单").click()
    county.get_by_role("navigation", name="主导航").get_by_role("link", name="整改跟踪").click()
    expect(county.get_by_role("heading", level=1)).to_contain_text("整改")
    story.snap(county, "county-orders")
    county.get_by_role("link", name=re.compile(r"^第 \d+ 号$")).first.click()
    heading = county.get_by_role("heading", level=1)
    expect(heading).to_have_text(re.compile(r"^第 \d+ 号整改通知$"))
    order_id = re.search(r"\d+", heading.inner_text()).group()

    # Without a note the server answers in Chinese next to the field; nothing is stored.
    county.get_by_label("整改后的照片").set_input_files(jpeg(tmp_path))
    county.get_by_role("button", name="报告整改完成").click()
    expect(county.get_by_text(re.compile("整改情况说明|请填写|不能为空|必填")).first).to_be_visible()
    story.snap(county, "county-note-missing")

    county.get_by_label("整改情况说明").fill("已在入口张贴场所码，安排专人查验健康码、测温，补全防控台账。")
    county.get_by_label("整改后的照片").set_input_files(jpeg(tmp_path))
    county.get_by_role("button", name="报告整改完成").click()
    expect(county.get_by_text("已报告整改完成，等待领导小组办公室确认")).to_be_visible()
    expect(county.get_by_role("heading", name=re.compile("报告（.*）：待确认|待.*确认"))).to_be_visible()
    expect(county.get_by_role("main").get_by_role("img").first).to_be_visible()
    story.snap(county, "county-reported")

    office = story.login("office")
    office.goto("/rectification")
    waiting = office.get_by_role("table", name="待确认的整改完成报告")
    expect(waiting).to_contain_text(f"第 {order_id} 号")
    story.snap(office, "office-waiting")
    waiting.get_by_role("link", name=f"第 {order_id} 号").click()
    photo = office.get_by_role("main").get_by_role("img").first
    expect(photo).to_be_visible()
    assert office.evaluate("(img) => img.naturalWidth", photo.element_handle()) > 0
    office.get_by_role("button", name="确认整改完成，安排复查").click()
    expect(office.get_by_text(f"已确认第 {order_id} 号整改通知整改完成")).to_be_visible()
    story.snap(office, "office-confirmed")

    # The county sees the report confirmed and the order waiting for its re-inspection.
    county.reload()
    expect(county.get_by_role("heading", name=re.compile("已确认"))).to_be_visible()
    expect(county.get_by_text("待复查").first).to_be_visible()
    story.snap(county, "county-after-confirmation")
