"""The seed no single party chooses: a draw commits to the office's seed, and its assignments are
formed only when a contribution fixed after that commitment is entered — by the auditor (纪检), or
a public value the policy names in advance. The selection seed is
HMAC-SHA256(office seed, "anfang-draw-seed:" + contribution) (docs/draw-algorithm.md §1)."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
import zlib
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value

from server.audit.models.audit import AuditEvent
from server.columns import utcnow
from server.draws import seeding
from server.draws.closing import close_draw
from server.draws.creation import create_draw
from server.draws.models.draw import Assignment, Draw
from server.draws.seeding import contribute
from server.draws.selection import Infeasibility, Selection
from server.draws.server_keys import unwrap_secret
from server.draws.verification import MATCH, MISMATCH, verify_draw
from server.errors import Conflict, Forbidden, Invalid
from server.registry.models.reference import DrawPolicy

from test_draw_service import person, scope  # noqa: F401  (the fixture)

SHARE = "a3f1c9e07b254d6e8f10c2b3a4d5e6f7"


def past_window():
    """A window already over, so the draw can be closed and verified in the test (demo_seed allows it)."""
    start = utcnow() - timedelta(days=3)
    return {"window_start": start, "window_end": start + timedelta(days=2)}


def awaiting(scope, *, seed: bytes | None = None, **overrides) -> Draw:  # noqa: F811
    arguments = {"counties": [scope.county.code], "categories": [scope.category.code], "sample_size": 4}
    if seed is not None:
        arguments |= past_window()
    else:
        start = utcnow() + timedelta(hours=1)
        arguments |= {"window_start": start, "window_end": start + timedelta(days=2)}
    return create_draw(scope.office, **(arguments | overrides), demo_seed=seed)


def events(db, made: Draw, action: str) -> list[AuditEvent]:
    return db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action,
                                                          AuditEvent.object_id == str(made.id))).all()


def test_a_new_draw_waits_for_the_contribution_with_nothing_selected(db, scope):
    made = awaiting(scope)

    assert made.status == "awaiting" and made.result_digest is None and made.contribution is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Assignment)
                             .where(Assignment.draw_id == made.id)) == 0
    assert made.parameters["seed"] == {"contribution": "auditor", "public_source": None}
    [created] = events(db, made, "draw.created")
    assert created.details["commitment"] == made.commitment and "result_digest" not in created.details
    assert created.details["contribution"] == "auditor"


def test_the_auditors_share_forms_the_assignments_and_is_anchored_after_the_commitment(db, scope):
    made = awaiting(scope)
    contribute(made, scope.auditor, f"  {SHARE}  ")

    assert made.status == "committed" and made.contribution == SHARE and made.contribution_source == "auditor"
    assert made.contributed_by_id == scope.auditor.id and made.contributed_at is not None
    assert len(made.assignments) == 4 and all(a.status == "sealed" for a in made.assignments)
    [created] = events(db, made, "draw.created")
    [seeded] = events(db, made, "draw.seeded")
    assert seeded.seq > created.seq
    assert seeded.details["contribution"] == SHARE and seeded.details["source"] == "auditor"
    assert seeded.details["result_digest"] == made.result_digest and seeded.details["assignments"] == 4


def test_the_selection_seed_is_the_hmac_of_the_office_seed_over_the_contribution(db, scope):
    office_seed = bytes(range(32))
    made = awaiting(scope, seed=office_seed)
    contribute(made, scope.auditor, SHARE)
    close_draw(made, scope.office)

    report = verify_draw(made)
    assert report.state == MATCH, report.reasons
    expected = hmac.new(office_seed, ("anfang-draw-seed:" + SHARE).encode("utf-8"), hashlib.sha256).hexdigest()
    assert report.seed == expected and made.revealed_seed == office_seed.hex()
    assert made.commitment == hashlib.sha256(office_seed).hexdigest()


def test_the_office_cannot_know_the_outcome_from_its_own_seed(db, scope):
    """The same committed office seed gives another result under another share: what the office
    could compute from its seed alone is not what is drawn."""
    office_seed = b"\x07" * 32
    results = set()
    for share in (SHARE, "0" * 31 + "1", "纪检监察室随机数二〇二六一二〇四"):
        made = awaiting(scope, seed=office_seed)
        contribute(made, scope.auditor, share)
        results.add(tuple((a.venue_id, tuple(m.user_id for m in a.members)) for a in made.assignments))
        # Other draws' bookings would change later draws' inputs: start each from the same state.
        for assignment in made.assignments:
            assignment.status = "cancelled"
        db.session.flush()
    assert len(results) > 1


def test_only_the_role_the_policy_names_may_enter_it_and_only_once(db, scope):
    made = awaiting(scope)
    for user in (scope.office, scope.admin, scope.inspectors[0]):
        with pytest.raises(Forbidden, match="纪检监察人员"):
            contribute(made, user, SHARE)
    with pytest.raises(Invalid, match="至少 16 个字符"):
        contribute(made, scope.auditor, "12345")
    with pytest.raises(Invalid, match="控制字符"):
        contribute(made, scope.auditor, SHARE + "\u200b")
    with pytest.raises(Invalid, match="请填写"):
        contribute(made, scope.auditor, "   ")
    assert made.status == "awaiting" and made.contribution is None
    contribute(made, scope.auditor, SHARE)
    with pytest.raises(Conflict, match="只能录入一次"):
        contribute(made, scope.auditor, "another-share-0123456789")
    assert made.contribution == SHARE


def test_a_public_value_named_in_advance_may_be_entered_by_whoever_reads_it(db, scope):
    policy = db.session.scalar(sa.select(DrawPolicy).where(DrawPolicy.code == "default"))
    source = "中国福利彩票3D：抽查创建后开奖的第一期开奖号码"
    policy.settings = {**policy.settings, "seed": {"contribution": "public", "public_source": source}}
    db.session.flush()
    made = awaiting(scope)
    assert made.parameters["seed"] == {"contribution": "public", "public_source": source}
    with pytest.raises(Forbidden):
        contribute(made, scope.inspectors[0], "385")
    contribute(made, scope.office, "385")
    assert made.status == "committed" and made.contribution_source == "public" and len(made.assignments) == 4


def test_a_completed_seed_that_cannot_staff_the_scope_cancels_the_draw_visibly(db, scope, monkeypatch):
    made = awaiting(scope)
    infeasible = Selection(assignments=(), skipped=(), infeasible=Infeasibility(
        constraint="same_county", requested=4, staffed=0, venues_in_scope=8, inspectors=10, team_size=2,
        skipped={"same_county": 8}, funnel=()))
    monkeypatch.setattr(seeding, "select", lambda *arguments: infeasible)
    contribute(made, scope.auditor, SHARE)

    assert made.status == "cancelled" and "不可行" in made.cancel_reason and made.result_digest is None
    assert made.revealed_seed == unwrap_secret(made.sealed_seed, "draw-seed").hex()
    [seeded] = events(db, made, "draw.seeded")
    assert seeded.details["feasible"] is False and seeded.details["contribution"] == SHARE


def test_verification_catches_a_contribution_changed_afterwards(db, scope):
    made = awaiting(scope, seed=b"\x11" * 32)
    contribute(made, scope.auditor, SHARE)
    close_draw(made, scope.office)
    assert verify_draw(made).state == MATCH

    made.contribution = "0" * 32  # a different share that would give the targets someone wanted
    db.session.flush()
    report = verify_draw(made)
    assert report.state == MISMATCH
    assert any("随机数与审计日志中录入的不符" in reason for reason in report.reasons)


def test_verification_catches_a_result_formed_without_the_anchored_contribution(db, scope):
    made = awaiting(scope, seed=b"\x12" * 32)
    contribute(made, scope.auditor, SHARE)
    close_draw(made, scope.office)
    # The full-insider move: the seeded event gone from the log.
    db.session.execute(sa.update(Draw).where(Draw.id == made.id).values(contribution=None))
    db.session.expire(made)
    report = verify_draw(made)
    assert report.state == MISMATCH


def test_the_same_share_on_two_draws_still_gives_two_seeds(db, scope):
    """An auditor who reuses a share does not hand the office the seed: each office seed differs."""
    first, second = awaiting(scope), awaiting(scope)
    contribute(first, scope.auditor, SHARE)
    contribute(second, scope.auditor, SHARE)
    assert first.result_digest != second.result_digest


def test_past_violations_weigh_as_the_policy_says(db, scope):
    """A venue's live violations of the policy's last `past_violations_days` are in its snapshot
    entry (and so weigh, §5); a withdrawn one or one older than that does not count."""
    from assignment_world import _placeholder_draw

    from server.field.models.inspection import Inspection, Violation

    def violation(venue, *, days_ago: int, withdrawn: bool = False) -> None:
        start = utcnow() - timedelta(days=days_ago)
        holder = _placeholder_draw(scope.office, start, start + timedelta(hours=6))
        db.session.add(holder)
        db.session.flush()
        assignment = Assignment(draw_id=holder.id, position=1, venue=venue, visit_date=start.date(),
                                window_start=start, window_end=start + timedelta(hours=6), status="submitted",
                                wrapped_key=b"k")
        db.session.add(assignment)
        db.session.flush()
        inspection = Inspection(uuid=str(uuid.uuid4()), assignment_id=assignment.id, device_id="t",
                                inspector_id=scope.inspectors[0].id, checked_in_at=start, status="complete",
                                submitted_at=start, submission_received_at=start)
        db.session.add(inspection)
        db.session.flush()
        db.session.add(Violation(inspection_id=inspection.id, rule_code="K3", check_code=f"c{days_ago}",
                                 description="超过核定人数", venue_id=venue.id, county_id=venue.county_id,
                                 department_ids=[], created_at=start,
                                 withdrawn_at=utcnow() if withdrawn else None))
        db.session.flush()

    violation(scope.venues[0], days_ago=10)
    violation(scope.venues[0], days_ago=20)
    violation(scope.venues[1], days_ago=5, withdrawn=True)
    violation(scope.venues[2], days_ago=400)
    made = awaiting(scope, seed=b"\x21" * 32)
    entries = {entry["id"]: entry for entry in json.loads(zlib.decompress(made.venues_snapshot))}
    assert entries[scope.venues[0].id]["past_violations"] == 2
    assert entries[scope.venues[1].id]["past_violations"] == 0 and entries[scope.venues[2].id]["past_violations"] == 0
    assert entries[scope.venues[0].id]["inspected"] is True
    assert made.parameters["weights"]["past_violations_days"] == 365
    assert made.parameters["weights"]["past_violations_factor"] == 2
    contribute(made, scope.auditor, SHARE)
    close_draw(made, scope.office)
    assert verify_draw(made).state == MATCH


def test_of_two_contributions_racing_only_one_forms_the_draw(db, scope):
    """The second auditor's request still holds the draw as `awaiting`; the row has moved on."""
    made = awaiting(scope)
    stale = made.status
    contribute(made, scope.auditor, SHARE)
    formed = made.result_digest
    set_committed_value(made, "status", stale)  # what the other request read before this one committed
    with pytest.raises(Conflict, match="刚被其他操作改动"):
        contribute(made, scope.auditor, "a-different-share-0123456789")
    assert db.session.scalar(sa.select(Draw.contribution).where(Draw.id == made.id)) == SHARE
    assert db.session.scalar(sa.select(Draw.result_digest).where(Draw.id == made.id)) == formed
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Assignment)
                             .where(Assignment.draw_id == made.id)) == 4
