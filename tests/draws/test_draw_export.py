"""`anfang draw export`: only closed or cancelled draws, always audited, never a traceback; another
draw's sealed targets never in it — the visits of still-sealed assignments are withheld and the
re-run gets the repeat-visit facts it consults instead, until a full export can be made.
Also: verification warns of registry rows changed since the draw where that matters."""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa
from export_world import close, export, export_world, sample_draw  # noqa: F401
from test_cli_draws import assert_one_line_error
from test_independent_rerun import assert_match, assert_mismatch

from server.audit.models.audit import AuditEvent
from server.draws.export import export_draw
from server.draws.models.draw import Assignment, AssignmentMember
from server.draws.selection import canonical_json
from server.draws.verification import MATCH, verify_draw
from server.errors import Conflict


def exported_events(db, draw) -> list[dict]:
    return [event.details for event in db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "draw.exported", AuditEvent.object_id == str(draw.id))
        .order_by(AuditEvent.seq))]


def targets(db, draw) -> set[tuple[int, str]]:
    return {(venue_id, day.isoformat()) for venue_id, day in db.session.execute(
        sa.select(Assignment.venue_id, Assignment.visit_date).where(Assignment.draw_id == draw.id))}


def visits_of(db, draw) -> set[tuple[int, int, str]]:
    """(inspector, venue, day) of the draw's assignments, as inspector snapshots list them."""
    return {(user_id, venue_id, day.isoformat()) for user_id, venue_id, day in db.session.execute(
        sa.select(AssignmentMember.user_id, Assignment.venue_id, Assignment.visit_date)
        .join(Assignment, AssignmentMember.assignment_id == Assignment.id).where(Assignment.draw_id == draw.id))}


def one_scope(world) -> dict:
    return {"counties": world.counties[:1], "categories": world.categories[:1], "sample_size": 4}


