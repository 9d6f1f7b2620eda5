"""The phone app's team stories (/field/ on a 390×844 touch phone with GPS): what happens when the
server does not simply take what a phone recorded (DESIGN.md §5).

Parallel records: the office dispatches; both members of the team open /field/ on their own
phones, reveal with the code, check in near the venue and record the checklist differently — one
counts more visitors than half the capacity (K3 violated), the other not — submit, and sync, the
leader first. Both syncs succeed; the second phone is answered `parallel_record` with a Chinese
notice, and shows it. The server keeps both records; the office's assignment page shows
组内记录不一致 with the differing count and the K3 difference, the office adopts the second record
with a reason, the page then shows it adopted and the first 未采用, and the audit log holds the
decision with its reason.

A refused operation: an inspector records offline — a K3 violation, a proposed warning, the
venue's person refusing to sign (with a witness note) — and submits. Before the phone is back
online the office withdraws the assignment's power to propose penalties, so the server refuses
the penalty (409, with its Chinese reason) and keeps the rest. The phone shows 被拒 1 项; the
被拒操作 page gives the server's reason and offers an amendment that answers it; the inspector
explains the correction, syncs, and the refusal is settled: the header no longer shows it and
the server holds the amendment with its reason. The 检查记录 PDF says who refused to sign and
what the witness note says.
"""

from __future__ import annotations

import re
import subprocess

