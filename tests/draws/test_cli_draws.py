"""`anfang draw …`: create, cancel, close (only once the window has ended), close-due, verify
(exit 0 / 1 / 2), show, export; one Chinese line and exit 1 on bad input or an infeasible scope;
no target ever printed."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from server.accounts.models.user import User
from server.columns import CHINA_STANDARD_TIME, as_utc
from server.draws.models.draw import Assignment, Draw
from server.registry.models.reference import County, Department, VenueCategory


def person(db, role: str, **values) -> User:
    user = User(username=f"{role}-{uuid.uuid4().hex[:10]}", display_name=f"测试{role}", role=role, **values)
    db.session.add(user)
    db.session.flush()
    return user


@pytest.fixture
def world(db, make_venue):
    tag = uuid.uuid4().hex[:8]
    category = VenueCategory(code=f"cat{tag}", name=f"测试类{tag}",
                             departments=[Department(code=f"dep{tag}", name=f"主管局{tag}")])
    county = County(code=f"cty{tag}", name=f"测试县{tag}", kind="county")
    other = County(code=f"oct{tag}", name=f"邻县{tag}", kind="county")
    db.session.add_all([category, county, other])
    db.session.flush()
    venues = [make_venue(name=f"机密场所{tag}{n}", address=f"保密街{tag}{n}号", category=category, county=county)
              for n in range(5)]
    inspectors = [person(db, "inspector", county=other, enforcement_certificate_no=f"B{tag}{n}") for n in range(4)]
    world = {"tag": tag, "category": category, "county": county, "venues": venues, "inspectors": inspectors,
             "office": person(db, "office"), "admin": person(db, "admin"), "auditor": person(db, "auditor"),
             "inspector": inspectors[0]}
    # Committed (a savepoint here) so that a failing command's rollback keeps the world.
    db.session.commit()
    return world


def moment(days: float) -> str:
    return (datetime.now(CHINA_STANDARD_TIME) + timedelta(days=days)).strftime("%Y-%m-%d %H:%M")


def create(cli, world, *extra, by=None, sample="3"):
    args = ["draw", "create", "--county", world["county"].code, "--category", world["category"].name,
            "--from", moment(0.1), "--to", moment(2), "--by", by or world["office"].username, *extra]
    if sample is not None:
        args += ["--sample", sample]
    return cli.invoke(args=args)


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("错误：")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def assert_no_target(result, world):
    for venue in world["venues"]:
        assert venue.name not in result.output and venue.address not in result.output


def latest_draw(db) -> Draw:
    return db.session.scalar(sa.select(Draw).order_by(Draw.id.desc()).limit(1))


def opened(cli, db, world, draw: Draw) -> Draw:
    """The draw with its assignments: one awaiting its seed contribution gets the auditor's."""
    if draw.status == "awaiting":
        result = cli.invoke(args=["draw", "contribute", str(draw.id), "--random", "--by", world["auditor"].username])
        assert result.exit_code == 0, result.output
        db.session.refresh(draw)
    assert draw.status == "committed"
    return draw


def after_window(monkeypatch, draw: Draw) -> None:
    """Move the clock closing reads to just after the draw's window: only then may it be closed."""
    later = as_utc(draw.window_end) + timedelta(minutes=1)
    monkeypatch.setattr("server.draws.closing.utcnow", lambda: later)


def test_create_prints_id_commitment_and_counts(cli, db, world):
    result = create(cli, world, "--meeting-point", "市防指办")
    assert result.exit_code == 0, result.output
    draw = latest_draw(db)
    assert f"已创建抽查 {draw.id}" in result.output and draw.commitment in result.output
    assert "候选场所 5 个" in result.output and "录入随机数后生成密封任务" in result.output
    assert f"anfang draw cancel {draw.id} --reason" in result.output
    assert_no_target(result, world)
    draw = opened(cli, db, world, draw)
    assert [a.meeting_point for a in draw.assignments] == ["市防指办"] * 3
    assert draw.parameters["team"]["may_propose_penalties"] is True


