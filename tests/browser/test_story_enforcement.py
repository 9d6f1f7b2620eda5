"""Enforcement's story: from the violation queue, open a case (立案), take it through 调查 and
告知 to 决定 with the confirmation ticked, and download the decision (决定书) PDF from the link
on the case page: a real PDF whose text carries the document number shown on the page."""

from __future__ import annotations

import re
import subprocess

from playwright.sync_api import expect

# 传染病防治法 第一百一十一条第一款第（一）项: warning or fine for refusing epidemic-control measures.
BASIS = "idpl2025_art111_1_1"


def transition(story, page, action: str, fill=None) -> None:
    section = page.get_by_role("region", name=action)
    if fill:
        fill(section)
    story.snap(page, f"before-{action}")
    section.get_by_role("button", name=action).click()
    expect(page.get_by_role("status")).to_contain_text("案件已转入")
    story.snap(page, f"after-{action}")


def penalty(section) -> None:
    # The basis is picked from the list of those in force, labelled with the article and its range.
    basis = section.get_by_label("法律依据")
    expect(basis.locator("option", has_text="《传染病防治法》第一百一十一条第一款第（一）项")).to_have_count(1)
    basis.select_option(value=BASIS)
    # The article makes the order to correct and the warning go together (第一百一十一条).
    section.get_by_label(re.compile("种类$")).select_option(label="责令改正、警告")


def test_enforcement_decides_and_downloads_the_decision(story, tmp_path):
    page = story.login("enforcement")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="执法办案").click()
    story.snap(page, "cases")
    page.get_by_role("link", name="待处理的违规问题").click()
    expect(page.get_by_role("heading", name="待处理的违规问题")).to_be_visible()
    first = page.get_by_role("checkbox", name=re.compile(r"^选择 \d+ 立案$")).first
    violation_id = re.search(r"\d+", first.get_attribute("aria-label")).group(0)
    first.check()
    story.snap(page, "violation-selected")
    page.get_by_role("button", name="用所选问题立案").click()

    expect(page.get_by_role("heading", name="立案")).to_be_visible()
    expect(page.get_by_role("group", name="违规问题").get_by_role("checkbox", checked=True)).to_have_count(1)
    # The party comes prefilled from the venue's register entry; the officer checks it.
    expect(page.get_by_label("当事人类型")).to_have_value("unit")
    for label in ("单位名称", "统一社会信用代码", "法定代表人"):
        expect(page.get_by_label(label)).not_to_have_value("")
    expect(page.get_by_label("地址", exact=True)).not_to_have_value("")
    page.get_by_label("违法情节").select_option(label="初次违法")
    officers = page.get_by_label("承办人二").locator("option")
    second = next(text for text in officers.all_inner_texts()
                  if text != page.get_by_label("承办人一").locator("option:checked").inner_text())
    page.get_by_label("承办人二").select_option(label=second)
    story.snap(page, "open-case-form")
    page.get_by_role("button", name="立案").click()
    heading = page.get_by_role("heading", name=re.compile(r"第 \d+ 号案件"))
    expect(heading.locator(".status")).to_have_text("立案")
    expect(page.get_by_role("status")).to_contain_text("已立案")
    story.snap(page, "case-filed")

    transition(story, page, "开始调查取证")
    expect(heading.locator(".status")).to_have_text("调查取证")
    transition(story, page, "告知拟处罚", penalty)
    expect(heading.locator(".status")).to_have_text("告知")

    def decide(section):
        penalty(section)
        section.get_by_label("当事人放弃陈述、申辩").check()
        section.get_by_label("我已核对，确认提交").check()

    transition(story, page, "作出处罚决定", decide)
    expect(heading.locator(".status")).to_have_text("决定")

    documents = page.get_by_role("table", name="已出具的文书")
    decision = documents.get_by_role("row").filter(has_text="决定书")
    expect(decision).to_have_count(1)
    number = decision.get_by_role("cell").nth(1).inner_text().strip()
    assert re.search(r"〔\d{4}〕\d+号", number), number
    story.snap(page, "case-decided")

    link = decision.get_by_role("link", name="下载 PDF")
    response = page.context.request.get(link.get_attribute("href"))
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "decision.pdf"
    pdf.write_bytes(response.body())
    assert pdf.read_bytes().startswith(b"%PDF")
    (story.folder / "decision.pdf").write_bytes(pdf.read_bytes())
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert number in re.sub(r"[ \t]+", "", text), text[:2000]

    # The violation has left the queue: it belongs to the case now.
    page.goto("/violations")
    expect(page.get_by_role("checkbox", name=f"选择 {violation_id} 立案", exact=True)).to_have_count(0)
