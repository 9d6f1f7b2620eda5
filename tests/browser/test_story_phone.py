"""The phone app's stories (/field/), on a phone profile (390×844, touch, GPS) and a mid-size
Android one (412×915).

Main story: the office dispatches in the browser and phones the reveal code; the inspector opens
/field/, logs in, pulls, loses the network and reloads (the service worker serves the app),
reveals with the code on the keypad, checks in near the venue, fills the checklist so K3 is
violated (the live verdict shows the numbers), adds three photos with EXIF GPS through the file
chooser, proposes a fine, two people sign on the canvas, and submits. Back online, the page is
closed while a photo upload is in flight; the reopened app finishes the sync. The server then
holds the complete inspection, the photos' SHA-256 equal the originals', and the 检查记录 PDF
carries the signatures.

Second story: a wrong reveal code is refused with a clear Chinese message, and the right one opens.

Screens of both are kept at 390×844 in docs/screenshots/phone-*.png for the README.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import time

import pytest
from browser_steps import dispatch_first, new_draw
from phone_steps import (
    ANDROID,
    PHONE,
    api,
    draw_with_mouse,
    draw_with_touch,
    jpeg_with_gps,
    login_on_phone,
    office_token,
    pull_tasks,
    snap,
    team_of,
    type_code,
    venue_of,
    wait_for_complete,
)
from playwright.sync_api import expect


# --- stories -------------------------------------------------------------------------------------


def test_phone_inspection_offline_to_complete_record(story, phone_app, tmp_path):
    office = story.login("office")
    dispatched = dispatch_first(story, office, new_draw(story, office))
    team = team_of(story.site, dispatched.assignment_id)
    (leader, leader_name), *_ = team
    venue, latitude, longitude, capacity = venue_of(story.site, dispatched.assignment_id)
    assert capacity, "the drawn museum has an approved capacity (K3 compares against it)"

    phone = story.open_phone(**PHONE)
    context = phone.context
    login_on_phone(story, phone, leader, docs=True)
    # The service worker holds the shell before the network goes.
    phone.wait_for_function("navigator.serviceWorker.controller !== null")
    card = pull_tasks(phone, dispatched.assignment_id)
    expect(phone.locator("#sync-indicator")).to_contain_text("待同步 0 项 · 照片 0 张 · 上次同步")
    snap(story, phone, "phone-tasks", docs="tasks")

    # --- offline from here to the submission ---------------------------------------------------
    context.set_offline(True)
    phone.reload()
    expect(phone.locator("#sync-indicator")).to_contain_text("离线")
    expect(card).to_be_visible()
    card.click()
    expect(phone.get_by_role("heading", name=f"揭封任务 {dispatched.assignment_id}")).to_be_visible()
    expect(phone.get_by_role("button", name="联网揭封")).to_be_hidden()
    type_code(phone, dispatched.code)
    snap(story, phone, "phone-reveal-keypad", docs="reveal")
    phone.get_by_role("button", name="揭封", exact=True).click()
    expect(phone.get_by_role("heading", name=venue)).to_be_visible()
    expect(phone.get_by_text(f"{capacity} 人", exact=True)).to_be_visible()

    # About 40 m north of the venue.
    context.set_geolocation({"latitude": latitude + 0.00036, "longitude": longitude, "accuracy": 15})
    phone.get_by_role("button", name="使用手机定位签到").click()
    expect(phone.get_by_role("status").filter(has_text="已签到")).to_contain_text(re.compile(r"距场所 (3\d|4\d) 米"))
    snap(story, phone, "phone-checked-in", docs="checkin")

    # Checklist: half the capacity is compliant, one more is a violation, with the numbers shown.
    phone.get_by_role("link", name=re.compile("^检查")).click()
    expect(phone.get_by_role("heading", name="检查", exact=True)).to_be_visible()
    visitors = phone.get_by_role("spinbutton", name="现场接待人数（人）")
    half = capacity // 2
    visitors.fill(str(half))
    verdict = phone.locator(".rule").filter(has=phone.get_by_role("heading", name=re.compile("^K3"))).locator(".verdict")
    expect(verdict).to_contain_text("判定：合规")
    phone.get_by_role("button", name="增加：现场接待人数（人）").click()
    expect(visitors).to_have_value(str(half + 1))
    limit = f"{capacity // 2}" if capacity % 2 == 0 else f"{capacity // 2}.5"
    expect(verdict).to_contain_text("判定：违规")
    expect(verdict).to_contain_text(f"{half + 1} 人 > {limit} 人（核定人数 {capacity} 人的 50%）")
    snap(story, phone, "phone-checklist-violation", docs="checklist")
    phone.get_by_role("button", name="保存并返回").click()

    # The evaluator's finding; three photos through the file choosers (camera, then gallery).
    phone.get_by_role("link", name=re.compile("^问题与照片")).click()
    phone.get_by_role("link", name=re.compile("K3.*自动判定")).click()
    expect(phone.get_by_role("heading", name=re.compile("^问题：K3"))).to_be_visible()
    near = (latitude + 0.0002, longitude + 0.0002)
    photos = {}
    for n, (position, taken) in enumerate([(near, "2026:12:03 10:15:00"), (near, "2026:12:03 10:16:30"),
                                           ((latitude + 0.05, longitude), "2026:12:03 10:18:05")], start=1):
        path = tmp_path / f"museum-{n}.jpg"
        photos[path] = jpeg_with_gps(path, *position, seed=n, taken=taken)
    paths = list(photos)
    phone.get_by_label("照片说明（用于接下来添加的照片）").fill("展厅内游客拥挤")
    with phone.expect_file_chooser() as chooser:
        phone.get_by_text("拍照", exact=True).click()
    assert chooser.value.is_multiple()
    chooser.value.set_files(paths[:1])
    expect(phone.get_by_role("list", name="照片").get_by_role("listitem")).to_have_count(1)
    with phone.expect_file_chooser() as chooser:
        phone.get_by_text("从相册选择", exact=True).click()
    chooser.value.set_files(paths[1:])
    shown = phone.get_by_role("list", name="照片").get_by_role("listitem")
    expect(shown).to_have_count(3)
    first, second, far = (shown.filter(has_text=f"SHA-256 {digest[:12]}") for digest in photos.values())
    expect(first).to_contain_text("展厅内游客拥挤")
    expect(first).to_contain_text("拍摄时间：2026-12-03 10:15:00")
    expect(first).to_contain_text(re.compile(r"距场所 \d+ 米"))
    expect(second).to_contain_text("展厅内游客拥挤")
    expect(second).to_contain_text("拍摄时间：2026-12-03 10:16:30")
    expect(far).to_contain_text("位置远离场所")
    expect(far).to_contain_text("拍摄时间：2026-12-03 10:18:05")
    snap(story, phone, "phone-photos", docs="photos")

    # A proposed fine, checked on the phone against the legal basis in force (pulled with the tasks).
    phone.get_by_role("radiogroup", name="处罚种类").get_by_label("罚款").check()
    basis = phone.get_by_label("法律依据")
    # 治安管理处罚法 (拒不执行紧急状态下的决定、命令): warning or a fine within its benchmark.
    options = [option.inner_text() for option in basis.locator("option").all()]
    public_order = [label for label in options if "治安管理处罚法" in label]
    assert public_order, f"the phone holds no 治安管理处罚法 basis: {options}"
    basis.select_option(label=public_order[0])
    ranges = phone.get_by_text(re.compile(r"允许的罚款幅度：\d+–\d+ 元"))
    expect(ranges).to_be_visible()
    low, high = map(int, re.search(r"(\d+)–(\d+)", ranges.inner_text()).groups())
    phone.get_by_label("罚款金额（元）").fill(str(high + 1))
    expect(phone.get_by_text("超出该范围")).to_be_visible()
    amount = str(max(low, min(high, 200)))
    phone.get_by_label("罚款金额（元）").fill(amount)
    snap(story, phone, "phone-penalty", docs="penalty")
    phone.get_by_role("button", name="添加处罚建议").click()
    expect(phone.get_by_text(re.compile(f"^罚款 {amount} 元"))).to_be_visible()

    # A negative example for the bulletin.
    phone.get_by_role("link", name="‹ 返回问题列表").click()
    phone.get_by_role("link", name="‹ 返回记录").click()
    phone.get_by_role("link", name=re.compile("反面典型")).click()
    phone.get_by_label("说明").fill("展厅未限流，游客超过核定人数一半")
    phone.get_by_role("button", name="保存", exact=True).click()
    expect(phone.get_by_text("展厅未限流，游客超过核定人数一半")).to_be_visible()
    phone.get_by_role("link", name="‹ 返回记录").click()

    # Signatures: the summary first, then the team leader (mouse) and the venue's person (finger).
    phone.get_by_role("link", name=re.compile("^签字")).click()
    summary = phone.locator("section").filter(has=phone.get_by_role("heading", name="请核对记录"))
    expect(summary).to_contain_text(venue)
    expect(summary).to_contain_text(f"{half + 1} 人 > {limit} 人")
    expect(summary).to_contain_text("3 张")
    expect(summary).to_contain_text(f"罚款 {amount} 元")
    leader_card = phone.locator("section").filter(has=phone.get_by_role("heading", name=re.compile(f"^督查人员：{leader_name}")))
    leader_pad = leader_card.locator("canvas")
    leader_pad.scroll_into_view_if_needed()
    draw_with_mouse(phone, leader_pad)
    leader_card.get_by_role("button", name="重签").click()
    draw_with_mouse(phone, leader_pad)
    snap(story, phone, "phone-signing", docs="sign")
    leader_card.get_by_role("button", name="确认签字").click()
    expect(phone.get_by_role("heading", name="已签字（1 人）")).to_be_visible()
    venue_card = phone.locator("section").filter(has=phone.get_by_role("heading", name="被检查场所负责人"))
    venue_card.get_by_label("签字人姓名").fill("王建国")
    venue_pad = venue_card.locator("canvas")
    venue_pad.scroll_into_view_if_needed()
    draw_with_touch(phone, venue_pad)
    venue_card.get_by_role("button", name="确认签字").click()
    expect(phone.get_by_role("heading", name="已签字（2 人）")).to_be_visible()
    expect(phone.get_by_role("img", name="王建国的签名")).to_be_visible()
    phone.get_by_role("link", name="‹ 返回记录").click()

    # Submit: summary, confirmation, then read-only with 更正.
    phone.get_by_role("link", name=re.compile("^提交")).click()
    expect(phone.get_by_role("heading", name="提交记录")).to_be_visible()
    snap(story, phone, "phone-submit", docs="submit")
    phone.get_by_role("button", name="提交", exact=True).click()
    dialog = phone.get_by_role("dialog", name="确认提交督查记录？")
    expect(dialog).to_contain_text("照片 3 张")
    phone.get_by_role("button", name="确认提交").click()
    expect(phone.locator("#sync-indicator")).to_contain_text("离线")  # still offline: nothing was sent
    expect(phone.get_by_text(re.compile("提交，记录不能再修改"))).to_be_visible()
    expect(phone.get_by_role("link", name="更正")).to_be_visible()
    expect(phone.locator("#sync-indicator")).to_contain_text("照片 3 张")
    snap(story, phone, "phone-submitted", docs="submitted")

    # --- online again: the page is closed while a photo is on its way -------------------------
    held = []
    patches = []

    def hold_second_chunk(route):
        if route.request.method != "PATCH":
            route.continue_()
            return
        patches.append(route.request.url)
        if len(patches) == 1:
            route.continue_()  # the first chunk arrives
        else:
            held.append(route)  # the next one stays in flight

    phone.route("**/api/v1/uploads/**", hold_second_chunk)
    context.set_offline(False)
    deadline = time.monotonic() + 60
    while not held:
        assert time.monotonic() < deadline, "no photo upload started after going online"
        phone.wait_for_timeout(100)
    received = story.site.query(
        "SELECT count(*) FROM photo p JOIN inspection i ON i.id = p.inspection_id"
        " WHERE i.assignment_id = :id AND p.received_at IS NOT NULL", id=dispatched.assignment_id)[0][0]
    assert received == 0, "the page closes in the middle of the first photo"
    phone.close()

    reopened = context.new_page()
    story.pages.append(reopened)
    reopened.goto("/field/#/assignments")
    expect(reopened.locator("#sync-indicator")).to_contain_text("待同步 0 项 · 照片 0 张", timeout=90_000)
    inspection_uuid, status = wait_for_complete(story.site, dispatched.assignment_id)
    assert status == "complete"
    snap(story, reopened, "phone-synced")

    # 更正: the submitted record is read-only; an amendment with its reason goes to the server.
    reopened.get_by_role("link", name=re.compile(venue)).click()
    reopened.get_by_role("link", name="更正").click()
    expect(reopened.get_by_role("heading", name="更正记录")).to_be_visible()
    reopened.get_by_label("原因（必填）").fill("人数复核有误")
    reopened.get_by_label(re.compile(r"^现场接待人数（人）（原为：")).fill(str(half + 5))
    expect(reopened.locator(".verdict")).to_contain_text(f"{half + 5} 人 > {limit} 人")
    reopened.get_by_role("button", name="提交更正").click()
    expect(reopened.get_by_role("heading", name="更正记录")).to_be_visible()
    expect(reopened.get_by_text(re.compile("人数复核有误"))).to_be_visible()
    reopened.get_by_role("button", name="立即同步").click()
    expect(reopened.locator("#sync-indicator")).to_contain_text("待同步 0 项 · 照片 0 张")

    # The server: the record is complete, the photos are the originals, the signatures in the PDF.
    token = office_token(story.site)
    assert api(story.site, token, "GET", f"/api/v1/assignments/{dispatched.assignment_id}")["status"] == "submitted"
    stored = {row[0] for row in story.site.query(
        "SELECT p.sha256 FROM photo p JOIN inspection i ON i.id = p.inspection_id WHERE i.uuid = :uuid AND p.received_at IS NOT NULL",
        uuid=inspection_uuid)}
    assert stored == set(photos.values())
    for digest in photos.values():
        original = api(story.site, token, "GET", f"/api/v1/evidence/{digest}")
        assert hashlib.sha256(original).hexdigest() == digest
    signatures = story.site.query(
        "SELECT s.role, s.signer_name, s.refused FROM signature s JOIN inspection i ON i.id = s.inspection_id"
        " WHERE i.uuid = :uuid ORDER BY s.role", uuid=inspection_uuid)
    assert [(role, name) for role, name, _ in signatures] == [("inspector", leader_name), ("venue_person", "王建国")]

    document = api(story.site, token, "POST", f"/api/v1/inspections/{inspection_uuid}/record-document")
    pdf = tmp_path / "record.pdf"
    pdf.write_bytes(api(story.site, token, "GET", f"/api/v1/documents/{document['id']}/pdf"))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    compact = re.sub(r"\s+", "", text)
    assert "王建国" in compact and leader_name in compact and "签字" in compact
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True, check=True).stdout
    rows = [line for line in images.splitlines()[2:] if line.strip() and line.split()[2] == "image"]
    assert len(rows) >= len(photos) + 2, f"three photos and two signatures expected in the PDF:\n{images}"

    # Syncing again changes nothing on the server: no operation, row or upload twice.
    def server_counts():
        return story.site.query(
            "SELECT (SELECT count(*) FROM sync_operation), (SELECT count(*) FROM photo),"
            " (SELECT count(*) FROM signature), (SELECT count(*) FROM amendment), (SELECT count(*) FROM evidence_file),"
            " (SELECT count(*) FROM inspection WHERE assignment_id = :id)", id=dispatched.assignment_id)[0]

    before = server_counts()
    reopened.get_by_role("button", name="立即同步").click()
    expect(reopened.get_by_text(re.compile("同步完成：推送 0 项，上传照片 0 张"))).to_be_visible()
    assert server_counts() == before


@pytest.mark.parametrize("profile", [ANDROID], ids=["android-412x915"])
def test_phone_wrong_reveal_code_is_refused(story, phone_app, profile):
    office = story.login("office")
    dispatched = dispatch_first(story, office, new_draw(story, office))
    (leader, _), *_ = team_of(story.site, dispatched.assignment_id)
    venue, *_ = venue_of(story.site, dispatched.assignment_id)

    phone = story.open_phone(**profile)
    login_on_phone(story, phone, leader)
    pull_tasks(phone, dispatched.assignment_id).click()
    expect(phone.get_by_role("button", name="联网揭封")).to_be_visible()

    field = phone.get_by_label("揭封码", exact=True)
    reveal = phone.get_by_role("button", name="揭封", exact=True)
    # Too short: said before anything is tried.
    field.fill("abc")
    reveal.click()
    expect(phone.get_by_role("alert")).to_have_text("揭封码应为 10 位，已输入 3 位。")
    # Ten valid symbols, but not this assignment's code.
    symbols = dispatched.code.replace("-", "")
    wrong = symbols[:-1] + ("0" if symbols[-1] != "0" else "1")
    phone.get_by_role("button", name="清空").click()
    expect(field).to_have_value("")
    field.press_sequentially(wrong)
    reveal.click()
    alert = phone.get_by_role("alert")
    expect(alert).to_be_visible()
    assert re.search(r"[\u4e00-\u9fff]", alert.inner_text()), alert.inner_text()
    expect(alert).to_contain_text("揭封码")
    expect(phone.get_by_role("heading", name=f"揭封任务 {dispatched.assignment_id}")).to_be_visible()
    snap(story, phone, "phone-wrong-code")
    phone.set_viewport_size(PHONE)
    snap(story, phone, "phone-wrong-code-390", docs="wrong-code")

    # The right code, with a dash and in lower case, opens it (offline: the reveal stays unsent).
    phone.context.set_offline(True)
    phone.get_by_role("button", name="删除一位").click()
    field.fill(dispatched.code.lower())
    reveal.click()
    expect(phone.get_by_role("heading", name=venue)).to_be_visible()
    snap(story, phone, "phone-revealed")

    # 退出登录 refuses while the reveal is not on the server, unless confirmed twice.
    phone.get_by_role("link", name="‹ 任务列表").click()
    phone.get_by_role("button", name="退出登录").click()
    first = phone.get_by_role("dialog", name="还有未同步的内容")
    expect(first).to_contain_text("项记录尚未同步")
    first.get_by_role("button", name="仍要退出").click()
    second = phone.get_by_role("dialog", name="再次确认：删除未同步的记录")
    expect(second).to_be_visible()
    second.get_by_role("button", name="取消").click()
    expect(phone.get_by_role("heading", name="任务列表")).to_be_visible()
    expect(phone.get_by_role("link", name=re.compile(venue))).to_be_visible()
