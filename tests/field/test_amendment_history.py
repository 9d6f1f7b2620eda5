"""The record's page shows each amendment as old value → new value, with its reason and its
times in Beijing time — the old value read from the record and the amendments before it, never
stored by the amendment itself — and the violations it found or withdrew; and a record whose
violations were recorded without their readings lists the items they judged instead of saying
it has none."""

from __future__ import annotations

import re

import sqlalchemy as sa
from inspection_world import make_assignment, make_record, session_of, world  # noqa: F401
from test_amendment_reach import amendment, submitted  # noqa: F401  (fixtures)
from test_sync_api import (  # noqa: F401  (fixtures)
    dispatched,
    evidence_dir,
    inspection_row,
    leader,
    museum,
    pushed,
    statuses,
)
from web_session import login

from server.columns import local_text
from server.field.inspection_record import amendment_history, inspection_record, unrecorded_checks
from server.field.models.inspection import Amendment, Observation, Violation


def _cells(html: str) -> list[tuple[str, str, str]]:
    return re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", html)


def test_each_amendment_shows_old_and_new_values_reason_and_beijing_time(app, client, db, world, leader,
                                                                          submitted):
    recording = submitted[0]
    first = amendment(recording, {"observations": {"k3_visitors": 399}}, "人数点错，复核为 399 人")
    second = amendment(recording, {"observations": {"k3_visitors": 420}}, "监控复核为 420 人")
    assert statuses(pushed(client, leader, [first])) == [200]
    assert statuses(pushed(client, leader, [second])) == [200]
    inspection = inspection_row(db, recording)

    history = amendment_history(inspection)
    prompt = "检查项“现场接待人数（人）”"
    # The second amendment's old value is what the first left, not what was recorded on site.
    assert [(row["what"], row["old"], row["new"]) for row in history[0]["changes"]
            if row["what"] == prompt] == [(prompt, "401", "399")]
    assert [(row["what"], row["old"], row["new"]) for row in history[1]["changes"]
            if row["what"] == prompt] == [(prompt, "399", "420")]
    # 399 is within half the museum's capacity: the K3 violation went with the first amendment
    # and came back with the second.
    assert any(row["new"] == "已撤回" and row["what"].startswith("违规问题") for row in history[0]["changes"])
    assert any(row["new"] == "判定违规" for row in history[1]["changes"])
    # The printed record says the same in words.
    assert "随之撤回违规问题" in "；".join(inspection_record(inspection)["amendments"][0]["changes"])

    office = app.test_client()
    login(office, world.users["office"])
    html = office.get(f"/inspections/{inspection.id}").get_data(as_text=True)
    cells = _cells(html)
    assert (prompt, "401", "399") in cells and (prompt, "399", "420") in cells
    assert "人数点错，复核为 399 人" in html and "监控复核为 420 人" in html
    stored = db.session.scalars(sa.select(Amendment).where(Amendment.inspection_id == inspection.id)
                                .order_by(Amendment.id)).all()
    for row in stored:
        assert (f"更正于 {local_text(row.created_at)}（设备时间），"
                f"服务器收到 {local_text(row.received_at)}（北京时间）") in html
    # The checklist shows the standing value against the one recorded on site.
    assert "401 → 420（第 2 次更正）" in html


def test_an_explanation_only_amendment_says_so(app, db, world, make_record):
    record = make_record()
    html = session_of(app, world.users["office"]).get(f"/inspections/{record.inspection.id}").get_data(as_text=True)
    assert "仅作说明，未更正记录内容" not in html  # it withdrew a violation: that is what it changed
    assert ("违规问题“" + record.withdrawn.description + "”", "违规", "已撤回") in _cells(html)


def test_violations_without_readings_list_the_items_they_judged(app, db, world, make_record):
    record = make_record(photos=False)
    inspection = record.inspection
    # As the demo's generated week records them: violations, no readings.
    db.session.execute(sa.delete(Observation).where(Observation.inspection_id == inspection.id))
    db.session.flush()
    html = session_of(app, world.users["office"]).get(f"/inspections/{inspection.id}").get_data(as_text=True)
    assert "没有检查项记录" not in html and "有 1 项违规只记录了判定结果" in html
    assert "<td>未记录读数；判定违规：游客超过核定人数的一半</td>" in html
    # A withdrawn violation judged nothing: it is not listed.
    assert [row["violation"] for row in unrecorded_checks(inspection)] == ["游客超过核定人数的一半"]


def test_the_items_are_named_by_their_prompts_and_a_recorded_reading_is_not_repeated(db, client, leader,
                                                                                     submitted):
    inspection = inspection_row(db, submitted[0])
    assert unrecorded_checks(inspection) == []  # 401 visitors recorded: the table shows the reading
    db.session.execute(sa.delete(Observation).where(Observation.inspection_id == inspection.id))
    db.session.flush()
    assert unrecorded_checks(inspection) == [{"items": "现场接待人数（人）", "violation": "接待人数不超过核定人数的50%",
                                              "rule_code": "K3"}]


def test_a_record_with_neither_readings_nor_violations_says_it_has_no_items(app, db, world, make_record):
    record = make_record(photos=False)
    inspection = record.inspection
    db.session.execute(sa.delete(Observation).where(Observation.inspection_id == inspection.id))
    db.session.execute(sa.delete(Violation).where(Violation.inspection_id == inspection.id))
    db.session.flush()
    html = session_of(app, world.users["office"]).get(f"/inspections/{inspection.id}").get_data(as_text=True)
    assert "没有检查项记录" in html and "只记录了判定结果" not in html