def test_create_by_rate_and_without_penalties(cli, db, world):
    result = create(cli, world, "--rate", "40", "--no-penalties", sample=None)
    assert result.exit_code == 0, result.output
    draw = opened(cli, db, world, latest_draw(db))
    assert len(draw.assignments) == 2  # ceil(5 × 40 %)
    assert draw.parameters["team"]["may_propose_penalties"] is False


@pytest.mark.parametrize(("extra", "sample", "fragments"), [
    (("--county", "nowhere"), "3", ["未知的县（市、区）：nowhere"]),
    ((), None, ["--sample 和 --rate"]),
    (("--rate", "5"), "3", ["--sample 和 --rate"]),
    ((), "three", ["--sample 应为整数"]),
    (("--team-size", "1"), "3", ["督查组至少 2 人"]),
    ((), "6", ["抽查无法完成", "只有 5 个候选场所"]),
    (("--team-size", "9"), "1", ["抽查无法完成", "在岗督查人员少于每组人数"]),
])
def test_create_refuses_bad_input_in_one_line(cli, db, world, extra, sample, fragments):
    before = db.session.scalar(sa.select(sa.func.count(Draw.id)))
    assert_one_line_error(create(cli, world, *extra, sample=sample), *fragments)
    assert db.session.scalar(sa.select(sa.func.count(Draw.id))) == before


def test_create_refuses_bad_times_and_other_roles(cli, db, world):
    result = cli.invoke(args=["draw", "create", "--county", world["county"].code, "--category",
                              world["category"].code, "--sample", "1", "--from", "next week", "--to", moment(1),
                              "--by", world["office"].username])
    assert_one_line_error(result, "--from 的时间格式不对")
    assert_one_line_error(create(cli, world, by=world["inspector"].username), "无权管理抽查")
    assert_one_line_error(create(cli, world, by="nobody-at-all"), "nobody-at-all")


def test_verify_close_verify_and_tamper(cli, db, world, monkeypatch):
    assert create(cli, world).exit_code == 0
    draw = opened(cli, db, world, latest_draw(db))

    early = cli.invoke(args=["draw", "verify", str(draw.id)])
    assert early.exit_code == 2 and "种子尚未公开" in early.stderr

    for user in ("admin", "office"):
        refused = cli.invoke(args=["draw", "close", str(draw.id), "--by", world[user].username])
        assert_one_line_error(refused, "窗口尚未结束", "窗口结束前只能取消（须说明理由）")
    db.session.refresh(draw)
    assert draw.status == "committed" and draw.revealed_seed is None
    after_window(monkeypatch, draw)
    # Its three assignments are still sealed: listed in one line, and nothing closes without --yes.
    unconfirmed = cli.invoke(args=["draw", "close", str(draw.id), "--by", world["office"].username])
    assert_one_line_error(unconfirmed, "还有 3 项任务未完成（已封存 3 项）", "第 1 组（已封存", "--yes")
    assert_no_target(unconfirmed, world)
    db.session.refresh(draw)
    assert draw.status == "committed"
    closed = cli.invoke(args=["draw", "close", str(draw.id), "--by", world["office"].username, "--yes"])
    assert closed.exit_code == 0, closed.output
    db.session.refresh(draw)
    assert draw.revealed_seed in closed.output
    assert hashlib.sha256(bytes.fromhex(draw.revealed_seed)).hexdigest() == draw.commitment

    verified = cli.invoke(args=["draw", "verify", str(draw.id)])
    assert verified.exit_code == 0, verified.output
    assert "核验通过" in verified.output and "3 项任务" in verified.output

    first = draw.assignments[0]
    unused = next(v for v in world["venues"] if v.id not in {a.venue_id for a in draw.assignments})
    db.session.execute(sa.update(Assignment).where(Assignment.id == first.id).values(venue_id=unused.id))
    db.session.commit()
    tampered = cli.invoke(args=["draw", "verify", str(draw.id)])
    assert tampered.exit_code == 1
    assert "核验未通过" in tampered.stderr and "第 1 项任务的场所与重算结果不符" in tampered.stderr
    assert_no_target(tampered, world)


