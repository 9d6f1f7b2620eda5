"""The office's ways of choosing among outcomes, run as the insider would run them: each step
either is refused or leaves a trace the auditor sees.

The silent variant: create a draw, close it early, export it unaudited, compute the targets from
the public algorithm, then dispatch from the closed draw. The steering variant: work out the
targets from the office's own seed before anyone else's share exists.
"""

from __future__ import annotations

import sqlalchemy as sa
from test_draws_api import assert_problem, bearer
from test_draws_api import create as api_create
from test_draws_api import world  # noqa: F401  (the fixture)

from server.audit.models.audit import AuditEvent
from server.draws.models.draw import Assignment, Draw
from server.draws.selection import inspectors_from_json, result_digest, select, selection_seed, venues_from_json
from server.draws.server_keys import unwrap_secret

SHARE = "5f0e1d2c3b4a59687766554433221100"


def audit_actions(db, draw_id: int) -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).where(
        AuditEvent.object_type == "draw", AuditEvent.object_id == str(draw_id)).order_by(AuditEvent.seq)))


def test_the_silent_variant_is_refused_or_seen_at_every_step(client, cli, db, world, tmp_path):
    office, auditor = bearer(world.users["office"]), bearer(world.users["auditor"])
    draw_id = api_create(client, world).get_json()["id"]
    client.post(f"/api/v1/draws/{draw_id}/contribution", json={"value": SHARE}, headers=auditor)

    # Close early, to reveal the seed: refused, only a cancellation (with a reason) ends it now.
    problem = assert_problem(client.post(f"/api/v1/draws/{draw_id}/close", headers=office), 409)
    assert "只能取消" in problem["detail"]
    # Export an open draw: refused in one line, nothing written.
    refused = cli.invoke(args=["draw", "export", str(draw_id), str(tmp_path / "early")])
    assert refused.exit_code == 1 and not (tmp_path / "early").exists()

    # Cancelling is the only way out, and it is seen: the reason, who, and the draw in the list.
    assert_problem(client.post(f"/api/v1/draws/{draw_id}/cancel", json={"reason": ""}, headers=office), 422)
    cancelled = client.post(f"/api/v1/draws/{draw_id}/cancel", json={"reason": "范围选错，重新抽取"}, headers=office)
    assert cancelled.status_code == 200, cancelled.get_data(as_text=True)
    listed = {row["id"]: row for row in client.get("/api/v1/draws", headers=auditor).get_json()}
    assert listed[draw_id]["status"] == "cancelled" and listed[draw_id]["cancel_reason"] == "范围选错，重新抽取"

    # The export now works, and is itself on the record.
    exported = cli.invoke(args=["draw", "export", str(draw_id), str(tmp_path / "out")])
    assert exported.exit_code == 0, exported.output
    assert audit_actions(db, draw_id)[-2:] == ["draw.cancelled", "draw.exported"]

    # Dispatching from the cancelled draw, with the targets worked out: refused.
    assignment_id = db.session.scalar(sa.select(Assignment.id).where(Assignment.draw_id == draw_id).limit(1))
    db.session.execute(sa.update(Assignment).where(Assignment.id == assignment_id).values(status="sealed"))
    db.session.commit()
    assert_problem(client.post(f"/api/v1/assignments/{assignment_id}/dispatch", headers=office), 409)


def test_the_office_seed_alone_does_not_give_the_targets(client, db, world):
    """Whoever holds the server key can unwrap the office's seed the moment the draw exists; what
    is drawn is what the seed completed by the auditor's later share gives, and the anchored
    result digest is keyed with that completed seed, not with anything the office held."""
    import json
    import zlib

    draw_id = api_create(client, world, sample_size=3).get_json()["id"]
    made = db.session.get(Draw, draw_id)
    office_seed = unwrap_secret(made.sealed_seed, "draw-seed")
    venues = venues_from_json(json.loads(zlib.decompress(made.venues_snapshot)))
    inspectors = inspectors_from_json(json.loads(zlib.decompress(made.inspectors_snapshot)))
    guessed = select(office_seed, venues, inspectors, made.parameters)

    client.post(f"/api/v1/draws/{draw_id}/contribution", json={"value": SHARE},
                headers=bearer(world.users["auditor"]))
    db.session.expire_all()
    made = db.session.get(Draw, draw_id)
    completed = select(selection_seed(office_seed, SHARE), venues, inspectors, made.parameters)
    drawn = db.session.scalars(sa.select(Assignment).where(Assignment.draw_id == draw_id)
                               .order_by(Assignment.position)).all()
    assert [(a.venue_id, tuple(m.user_id for m in a.members)) for a in drawn] == [
        (p.venue_id, p.members) for p in completed.assignments]
    assert made.result_digest == result_digest(selection_seed(office_seed, SHARE), completed)
    assert made.result_digest != result_digest(office_seed, guessed)