def test_only_closed_or_cancelled_draws_export(db, cli, export_world, tmp_path):  # noqa: F811
    world = export_world
    draw = sample_draw(world)
    db.session.commit()
    with pytest.raises(Conflict, match="尚未关闭或取消"):
        export_draw(draw, tmp_path / "early")
    assert_one_line_error(cli.invoke(args=["draw", "export", str(draw.id), str(tmp_path / "early")]), "尚未关闭或取消")
    assert not (tmp_path / "early").exists() and exported_events(db, draw) == []

    close(draw, world)
    db.session.commit()
    result = cli.invoke(args=["draw", "export", str(draw.id), str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "draw.json、parameters.json、venues.json、inspectors.json" in result.output
    db.session.expire_all()
    [details] = exported_events(db, draw)
    assert details["redacted"] is False and details["withheld_visits"] == 0
    summary = json.loads((tmp_path / "out" / "draw.json").read_text("utf-8"))
    assert summary["office_seed"] == draw.revealed_seed and summary["contribution"] == draw.contribution
    assert summary["contribution_source"] == draw.contribution_source and len(summary["seed"]) == 64
    assert summary["pending_checks"] == [] and summary["redacted"] is False
    for name, digest in (("parameters", draw.parameters_digest), ("venues", draw.venues_digest),
                         ("inspectors", draw.inspectors_digest)):
        assert hashlib.sha256((tmp_path / "out" / f"{name}.json").read_bytes()).hexdigest() == digest


def test_a_later_draw_exports_without_an_open_draws_targets(db, cli, export_world, tmp_path):  # noqa: F811
    world = export_world
    sealed = sample_draw(world, **one_scope(world))
    sealed_visits = visits_of(db, sealed)
    assert len(targets(db, sealed)) == 4 and len(sealed_visits) == 8
    # Later draws on the same venues and days, one at a time: their snapshots list the open
    # draw's visits. Until one of them needs a withheld visit to form its teams.
    later, blocked_somewhere = [], None
    for n in range(4):
        draw = sample_draw(world, **{**one_scope(world), "sample_size": 2})
        close(draw, world)
        db.session.commit()
        later.append(draw)
        out = tmp_path / f"later{n}"
        result = cli.invoke(args=["draw", "export", str(draw.id), str(out)])
        assert result.exit_code == 0, result.output
        assert "删减版" in result.output and "inspectors.redacted.json" in result.output
        assert not (out / "inspectors.json").exists()
        summary = json.loads((out / "draw.json").read_text("utf-8"))
        assert summary["redacted"] is True and summary["pending_checks"] == ["inspectors_digest"]
        assert summary["withheld_visits"] >= 1 and "密封" in summary["note"]
        text = (out / "inspectors.redacted.json").read_text("utf-8")
        inspectors = json.loads(text)
        # (Another, closed draw may have sent someone else to the same venue that day: that visit is public.)
        shown = {(item["id"], venue, day) for item in inspectors for venue, day in item["visits"]}
        assert not shown & sealed_visits, shown & sealed_visits
        output = assert_match(out)
        assert "pending" in output and "inspectors_digest" in output
        db.session.expire_all()
        assert exported_events(db, draw)[-1]["redacted"] is True
        if any(item["repeat_blocked"] for item in inspectors):
            blocked_somewhere = out
            break
    # The withheld visits did decide teams somewhere, and the re-run needs every fact given for
    # them: without any single one of them it reaches another result.
    assert blocked_somewhere is not None
    path = blocked_somewhere / "inspectors.redacted.json"
    inspectors = json.loads(path.read_text("utf-8"))
    facts = [(n, pick) for n, item in enumerate(inspectors) for pick in item["repeat_blocked"]]
    for n, pick in facts:
        fewer = [dict(item) for item in inspectors]
        fewer[n]["repeat_blocked"] = [p for p in fewer[n]["repeat_blocked"] if p != pick]
        path.write_bytes(canonical_json(fewer))
        assert_mismatch(blocked_somewhere)

    # Once the open draw is closed, its visits are no longer sealed: the full snapshot, digest and all.
    close(sealed, world)
    db.session.commit()
    out = tmp_path / "later0"
    result = cli.invoke(args=["draw", "export", str(later[0].id), str(out)])
    assert result.exit_code == 0, result.output and "删减版" not in result.output
    assert not (out / "inspectors.redacted.json").exists()
    assert hashlib.sha256((out / "inspectors.json").read_bytes()).hexdigest() == later[0].inspectors_digest
    summary = json.loads((out / "draw.json").read_text("utf-8"))
    assert summary["redacted"] is False and summary["pending_checks"] == []
    output = assert_match(out)
    assert "pending" not in output
    db.session.expire_all()
    assert [d["redacted"] for d in exported_events(db, later[0])] == [True, False]


def test_a_visit_is_shown_once_its_assignment_is_submitted(db, export_world, tmp_path):  # noqa: F811
    world = export_world
    sealed = sample_draw(world, **one_scope(world))
    later = sample_draw(world, **one_scope(world))
    close(later, world)
    db.session.commit()
    before = export(later, tmp_path / "before")
    assert before.redacted and before.withheld_visits == 8
    first = sealed.assignments[0]
    db.session.execute(sa.update(Assignment).where(Assignment.id == first.id).values(status="submitted"))
    db.session.commit()
    after = export(later, tmp_path / "after")
    assert after.redacted and after.withheld_visits == 6
    shown = {(venue, day) for item in json.loads(after.files["inspectors.redacted.json"]) for venue, day in item["visits"]}
    assert (first.venue_id, first.visit_date.isoformat()) in shown
    assert_match(tmp_path / "after")


@pytest.mark.parametrize("damage, fragment", [
    ({"venues_snapshot": b""}, "没有保存场所候选快照"),
    ({"inspectors_snapshot": b"not zlib"}, "督查人员候选快照无法解压"),
    ({"revealed_seed": "zz"}, "不是有效的十六进制串"),
])
def test_a_damaged_draw_exports_to_one_line(db, cli, export_world, tmp_path, damage, fragment):  # noqa: F811
    world = export_world
    draw = sample_draw(world)
    close(draw, world)
    db.session.commit()
    for column, value in damage.items():
        setattr(draw, column, value)
    db.session.commit()
    assert_one_line_error(cli.invoke(args=["draw", "export", str(draw.id), str(tmp_path / "out")]), fragment)
    assert not (tmp_path / "out").exists()


def test_a_redacted_export_of_a_damaged_result_is_one_line(db, cli, export_world, tmp_path):  # noqa: F811
    world = export_world
    sample_draw(world, **one_scope(world))
    later = sample_draw(world, **one_scope(world))
    close(later, world)
    later.parameters = {**later.parameters, "team": {**later.parameters["team"], "size": "two"}}
    db.session.commit()
    assert_one_line_error(cli.invoke(args=["draw", "export", str(later.id), str(tmp_path / "out")]),
                          "无法按保存的快照和参数重算")


# --- registry changes after the draw -----------------------------------------------------------------


def test_verification_warns_of_registry_changes_that_matter(db, cli, client, export_world):  # noqa: F811
    from test_draws_api import bearer

    world = export_world
    draw = sample_draw(world, **one_scope(world))
    close(draw, world)
    db.session.commit()
    assert verify_draw(draw).registry_changes == []

    first = draw.assignments[0]
    member = first.members[0].user
    member.county = world.counties[0]  # now from the venue's county
    first.venue.category = world.categories[1]  # the drawn venue changed category
    bystander = next(user for user in world.inspectors if user.id not in
                     {m.user_id for a in draw.assignments for m in a.members})
    bystander.is_active = False
    db.session.commit()

    report = verify_draw(draw)
    assert report.state == MATCH  # warnings, not mismatches
    text = "\n".join(report.registry_changes)
    assert f"第 1 项任务的督查组成员 {member.username}现属该场所所在的县（市、区）" in text
    assert f"第 1 项任务的场所（编号 {first.venue_id}）在抽查后" in text and "类别由" in text
    assert f"候选督查人员 {bystander.username} 在抽查后" in text and "已停用" in text

    result = cli.invoke(args=["draw", "verify", str(draw.id)])
    assert result.exit_code == 0, result.output
    assert "提醒（名录在抽查后变化）" in result.output and member.username in result.output
    answer = client.get(f"/api/v1/draws/{draw.id}/verification", headers=bearer(world.auditor))
    assert answer.status_code == 200 and answer.get_json()["registry_changes"] == report.registry_changes


def test_verification_names_an_inspector_taken_off_duty_for_the_draw(db, export_world):  # noqa: F811
    world = export_world
    away = world.inspectors[0]
    away.is_active = False
    db.session.commit()
    draw = sample_draw(world, **one_scope(world))
    close(draw, world)
    away.is_active = True  # back on duty right after
    db.session.commit()
    assert any(f"督查人员 {away.username} 抽查前已登记、现为在岗督查人员，但不在候选快照中" in line
               for line in verify_draw(draw).registry_changes)


def test_a_cancelled_draw_exports_and_reruns(db, export_world, tmp_path):  # noqa: F811
    from server.draws.cancellation import cancel_draw

    world = export_world
    draw = sample_draw(world)
    cancel_draw(draw, world.office, "暴雨预警，本次抽查取消", "cli")
    db.session.commit()
    assert draw.status == "cancelled" and draw.result_digest
    result = export(draw, tmp_path / "out")
    assert not result.redacted
    summary = json.loads((tmp_path / "out" / "draw.json").read_text("utf-8"))
    assert summary["status"] == "cancelled" and summary["office_seed"] == draw.revealed_seed
    assert "assignments" in assert_match(tmp_path / "out")


def test_a_cancelled_reinspection_does_not_export(db, cli, export_world, tmp_path):  # noqa: F811
    """Its venue is the one the order's next re-inspection visits."""
    from export_world import reinspection_draw

    from server.draws.cancellation import cancel_draw

    world = export_world
    draw = reinspection_draw(world, world.venues[0])
    cancel_draw(draw, world.office, "复查组人员临时调整，取消", "cli")
    db.session.commit()
    assert_one_line_error(cli.invoke(args=["draw", "export", str(draw.id), str(tmp_path / "out")]),
                          "已取消的整改复查")
    assert not (tmp_path / "out").exists() and exported_events(db, draw) == []
