"""What a bulletin prints: figures numbered 图 1, 图 2, … through the whole issue (in the HTML, the
PDF and the editor's thumbnails); an item's text does not repeat its heading; no telephone
number at all, masked or not; and after each step the page says what happened and what is next."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import date

import pytest
from material_world import make_assignment, material_world, world  # noqa: F401  (fixtures)
from web_session import csrf, login

from server.extensions import db
from server.pdf.rendering import render_html
from server.publicity import bulletin_print, bulletins, materials
from server.publicity.masking import strip_phone_numbers
from server.publicity.models.material import Bulletin, MaterialItem

YEAR = 2038  # a year no other test publishes in
PHONES = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)|1[3-9]\d\*{4}\d{4}|0\d{2,3}-\d{7,8}")


@pytest.mark.parametrize("text, printed", [
    ("登记台账完整。负责人张某逐一查验并登记，场所公示的防疫联系电话为138****1234，做法值得学习借鉴。",
     "登记台账完整。负责人张某逐一查验并登记，做法值得学习借鉴。"),
    ("张某介绍每日消杀一次并留存记录（联系电话138****1234），现场秩序井然。",
     "张某介绍每日消杀一次并留存记录，现场秩序井然。"),
    ("入口张贴场所码，经营者手机138****1234在门口公示，便于群众监督。", "入口张贴场所码，便于群众监督。"),
    ("负责人张某拒绝配合登记，联系电话158****1234，门口停放车辆浙G·***45。",
     "负责人张某拒绝配合登记，门口停放车辆浙G·***45。"),
    ("登记台账完整，联系电话13812345678。下一句。", "登记台账完整。下一句。"),
    ("值班室电话（0579-82345678）无人接听。", "值班室电话无人接听。"),
    ("举报人手机 +86 139 1234 5678。其后。", "其后。"),
    ("经营者座机*******78，拒不整改。", "拒不整改。"),
    ("核定人数50人，面积120平方米，身份证330702************。", "核定人数50人，面积120平方米，身份证330702************。"),
])
def test_strip_phone_numbers(text, printed):
    assert strip_phone_numbers(text) == printed
    assert not PHONES.search(strip_phone_numbers(text))


@pytest.mark.parametrize("title, text, printed", [
    ("入口查验有序", "入口查验有序。登记台账完整。", "登记台账完整。"),
    ("入口查验有序，登记台账完整", "入口查验有序，登记台账完整。负责人亲自查验。", "负责人亲自查验。"),
    ("未查验行程卡", "未查验行程卡。", ""),  # one sentence: the heading alone
    ("入口", "入口处无人查验。", "入口处无人查验。"),  # the heading only starts the sentence
    ("入口查验有序，登记台账完整，负责人…", "入口查验有序，登记台账完整，负责人亲自查验。", "入口查验有序，登记台账完整，负责人亲自查验。"),
    ("本期标题", "正文另起。", "正文另起。"),
])
def test_an_item_text_does_not_repeat_its_heading(title, text, printed):
    assert bulletin_print.without_heading(title, text) == printed


def approved_items(material_world) -> list[MaterialItem]:
    office = material_world.users["office"]
    materials.collect_note_candidates(office)
    items = list(db.session.scalars(db.select(MaterialItem).where(
        MaterialItem.inspection_id == material_world.inspection.id).order_by(MaterialItem.id)))
    for item in items:
        materials.review_material(item, "approved", actor=office)
    return items


def compose(material_world, items, editorial="现将通报如下。如有疑问请致电13912345678。") -> Bulletin:
    return bulletins.create_bulletin(actor=material_world.users["propaganda"], title="正反典型通报",
                                     period_start=date(2026, 3, 1), period_end=date(2026, 3, 31),
                                     editorial=editorial, item_ids=[item.id for item in items])


def figures_in(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"图\s*(\d+)", text)]


def test_figures_run_on_through_the_issue_and_no_phone_is_printed(db, material_world, tmp_path):
    items = approved_items(material_world)
    # negative first in the chosen order: the issue still prints the positive section first
    items.sort(key=lambda item: item.kind != "negative")
    bulletin = compose(material_world, items)
    photos = sum(len(item.photos) for item in items)
    assert photos > len(items) > 1

    context = bulletin_print.build_context(bulletin, date(YEAR, 2, 1))
    printed = [photo["figure"] for section in ("positive", "negative") for entry in context[section]
               for photo in entry["photos"]]
    assert printed == list(range(1, photos + 1))
    for section in ("positive", "negative"):
        for entry in context[section]:
            assert not (entry["paragraphs"] and entry["paragraphs"][0].startswith(entry["title"]))
    html = render_html("bulletin", doc={"number": "第　期", "draft": True, "created": "2038-02-01T00:00:00"},
                       ctx=context)
    figures = figures_in(re.sub(r'alt="[^"]*"', "", html))
    assert figures == list(range(1, photos + 1))
    assert not PHONES.search(html) and "联系电话" not in html and "致电" not in html

    office, propaganda = material_world.users["office"], material_world.users["propaganda"]
    bulletins.transition(bulletin, "submit", actor=propaganda)
    bulletins.transition(bulletin, "approve", actor=office)
    bulletins.publish_bulletin(bulletin, actor=propaganda, issued_on=date(YEAR, 2, 1))
    assert not PHONES.search(json.dumps(bulletin.context, ensure_ascii=False))
    pdf = bulletins.published_pdf(bulletin, propaganda)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True,
                          timeout=120).stdout.decode()
    flat = "".join(text.split())
    assert figures_in(flat) == list(range(1, photos + 1))
    assert not PHONES.search(flat) and "联系电话" not in flat
    assert not re.search(r"1[3-9]\d[\d*]{4}\d{4}", flat)


def test_editor_shows_thumbnails_with_the_printed_figure_numbers(client, material_world):
    items = approved_items(material_world)
    bulletin = compose(material_world, items)
    login(client, material_world.users["propaganda"])
    page = client.get(f"/bulletins/{bulletin.id}").get_data(as_text=True)
    thumbnails = re.findall(r'<img src="/materials/(\d+)/photos/(\d+)/image"', page)
    assert len(thumbnails) == sum(len(item.photos) for item in items)
    numbers = bulletin_print.figures(bulletin)
    shown = [int(n) for n in re.findall(r'alt="图 (\d+)（遮挡后）"', page)]
    # in the editor's order of items, each photo carries the number it is printed with
    assert shown == [photo["figure"] for entry in bulletin.entries for photo in numbers[entry.material_item_id]]
    assert sorted(shown) == list(range(1, len(thumbnails) + 1))
    for item_id, position in thumbnails:
        with client.get(f"/materials/{item_id}/photos/{position}/image") as response:
            assert response.status_code == 200 and response.mimetype == "image/jpeg"
    start = page.index('<ol class="bulletin-entries">')
    printed_items = page[start:page.index("</ol>", start)]
    assert not PHONES.search(printed_items)  # the editorial's textarea holds what was typed, as typed
    for entry in bulletin.entries:
        wording = bulletin_print.entry_wording(entry)
        assert not wording["text"].startswith(wording["title"])


def test_each_step_says_what_happened_and_what_comes_next(client, material_world):
    items = approved_items(material_world)
    bulletin = compose(material_world, items[:1], editorial="")
    office, propaganda = material_world.users["office"], material_world.users["propaganda"]
    url = f"/bulletins/{bulletin.id}"

    def act(action: str) -> str:
        return client.post(f"{url}/transition", data={"csrf_token": csrf(client, url), "action": action,
                                                      "confirm": "y"}, follow_redirects=True).get_data(as_text=True)

    login(client, propaganda)
    page = act("submit")
    assert "简报已提交审核，等待领导小组办公室审核" in page and "简报状态已更新" not in page
    login(client, office)
    assert "简报已退回草稿，撰写人修改后可重新提交审核" in act("return")
    login(client, propaganda)
    act("submit")
    login(client, office)
    assert "简报已审核通过，可以发布" in act("approve")
    login(client, propaganda)
    page = client.post(f"{url}/publish", data={"csrf_token": csrf(client, url), "confirm": "y"},
                       follow_redirects=True).get_data(as_text=True)
    db.session.expire_all()
    issue = db.session.get(Bulletin, bulletin.id)
    assert issue.state == "published"
    assert f"简报已发布，期号 {issue.year}年第{issue.serial}期；PDF 已生成，可在本页下载" in page
