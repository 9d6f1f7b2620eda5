"""Propaganda gets faces pre-boxed: in the demo week one positive example's photo shows a person
by the door; the detector boxed her face before anyone opened the item, and the editor draws
that box dashed in orange (建议) over the already redacted picture, for the editor to keep, move
or delete."""

from __future__ import annotations

import re

from playwright.sync_api import expect

ORANGE_PIXELS = """(canvas) => {
  const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i] > 230 && data[i + 1] > 110 && data[i + 1] < 170 && data[i + 2] < 60 && data[i + 3] > 200) n++;
  }
  return n;
}"""


def test_propaganda_finds_the_demo_face_pre_boxed(story):
    page = story.login("propaganda")
    page.get_by_role("navigation", name="主导航", include_hidden=True).get_by_role("link", name="典型材料").click()
    links = page.get_by_role("main").get_by_role("link", name=re.compile(r"^\d+$"))
    expect(links.first).to_be_visible()
    addresses = [link.get_attribute("href") for link in links.all()]
    boxed = []
    for address in addresses:
        page.goto(address)
        if page.locator(".face-suggestions").count():
            boxed.append(address)
            break
    assert boxed, f"no item of {len(addresses)} has a suggested face box"
    notice = page.locator(".face-suggestions")
    expect(notice).to_contain_text(re.compile(r"系统自动识别到 \d+ 处人脸，已预先加框遮挡"))
    canvas = page.locator("canvas.redact-canvas").first
    expect(canvas).to_be_visible()
    page.wait_for_function("() => [...document.images].every(image => image.complete)")
    assert canvas.evaluate(ORANGE_PIXELS) > 50  # the dashed orange outline of the suggestion
    story.snap(page, "face-pre-boxed")
