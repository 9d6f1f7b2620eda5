"""Inspection pages: the record in full (violations, penalties, photos with their hashes, sync
state, amendments), who may read it, and the list's filters, sorting and pagination."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from inspection_world import CHECKED_IN_AT, PENALTY_BASIS, make_assignment, make_record, session_of, world  # noqa: F401

from server.registry.models.reference import Department, LegalBasis, Rule


def ids_in(html: str) -> list[int]:
    """Record ids in the order the list shows them."""
    return [int(n) for n in re.findall(r'href="/inspections/(\d+)"', html)]


def test_office_reads_the_whole_record(app, db, world, make_record):
    record = make_record()
    html = session_of(app, world.users["office"]).get(f"/inspections/{record.inspection.id}").get_data(as_text=True)
    assert f"督查记录第 {record.inspection.id} 号" in html
    # Submitted: the venue is no longer a secret to the record's readers.
    assert world.venue.name in html
    # Violations with the rule, the document section it rests on, the responsible department; the withdrawn one marked.
    rule = db.session.scalar(sa.select(Rule).where(Rule.code == "K3"))
    assert rule.title in html and f"51号 {rule.section}" in html
    department = world.venue.category.departments[0]
    assert isinstance(department, Department) and department.name in html
    assert record.withdrawn.description in html and "已撤回" in html and "第 1 次更正" in html
    # The proposed penalty with its legal basis by name.
    basis = db.session.scalar(sa.select(LegalBasis).where(LegalBasis.code == PENALTY_BASIS))
    assert "罚款 500 元" in html and f"《{basis.law}》{basis.article}" in html
    assert f"入口无人测温{world.tag}" in html and f"口罩一项记错{world.tag}" in html
    # Photos: both hashes; a thumbnail for the one that arrived, "not yet uploaded" for the other.
    assert record.received_sha256 in html and record.missing_sha256 in html
    assert f"/evidence/{record.received_sha256}/thumbnail" in html
    assert f"/evidence/{record.missing_sha256}/thumbnail" not in html
    assert "尚未上传" in html and "还缺 1 张照片" in html
    # Personal data of the visit (the check-in position) is not shown.
    assert "29.078765" not in html


def test_thumbnail_is_offered_only_to_those_the_evidence_handler_serves(app, db, world, make_record):
    record = make_record()
    url = f"/inspections/{record.inspection.id}"
    thumbnail = f"/evidence/{record.received_sha256}/thumbnail"
    leader = session_of(app, world.users["team_leader"])
    html = leader.get(url).get_data(as_text=True)
    assert thumbnail in html
    response = leader.get(thumbnail)
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    response.close()
    # The other team member reads the record and the hashes, but did not upload the photo.
    member = session_of(app, world.users["team_member"])
    html = member.get(url).get_data(as_text=True)
    assert record.received_sha256 in html and thumbnail not in html and "无权查看原图" in html


@pytest.mark.parametrize("role, status", [
    ("admin", 200), ("enforcement", 200), ("team_leader", 200), ("team_member", 200), ("department", 200),
    ("county", 200), ("outsider", 404), ("other_department", 404), ("other_county", 404), ("propaganda", 403),
    ("auditor", 403),
])
def test_who_reads_a_submitted_record(app, db, world, make_record, role, status):
    record = make_record()
    response = session_of(app, world.users[role]).get(f"/inspections/{record.inspection.id}")
    assert response.status_code == status
    if status != 200:
        html = response.get_data(as_text=True)
        assert world.venue.name not in html and record.received_sha256 not in html


def test_unknown_record_is_404(app, db, world):
    assert session_of(app, world.users["office"]).get("/inspections/2147483647").status_code == 404


def test_a_draft_keeps_its_venue_sealed(app, db, world, make_record):
    """A visit still under way: the venue is a target, read only through the audited target page."""
    record = make_record("in_progress", "draft", photos=False)
    url = f"/inspections/{record.inspection.id}"
    office = session_of(app, world.users["office"])
    html = office.get(url).get_data(as_text=True)
    assert "目标保密" in html and f"/assignments/{record.inspection.assignment_id}/target" in html
    for secret in world.target_strings():
        assert secret not in html
    listing = office.get("/inspections").get_data(as_text=True)
    assert record.inspection.id in ids_in(listing) and world.venue.name not in listing
    # Those who see records only after submission do not see drafts at all.
    for role in ("enforcement", "department", "county"):
        assert session_of(app, world.users[role]).get(url).status_code == 404


def test_list_filters_sorts_and_paginates(app, db, world, make_record):
    records = [make_record(checked_in_at=CHECKED_IN_AT + timedelta(hours=n), photos=False,
                           status="complete" if n % 2 else "awaiting_evidence") for n in range(23)]
    county = world.venue.county_id
    office = session_of(app, world.users["office"])
    newest_first = sorted(records, key=lambda r: r.inspection.checked_in_at, reverse=True)
    page1 = office.get("/inspections", query_string={"county_id": county}).get_data(as_text=True)
    assert ids_in(page1) == [r.inspection.id for r in newest_first[:20]]
    assert "共 23 份，第 1 / 2 页" in page1 and "下一页" in page1
    page2 = office.get("/inspections", query_string={"county_id": county, "page": 2}).get_data(as_text=True)
    assert ids_in(page2) == [r.inspection.id for r in newest_first[20:]]
    oldest = office.get("/inspections", query_string={"county_id": county, "sort": "checked_in"}).get_data(as_text=True)
    assert ids_in(oldest)[:3] == [r.inspection.id for r in records[:3]]
    by_id = office.get("/inspections", query_string={"county_id": county, "sort": "-id"}).get_data(as_text=True)
    assert ids_in(by_id) == sorted(ids_in(by_id), reverse=True)
    complete = office.get("/inspections", query_string={"county_id": county, "state": "complete"}).text
    assert sorted(ids_in(complete)) == sorted(r.inspection.id for r in records if r.inspection.status == "complete")
    one_draw = records[5].inspection.assignment.draw_id
    assert ids_in(office.get("/inspections", query_string={"draw_id": one_draw}).get_data(as_text=True)) == [
        records[5].inspection.id]
    other_county = world.other_venue.county_id
    empty = office.get("/inspections", query_string={"county_id": other_county}).get_data(as_text=True)
    assert ids_in(empty) == [] and "没有符合条件的督查记录" in empty


@pytest.mark.parametrize("args, field_message", [
    ({"page": "-1"}, "页码须为正整数"),
    ({"page": "0"}, "页码须为正整数"),
    ({"page": "abc"}, "页码须为正整数"),
    ({"sort": "evil"}, "不支持的排序方式"),
    ({"sort": "-password_hash"}, "不支持的排序方式"),
    ({"state": "evil"}, "未知的记录状态"),
    ({"county_id": "1 OR 1=1"}, "属地须为正整数"),
    ({"draw_id": "99999999999999"}, "抽查编号须为正整数"),
])
def test_bad_query_arguments_are_explained_next_to_the_filter(app, db, world, args, field_message):
    response = session_of(app, world.users["office"]).get("/inspections", query_string=args)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert field_message in html and 'class="field__error"' in html and "筛选条件有误" in html


def test_a_page_past_the_end_is_empty(app, db, world, make_record):
    make_record(photos=False)
    html = session_of(app, world.users["office"]).get("/inspections", query_string={"page": 99}).get_data(as_text=True)
    assert ids_in(html) == [] and "没有符合条件的督查记录" in html


def test_list_is_scoped(app, db, world, make_record, make_user):
    mine = make_record(photos=False)
    other_team = [make_user("inspector"), make_user("inspector")]
    theirs = make_record(photos=False, team=other_team, venue=world.other_venue)
    leader = session_of(app, world.users["team_leader"]).get("/inspections").get_data(as_text=True)
    assert mine.inspection.id in ids_in(leader) and theirs.inspection.id not in ids_in(leader)
    department = session_of(app, world.users["department"]).get("/inspections").get_data(as_text=True)
    assert mine.inspection.id in ids_in(department) and theirs.inspection.id not in ids_in(department)
    assert world.other_venue.name not in department
    assert session_of(app, world.users["propaganda"]).get("/inspections").status_code == 403
    assert session_of(app, world.users["auditor"]).get("/inspections").status_code == 403


def test_navigation_offers_the_list_to_its_readers(app, db, world):
    assert 'href="/inspections"' in session_of(app, world.users["enforcement"]).get("/").get_data(as_text=True)
    assert 'href="/inspections"' not in session_of(app, world.users["propaganda"]).get("/").get_data(as_text=True)
