"""Every draw the demo makes verifies with the published algorithm and exports for an independent
re-computation; a draw whose snapshot is missing or damaged exports to one Chinese line, exit 1."""

from __future__ import annotations

import hashlib
import json
from datetime import date

import pytest
import sqlalchemy as sa
from test_cli_assignments import assert_one_line_error

from server.accounts.models.user import User
from server.columns import as_utc
from server.demo.cases import seed_demo_inspections
from server.demo.registry import seed_demo
from server.demo.week import seed_week_inspections
from server.draws.models.draw import Draw
from server.draws.closing import close_draw
from server.draws.verification import MATCH, verify_draw

END = date(2026, 3, 14)


@pytest.fixture
def demo_draws(db) -> list[Draw]:
    seed_demo()
    assert seed_demo_inspections() > 0
    assert seed_week_inspections(3, end=END).inspections == 3 * 24
    office = db.session.scalar(sa.select(User).where(User.username == "office"))
    draws = list(db.session.scalars(sa.select(Draw).order_by(Draw.id)))
    # The walkthrough's live draws keep their seed until closed, once their window has ended.
    for draw in draws:
        if draw.status != "closed":
            close_draw(draw, office, channel="cli", now=as_utc(draw.window_end))
    db.session.commit()  # a failing command's rollback must keep the demo
    return draws


def test_every_demo_draw_verifies_and_exports(cli, db, demo_draws, tmp_path):
    purposes = {draw.purpose for draw in demo_draws}
    assert purposes == {"sample", "reinspection"}  # the week revisits its problem venues by 复查 draws
    for draw in demo_draws:
        report = verify_draw(draw)
        assert report.state == MATCH, (draw.id, report.reasons)
        assert report.assignments_checked == len(draw.assignments) > 0

        result = cli.invoke(args=["draw", "export", str(draw.id), str(tmp_path / str(draw.id))])
        assert result.exit_code == 0, result.output
        out = tmp_path / str(draw.id)
        for name, digest in (("venues", draw.venues_digest), ("inspectors", draw.inspectors_digest)):
            assert hashlib.sha256((out / f"{name}.json").read_bytes()).hexdigest() == digest
        exported = json.loads((out / "draw.json").read_text("utf-8"))
        assert exported["office_seed"] == draw.revealed_seed and exported["seed"] == report.seed
        assert exported["contribution"] == draw.contribution and exported["contribution_source"] == "auditor"
    # The week's venues recur (repeated violations for the accountability report).
    week_venues = [a.venue_id for draw in demo_draws if draw.purpose == "reinspection" for a in draw.assignments]
    assert len(week_venues) > len(set(week_venues))


@pytest.mark.parametrize("column, value, fragment", [
    ("venues_snapshot", b"", "没有保存场所候选快照"),
    ("inspectors_snapshot", b"not zlib at all", "督查人员候选快照无法解压"),
])
def test_export_of_a_draw_with_a_missing_or_damaged_snapshot_is_one_line(cli, db, demo_draws, tmp_path,
                                                                        column, value, fragment):
    draw = demo_draws[-1]
    setattr(draw, column, value)
    db.session.commit()
    result = cli.invoke(args=["draw", "export", str(draw.id), str(tmp_path / "out")])
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_export_into_a_file_is_one_line(cli, db, demo_draws, tmp_path):
    (tmp_path / "file").write_text("x")
    result = cli.invoke(args=["draw", "export", str(demo_draws[-1].id), str(tmp_path / "file")])
    assert_one_line_error(result, "无法写入目录")