def test_unknown_draw_is_one_line(cli, world):
    for command in (["verify", "424242"], ["show", "424242"], ["close", "424242", "--by", world["office"].username],
                    ["cancel", "424242", "--reason", "范围选错，重新抽取", "--by", world["office"].username]):
        assert_one_line_error(cli.invoke(args=["draw", *command]), "编号为 424242 的抽查不存在")


def test_show_lists_teams_not_targets(cli, db, world):
    assert create(cli, world).exit_code == 0
    draw = opened(cli, db, world, latest_draw(db))
    result = cli.invoke(args=["draw", "show", str(draw.id)])
    assert result.exit_code == 0, result.output
    assert draw.commitment in result.output and draw.venues_digest in result.output
    assert "任务 1：" in result.output and "（组长）" in result.output and "已封存" in result.output
    assert world["county"].name in result.output
    assert_no_target(result, world)


def test_export_writes_what_an_independent_check_needs(cli, db, world, tmp_path, monkeypatch):
    assert create(cli, world).exit_code == 0
    draw = opened(cli, db, world, latest_draw(db))
    assert_one_line_error(cli.invoke(args=["draw", "export", str(draw.id), str(tmp_path)]), "尚未关闭")
    after_window(monkeypatch, draw)
    assert cli.invoke(args=["draw", "close", str(draw.id), "--by", world["office"].username, "--yes"]).exit_code == 0
    result = cli.invoke(args=["draw", "export", str(draw.id), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    exported = json.loads((tmp_path / "out" / "draw.json").read_text("utf-8"))
    assert exported["office_seed"] == draw.revealed_seed
    for name, digest in (("venues", draw.venues_digest), ("inspectors", draw.inspectors_digest)):
        assert hashlib.sha256((tmp_path / "out" / f"{name}.json").read_bytes()).hexdigest() == digest
    parameters = json.loads((tmp_path / "out" / "parameters.json").read_text("utf-8"))
    assert parameters == draw.parameters


def test_close_due_closes_only_draws_whose_window_ended(cli, db, world):
    assert create(cli, world).exit_code == 0
    running = opened(cli, db, world, latest_draw(db))
    assert create(cli, world, sample="1").exit_code == 0
    ended = opened(cli, db, world, latest_draw(db))
    assert create(cli, world, sample="1").exit_code == 0
    never_seeded = latest_draw(db)
    assert never_seeded.status == "awaiting"
    # Their windows are over, as if days had passed.
    past = datetime.now(CHINA_STANDARD_TIME) - timedelta(days=1)
    db.session.execute(sa.update(Draw).where(Draw.id.in_([ended.id, never_seeded.id])).values(window_end=past))
    db.session.commit()
    result = cli.invoke(args=["draw", "close-due", "--by", world["admin"].username])
    assert result.exit_code == 0, result.output
    assert f"已关闭抽查 {ended.id}" in result.output and f"抽查 {running.id}" not in result.output
    # A draw that never got its contribution formed no assignments: it is cancelled, with the reason.
    assert f"已取消抽查 {never_seeded.id}（窗口结束时仍未录入随机数）" in result.output
    for draw in (running, ended, never_seeded):
        db.session.refresh(draw)
    assert (running.status, ended.status, never_seeded.status) == ("committed", "closed", "cancelled")
    assert never_seeded.cancel_reason == "窗口结束时仍未录入随机数" and never_seeded.revealed_seed
    again = cli.invoke(args=["draw", "close-due", "--by", world["admin"].username])
    assert again.exit_code == 0 and "没有窗口已结束" in again.output