import sqlalchemy as sa
from browser_steps import dispatch_first, new_draw
from phone_steps import (
    PHONE,
    api,
    doc_screenshot,
    draw_with_mouse,
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

PUSH = "**/api/v1/sync/push"
PARALLEL_NOTICE = "已作为并行记录保存"
PENALTY_REFUSED = "该任务不允许提出处罚建议（组内无持执法证人员）。"


# --- steps ---------------------------------------------------------------------------------------


def hold_pushes(phone):
    """The phone has signal but its pushes do not get through (a weak link inside the venue):
    its records stay queued, so which phone reaches the server first is the story's choice and
    not that of the background sync (every minute, and on start). Returns the release."""
    def drop(route):
        route.abort("internetdisconnected")

    phone.route(PUSH, drop)
    return lambda: phone.unroute(PUSH, drop)


def sync_now(phone) -> dict:
    """立即同步, until nothing is pending; the server's answer to the push it made."""
    with phone.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/api/v1/sync/push")) as pushed:
        phone.get_by_role("button", name="立即同步").click()
    expect(phone.locator("#sync-indicator")).to_contain_text("待同步 0 项 · 照片 0 张")
    return pushed.value.json()


def reveal_and_check_in(story, phone, dispatched, *, north_m: float) -> None:
    """From the task list: reveal with the code, check in `north_m` metres north of the venue."""
    venue, latitude, longitude, _ = venue_of(story.site, dispatched.assignment_id)
    phone.get_by_role("link", name=re.compile(fr"密封任务 {dispatched.assignment_id}\b")).click()
    type_code(phone, dispatched.code)
    phone.get_by_role("button", name="揭封", exact=True).click()
    expect(phone.get_by_role("heading", name=venue)).to_be_visible()
    phone.context.set_geolocation({"latitude": latitude + north_m / 111_000, "longitude": longitude, "accuracy": 15})
    phone.get_by_role("button", name="使用手机定位签到").click()
    expect(phone.get_by_role("status").filter(has_text="已签到")).to_contain_text(re.compile(r"距场所 \d+ 米"))


def count_visitors(phone, visitors: int, verdict: str) -> None:
    """检查: the K3 visitor count, the live verdict it gives, 保存并返回."""
    phone.get_by_role("link", name=re.compile("^检查")).click()
    expect(phone.get_by_role("heading", name="检查", exact=True)).to_be_visible()
    phone.get_by_role("spinbutton", name="现场接待人数（人）").fill(str(visitors))
    rule = phone.locator(".rule").filter(has=phone.get_by_role("heading", name=re.compile("^K3")))
    expect(rule.locator(".verdict")).to_contain_text(f"判定：{verdict}")
    phone.get_by_role("button", name="保存并返回").click()


def submit_record(phone) -> None:
    phone.get_by_role("link", name=re.compile("^提交")).click()
    expect(phone.get_by_role("heading", name="提交记录")).to_be_visible()
    phone.get_by_role("button", name="提交", exact=True).click()
    phone.get_by_role("button", name="确认提交").click()
    expect(phone.get_by_text(re.compile("提交，记录不能再修改"))).to_be_visible()


def withdraw_penalty_power(site, assignment_id: int) -> None:
    """The office takes the assignment's power to propose penalties away while the team is in
    the field (its enforcement-certificate holder was called off). The server decides a penalty
    on the assignment's `may_propose_penalties`, fixed at the draw; no page changes it later, so
    the story writes it where the server keeps it."""
    engine = sa.create_engine(site.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE assignment SET may_propose_penalties = :no WHERE id = :id"),
                               {"no": False, "id": assignment_id})
    finally:
        engine.dispose()


# --- stories -------------------------------------------------------------------------------------


def test_two_phones_of_one_team_record_the_same_assignment(story, phone_app):
    office = story.login("office")
    dispatched = dispatch_first(story, office, new_draw(story, office))
    assignment_id = dispatched.assignment_id
    team = team_of(story.site, assignment_id)
    assert len(team) == 2, team
    (leader, leader_name), (member, member_name) = team
    venue, _, _, capacity = venue_of(story.site, assignment_id)
    assert capacity, "the drawn museum has an approved capacity (K3 compares against it)"
    half = capacity // 2

    # Each member on their own phone; the leader counts one visitor too many, the member does not.
    phones, releases = {}, {}
    for username, north_m, visitors, verdict in ((leader, 40, half + 1, "违规"), (member, 25, half, "合规")):
        phone = phones[username] = story.open_phone(**PHONE)
        releases[username] = hold_pushes(phone)
        login_on_phone(story, phone, username)
        pull_tasks(phone, assignment_id)
        reveal_and_check_in(story, phone, dispatched, north_m=north_m)
        count_visitors(phone, visitors, verdict)
        submit_record(phone)
        snap(story, phone, f"phone-{username}-submitted")

    # The leader's phone reaches the server first: its record is the assignment's record.
    leader_phone, member_phone = phones[leader], phones[member]
    releases[leader]()
    answer = sync_now(leader_phone)
    assert answer["results"] and all(r["status"] == 200 for r in answer["results"]), answer
    assert not any(r.get("parallel_record") for r in answer["results"]), answer
    expect(leader_phone.locator(".notice").filter(has_text=PARALLEL_NOTICE)).to_have_count(0)

    # The member's phone: accepted too, and told its record is kept beside the leader's.
    releases[member]()
    answer = sync_now(member_phone)
    assert all(r["status"] == 200 for r in answer["results"]), answer
    (parallel,) = [r for r in answer["results"] if r.get("parallel_record")]
    assert parallel["parallel_record"] is True
    assert PARALLEL_NOTICE in parallel["notice"] and re.search(r"[\u4e00-\u9fff]", parallel["notice"])
    expect(member_phone.locator("#toast")).to_contain_text(parallel["notice"])
    expect(member_phone.locator("#refused-link")).to_be_hidden()
    # The notice stays on the record, for when the inspector opens it later.
    expect(member_phone.get_by_role("heading", name=venue)).to_be_visible()
    expect(member_phone.locator(".notice")).to_have_text(parallel["notice"])
    expect(member_phone.locator("main")).not_to_contain_text("null")  # an absent part is not written out
    snap(story, member_phone, "phone-parallel-notice")

    # Nothing dropped: both records on the server, the leader's first and primary.
    records = story.site.query(
        "SELECT i.id, i.uuid, i.is_primary, i.status, u.username, o.value FROM inspection i"
        " JOIN user_account u ON u.id = i.inspector_id"
        " JOIN observation o ON o.inspection_id = i.id AND o.item_code = 'k3_visitors'"
        " WHERE i.assignment_id = :id ORDER BY i.id", id=assignment_id)
    assert [(row[4], row[2], row[3]) for row in records] == [(leader, True, "complete"), (member, None, "complete")]
    assert [str(row[5]) for row in records] == [str(half + 1), str(half)]
    (first_id, first_uuid, *_), (second_id, second_uuid, *_) = records
    token = office_token(story.site)
    compared = api(story.site, token, "GET", f"/api/v1/assignments/{assignment_id}/records")
    assert compared["consistent"] is False
    differences = {(d["kind"], d["subject"]): d["values"] for d in compared["differences"]}
    assert differences[("observation", "现场接待人数（人）")] == [str(half + 1), str(half)]
    (k3,) = [values for (kind, subject), values in differences.items() if kind == "violation" and subject.startswith("K3")]
    assert k3 == ["违反", "未违反"]

    # The office: 组内记录不一致 on the assignment page, with the count and K3 apart.
    office.goto(f"/assignments/{assignment_id}")
    section = office.get_by_role("region", name="组内记录不一致")
    expect(section).to_be_visible()
    expect(section).to_contain_text(f"现场接待人数（人）：甲记录为{half + 1}，乙记录为{half}")
    expect(section.get_by_role("listitem").filter(has_text=re.compile(r"^K3 "))).to_contain_text(
        "甲记录为违反，乙记录为未违反")
    rows = section.get_by_role("table").get_by_role("row")
    expect(rows.filter(has_text="甲记录")).to_contain_text(leader_name)
    expect(rows.filter(has_text="甲记录")).to_contain_text("主记录（先到）")
    expect(rows.filter(has_text="乙记录")).to_contain_text(member_name)
    expect(rows.filter(has_text="乙记录")).to_contain_text("并行记录（待办公室核定）")
    story.snap(office, "office-parallel-records")

    # The office adopts the member's record, with its reason, through the form.
    reason = f"组长电话核实：{member_name}在入口处计数，现场接待人数为 {half} 人，以乙记录为准"
    section.get_by_label("以此记录为准").select_option(value=str(second_id))
    section.get_by_label("核定理由").fill(reason)
    story.snap(office, "office-adopt-form")
    section.get_by_role("button", name="以此记录为准").click()
    expect(office.get_by_role("status").filter(has_text=f"已核定以第 {second_id} 号督查记录为准")).to_be_visible()
    section = office.get_by_role("region", name="组内记录不一致")
    rows = section.get_by_role("table").get_by_role("row")
    expect(rows.filter(has_text="乙记录").locator("strong")).to_have_text("采用（办公室核定）")
    expect(rows.filter(has_text="甲记录")).to_contain_text("未采用")
    expect(section).to_contain_text(f"核定以乙记录为准（原采用甲记录）。理由：{reason}")
    expect(office.get_by_role("link", name=f"第 {second_id} 号", exact=True)).to_be_visible()  # 督查记录 on the page
    story.snap(office, "office-record-adopted")
    doc_screenshot(section, "office-parallel-records")
    assert story.site.query("SELECT id, is_primary FROM inspection WHERE assignment_id = :id ORDER BY id",
                            id=assignment_id) == [(first_id, None), (second_id, True)]

    # The audit: the decision, who made it, on which records and why.
    auditor = story.login("auditor")
    auditor.goto("/audit?action=inspection.record_adopted")
    event = auditor.get_by_role("row").filter(has_text=re.compile(fr"督查任务 {assignment_id}(?!\d)"))
    expect(event).to_contain_text("office")
    event.get_by_role("link").first.click()
    canonical = auditor.locator("pre.canonical")
    expect(canonical).to_contain_text(reason)
    expect(canonical).to_contain_text(f'"adopted":"{second_uuid}"')
    expect(canonical).to_contain_text(f'"replaced":"{first_uuid}"')
    expect(auditor.get_by_text("与记录的哈希相符")).to_be_visible()
    story.snap(auditor, "audit-record-adopted")


def test_refused_penalty_is_answered_by_an_amendment(story, phone_app, tmp_path):
    office = story.login("office")
    dispatched = dispatch_first(story, office, new_draw(story, office))
    assignment_id = dispatched.assignment_id
    (leader, leader_name), *_ = team_of(story.site, assignment_id)
    venue, _, _, capacity = venue_of(story.site, assignment_id)

    phone = story.open_phone(**PHONE)
    answers = []
    phone.on("response", lambda r: answers.append(r) if r.url.endswith("/api/v1/sync/push") else None)
    # Offline in the venue: revealed, checked in and recorded with no network.
    login_on_phone(story, phone, leader)
    pull_tasks(phone, assignment_id)
    phone.context.set_offline(True)
    reveal_and_check_in(story, phone, dispatched, north_m=30)
    count_visitors(phone, capacity // 2 + 10, "违规")

    # A warning proposed for the K3 finding: the phone still holds the power to propose one.
    phone.get_by_role("link", name=re.compile("^问题与照片")).click()
    phone.get_by_role("link", name=re.compile("K3.*自动判定")).click()
    phone.get_by_role("radiogroup", name="处罚种类").get_by_label("警告").check()
    phone.get_by_role("button", name="添加处罚建议").click()
    expect(phone.get_by_role("listitem").filter(has_text=re.compile("^警告"))).to_be_visible()
    phone.get_by_role("link", name="‹ 返回问题列表").click()
    phone.get_by_role("link", name="‹ 返回记录").click()

    # 签字: the leader signs; the venue's person refuses, with who witnessed it.
    witness = "场所负责人李志强拒绝签字，由督查组两名成员及在场保安张某见证"
    phone.get_by_role("link", name=re.compile("^签字")).click()
    leader_card = phone.locator("section").filter(has=phone.get_by_role("heading", name=re.compile(f"^督查人员：{leader_name}")))
    leader_card.locator("canvas").scroll_into_view_if_needed()
    draw_with_mouse(phone, leader_card.locator("canvas"))
    leader_card.get_by_role("button", name="确认签字").click()
    expect(phone.get_by_role("heading", name="已签字（1 人）")).to_be_visible()
    venue_card = phone.locator("section").filter(has=phone.get_by_role("heading", name="被检查场所负责人"))
    venue_card.get_by_label("签字人姓名").fill("李志强")
    venue_card.get_by_role("checkbox", name="拒绝签字").check()
    venue_card.get_by_label("见证情况（拒绝签字时必填）").fill(witness)
    expect(venue_card.locator("canvas")).to_be_hidden()
    snap(story, phone, "phone-refusal-to-sign")
    venue_card.get_by_role("button", name="记录拒绝签字").click()
    expect(phone.get_by_role("heading", name="已签字（2 人）")).to_be_visible()
    expect(phone.get_by_text(f"拒绝签字。见证情况：{witness}")).to_be_visible()
    phone.get_by_role("link", name="‹ 返回记录").click()
    submit_record(phone)

    # Meanwhile on the server: no more penalties for this assignment. Then the phone is back online.
    withdraw_penalty_power(story.site, assignment_id)
    phone.context.set_offline(False)
    expect(phone.locator("#sync-indicator")).to_contain_text("待同步 0 项 · 照片 0 张", timeout=60_000)
    refused_link = phone.locator("#refused-link")
    expect(refused_link).to_have_text("被拒 1 项")
    results = [result for response in answers for result in response.json()["results"]]
    (refusal,) = [result for result in results if result["status"] != 200]
    assert refusal["status"] == 409 and refusal["detail"] == PENALTY_REFUSED, refusal
    inspection_uuid, _ = wait_for_complete(story.site, assignment_id)  # the rest of the record is there
    assert story.site.query("SELECT count(*) FROM penalty p JOIN finding f ON f.id = p.finding_id"
                            " JOIN inspection i ON i.id = f.inspection_id WHERE i.uuid = :uuid",
                            uuid=inspection_uuid) == [(0,)]

    # 被拒操作: the operation, the server's reason, and the fix.
    refused_link.click()
    expect(phone.get_by_role("heading", name="被拒操作（1 项）")).to_be_visible()
    card = phone.get_by_role("listitem").filter(has_text="处罚建议")
    expect(card).to_contain_text(venue)
    expect(card).to_contain_text(f"服务器的理由：{PENALTY_REFUSED}")
    snap(story, phone, "phone-refused", docs="refused")
    card.get_by_role("link", name="更正并答复此项").click()
    expect(phone.get_by_role("heading", name="更正记录")).to_be_visible()
    answered = phone.locator("section").filter(has=phone.get_by_role("heading", name="答复被拒的操作"))
    expect(answered).to_contain_text(f"处罚建议：{PENALTY_REFUSED}")
    # The refused 警告 never reached the server: it is not offered for withdrawal.
    expect(phone.get_by_text("撤回以下处罚建议：")).to_have_count(0)
    reason = "本组持执法证人员已调离，本任务不再提出处罚建议；该问题移交执法部门依法处理"
    phone.get_by_label("原因（必填）").fill(reason)
    snap(story, phone, "phone-amend-settles")
    phone.get_by_role("button", name="提交更正").click()
    expect(phone.get_by_text(re.compile(reason))).to_be_visible()

    answer = sync_now(phone)
    assert all(result["status"] == 200 for result in answer["results"]), answer
    expect(refused_link).to_be_hidden()
    expect(phone.locator("#sync-indicator")).not_to_contain_text("被拒")
    phone.goto("/field/#/refused")
    expect(phone.get_by_role("heading", name="被拒操作（0 项）")).to_be_visible()
    expect(phone.get_by_text("没有被服务器拒绝的操作。")).to_be_visible()
    snap(story, phone, "phone-refusal-settled")

    # The server: the amendment with its reason; the 检查记录 PDF with the refusal to sign.
    amendments = story.site.query("SELECT a.reason FROM amendment a JOIN inspection i ON i.id = a.inspection_id"
                                  " WHERE i.uuid = :uuid", uuid=inspection_uuid)
    assert [row[0] for row in amendments] == [reason]
    token = office_token(story.site)
    document = api(story.site, token, "POST", f"/api/v1/inspections/{inspection_uuid}/record-document")
    pdf = tmp_path / "record.pdf"
    pdf.write_bytes(api(story.site, token, "GET", f"/api/v1/documents/{document['id']}/pdf"))
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    compact = re.sub(r"\s+", "", text)
    assert "李志强拒绝签字" in compact and re.sub(r"\s+", "", witness) in compact, text
    assert leader_name in compact
