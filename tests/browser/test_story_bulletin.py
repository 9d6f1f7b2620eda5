"""Propaganda and the office: the office adopts (采用) a material item; propaganda builds a bulletin
from it and submits it; the office approves; propaganda publishes and downloads the PDF."""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timedelta

from browser_steps import CHINA_STANDARD_TIME
from playwright.sync_api import expect

TITLE = "疫情防控督查正反典型（浏览器演示）"


def bulletin_state(page):
    return page.get_by_role("term").filter(has_text="状态").locator("xpath=following-sibling::dd[1]")


def test_bulletin_from_adopted_material_to_published_pdf(story, tmp_path):
    propaganda = story.login("propaganda")
    propaganda.get_by_role("navigation", name="主导航").get_by_role("link", name="典型材料").click()
    propaganda.get_by_label("状态").select_option(label="待审核")
    propaganda.get_by_role("button", name="筛选").click()
    candidates = propaganda.get_by_role("table", name="典型材料列表")
    expect(candidates).to_contain_text("待审核")
    story.snap(propaganda, "materials-candidates")
    item_id = candidates.get_by_role("row").nth(1).get_by_role("link").inner_text().strip()

    office = story.login("office")
    office.get_by_role("navigation", name="主导航").get_by_role("link", name="典型材料").click()
    office.get_by_role("table", name="典型材料列表").get_by_role("link", name=item_id, exact=True).click()
    expect(office.get_by_role("heading", name="原始记录（仅领导小组办公室可见）")).to_be_visible()
    office.get_by_label("审核结论").select_option(label="采用")
    story.snap(office, "material-review")
    office.get_by_role("button", name="保存审核结论").click()
    expect(office.get_by_role("status")).to_contain_text("审核结论已保存")
    story.snap(office, "material-adopted")

    # Propaganda sees the masked title of the adopted item and builds the bulletin from it.
    propaganda.get_by_role("navigation", name="主导航").get_by_role("link", name="典型材料").click()
    row = propaganda.get_by_role("table", name="典型材料列表").get_by_role("row").filter(
        has=propaganda.get_by_role("link", name=item_id, exact=True))
    title = row.get_by_role("cell").nth(2).inner_text().strip()
    propaganda.get_by_role("navigation", name="主导航").get_by_role("link", name="简报").click()
    today = datetime.now(CHINA_STANDARD_TIME).date()
    propaganda.get_by_label("标题").fill(TITLE)
    propaganda.get_by_label("统计期间自").fill((today - timedelta(days=7)).isoformat())
    propaganda.get_by_label("至", exact=True).fill(today.isoformat())
    propaganda.get_by_label("编者按与正文（每段一行）").fill("本周督查发现的正反典型如下，请各地对照整改。")
    materials = propaganda.get_by_role("group", name="选用的典型材料（仅限已采用的）")
    materials.get_by_label(re.compile(re.escape(title) + "$")).check()
    story.snap(propaganda, "bulletin-form")
    propaganda.get_by_role("button", name="创建草稿").click()
    expect(propaganda.get_by_role("heading", name=TITLE)).to_be_visible()
    expect(propaganda.get_by_role("status")).to_contain_text("简报草稿已创建")
    expect(propaganda.get_by_role("main")).to_contain_text(title)
    bulletin_url = propaganda.url
    propaganda.get_by_role("button", name="提交审核").click()
    expect(bulletin_state(propaganda)).to_have_text("已提交")
    story.snap(propaganda, "bulletin-submitted")

    office.get_by_role("navigation", name="主导航").get_by_role("link", name="简报").click()
    story.snap(office, "bulletins")
    office.goto(bulletin_url)
    office.get_by_label("确认审核通过").check()
    office.get_by_role("button", name="审核通过").click()
    expect(bulletin_state(office)).to_have_text("已审核")
    story.snap(office, "bulletin-approved")

    propaganda.reload()
    propaganda.get_by_label("确认发布：发布后期号、内容和 PDF 均不可更改").check()
    propaganda.get_by_role("button", name="发布").click()
    expect(bulletin_state(propaganda)).to_have_text("已发布")
    story.snap(propaganda, "bulletin-published")

    with propaganda.expect_download() as download:
        propaganda.get_by_role("link", name="下载 PDF").click()
    pdf = tmp_path / "bulletin.pdf"
    download.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    (story.folder / "bulletin.pdf").write_bytes(pdf.read_bytes())
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert TITLE in re.sub(r"\s+", "", text), text[:2000]
