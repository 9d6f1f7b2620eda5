"""Rectification orders: issue, re-inspection drawn like any draw (sealed, 回避, verifiable),
idempotent scheduling, the re-inspection's result, overdue listing, escalation."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from rectification_world import K3, make_assignment, rectification_world, visit, world  # noqa: F401

from server.audit.models.audit import AuditEvent
from server.columns import as_utc
from server.draws import assignments as assignment_service
from server.draws.closing import close_draw
from server.draws.models.draw import Assignment, Draw
from server.draws.seeding import contribute
from server.draws.verification import MATCH, verify_draw
from server.enforcement import rectification as service
from server.enforcement import rectification_issuing as issuing
from server.enforcement import reinspection
from server.enforcement.models.rectification import RectificationOrder, RectificationOrderViolation
from server.errors import Conflict, Forbidden, Invalid
from server.field.models.inspection import Violation

# The auditor's share that completes each re-inspection draw's seed (server/draws/seeding.py).
SHARE = "3c5e7a9b1d2f4e6a8c0b2d4f6a8c0e1f"


def issue(rw, **overrides):
    arguments = {"deadline": rw.today + timedelta(days=1), "requirements": "控制参观人数不超过核定人数的50%",
                 "actor": rw.users["enforcement"], **overrides}
    return issuing.issue_order([rw.violation.id], **arguments)


def events(db, action: str, object_id) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action,
                                                               AuditEvent.object_id == str(object_id))))


def test_issue_records_the_order_and_audits(db, rectification_world):
    rw = rectification_world
    order = issue(rw, legal_basis="《中华人民共和国传染病防治法》")
    assert order.state == "open" and order.venue_id == rw.museum.id and order.county_id == rw.museum.county_id
    assert [(link.violation_id, link.kind, link.open) for link in order.links] == [(rw.violation.id, "covered", True)]
    assert order.issued_on == rw.today and order.issuing_authority == "金华市公安局"
    [event] = events(db, "rectification.issued", order.id)
    assert event.details["violation_ids"] == [rw.violation.id]


@pytest.mark.parametrize("days", [0, -1])
def test_a_deadline_not_after_today_is_refused(db, rectification_world, days):
    rw = rectification_world
    with pytest.raises(Invalid) as caught:
        issue(rw, deadline=rw.today + timedelta(days=days))
    assert "deadline" in caught.value.errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RectificationOrder)) == 0


def test_a_violation_under_an_open_order_is_409_and_unknown_is_422(db, rectification_world):
    rw = rectification_world
    issue(rw)
    with pytest.raises(Conflict, match="已有未结束的整改通知"):
        issue(rw)
    with pytest.raises(Invalid):
        issuing.issue_order([2**31 - 2], deadline=rw.today + timedelta(days=3), requirements="整改",
                            actor=rw.users["enforcement"])


@pytest.mark.parametrize("role", ["inspector", "propaganda", "department", "county", "auditor"])
def test_only_enforcement_and_office_issue(db, rectification_world, role):
    rw = rectification_world
    actor = {"inspector": rw.users["outsider"], "propaganda": rw.users["propaganda"],
             "department": rw.users["department"], "county": rw.users["county"],
             "auditor": rw.users["auditor"]}[role]
    with pytest.raises(Forbidden):
        issue(rw, actor=actor)
    assert issue(rw, actor=rw.users["office"]).state == "open"


def test_schedule_draws_one_sealed_reinspection_respecting_avoidance_and_is_idempotent(db, rectification_world):
    rw = rectification_world
    order = issue(rw)
    office = rw.users["office"]
    # Not yet due on the deadline itself.
    assert reinspection.schedule_reinspections(rw.after_deadline(1), actor=office).scheduled == []

    report = reinspection.schedule_reinspections(rw.after_deadline(), actor=office)
    assert report.failed == []
    [(scheduled, made)] = report.scheduled
    assert scheduled is order and order.state == "reinspection_scheduled"
    # The draw waits for the auditor's share: no assignment, none on the order, until it is in.
    assert made.status == "awaiting" and order.reinspection_draw_id == made.id
    assert order.reinspection_assignment_id is None and not made.assignments
    contribute(made, rw.users["auditor"], SHARE)
    assignment = made.assignments[0]
    assert order.reinspection_assignment_id == assignment.id
    assert assignment.venue_id == rw.museum.id and assignment.status == "sealed"
    assert assignment.wrapped_reveal_code is not None and assignment.wrapped_key
    assert assignment.visit_date >= rw.after_deadline()
    team = {member.user_id for member in assignment.members}
    # 回避: nobody from the venue's county or its responsible department; the original team
    # (visited today) is kept off by the repeat-visit rule; one member holds a certificate.
    assert team == {rw.users["outsider"].id, rw.eligible.id}
    assert rw.same_county.id not in team and rw.responsible.id not in team
    draw = db.session.get(Draw, assignment.draw_id)
    assert draw.purpose == "reinspection" and draw.parameters["purpose"] == "reinspection"
    assert draw.parameters["scope"]["venues"] == [rw.museum.id] and draw.status == "committed"
    [created] = events(db, "draw.created", draw.id)
    assert created.details["commitment"] == draw.commitment
    assert "rectification_order_id" not in created.details
    # Recorded on the draw, naming neither the order nor the venue (the auditor reads the log).
    [scheduled_event] = events(db, "rectification.reinspection_scheduled", draw.id)
    assert scheduled_event.object_type == "draw" and str(order.id) not in str(scheduled_event.details or {})

    # Running again creates nothing.
    draws = db.session.scalar(sa.select(sa.func.count()).select_from(Draw))
    again = reinspection.schedule_reinspections(rw.after_deadline(), actor=office)
    assert again.scheduled == [] and again.failed == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Draw)) == draws

    # A verifiable draw like any other, once its window has ended.
    close_draw(draw, office, now=as_utc(draw.window_end))
    assert verify_draw(draw).state == MATCH


def test_schedule_is_for_the_office(db, rectification_world):
    rw = rectification_world
    issue(rw)
    with pytest.raises(Forbidden):
        reinspection.schedule_reinspections(rw.after_deadline(), actor=rw.users["enforcement"])


def test_an_unstaffable_reinspection_is_reported_and_the_order_stays_open(db, rectification_world):
    rw = rectification_world
    order = issue(rw)
    rw.eligible.is_active = False
    db.session.flush()
    report = reinspection.schedule_reinspections(rw.after_deadline(), actor=rw.users["office"])
    assert report.scheduled == [] and [o for o, _ in report.failed] == [order]
    assert "督查组" in report.failed[0][1] or "回避" in report.failed[0][1]
    assert order.state == "open" and db.session.scalar(
        sa.select(sa.func.count()).select_from(Draw).where(Draw.purpose == "reinspection")) == 0


def drawn(rw, on, *, actor) -> list[tuple]:
    """Schedule re-inspections and complete each draw with the auditor's share, as the policy asks:
    (order, sealed assignment) pairs."""
    report = reinspection.schedule_reinspections(on, actor=actor)
    pairs = []
    for order, made in report.scheduled:
        contribute(made, rw.users["auditor"], SHARE)
        pairs.append((order, made.assignments[0]))
    return pairs


def scheduled(rw, db):
    order = issue(rw)
    [(_, assignment)] = drawn(rw, rw.after_deadline(), actor=rw.users["office"])
    assignment_service.dispatch(assignment, rw.users["office"], channel="api", now=as_utc(assignment.window_start))
    return order, assignment


def test_a_reinspection_that_finds_the_problem_fixed_passes_the_order(db, client, rectification_world):
    rw = rectification_world
    order, assignment = scheduled(rw, db)
    visit(client, rw.eligible, assignment, {"k3_visitors": 300})
    db.session.refresh(order)
    assert order.state == "passed" and order.result_note.startswith("复查合格")
    assert order.reinspection_inspection_id is not None
    assert db.session.scalar(sa.select(RectificationOrderViolation.open).where(
        RectificationOrderViolation.order_id == order.id)) is None
    assert events(db, "rectification.passed", order.id)
    # The violation is free for a new order.
    assert issue(rw).state == "open"


def test_a_reinspection_that_finds_it_still_broken_fails_and_escalates(db, client, rectification_world):
    rw = rectification_world
    order, assignment = scheduled(rw, db)
    visit(client, rw.eligible, assignment, {"k3_visitors": 500})
    db.session.refresh(order)
    assert order.state == "failed" and "仍存在" in order.result_note
    [again] = [link for link in order.links if link.kind == "found_again"]
    new = db.session.get(Violation, again.violation_id)
    assert (new.rule_code, new.check_code) == K3 and new.id != rw.violation.id
    assert new.inspection_id == order.reinspection_inspection_id
    [event] = events(db, "rectification.failed", order.id)
    assert event.details["found_again"] == [new.id]
    # A case opened from the violation found again is the order's escalation.
    from server.enforcement.case_opening import open_case

    officers = [rw.users["enforcement"], rw.users["enforcement"]]
    for n, officer in enumerate(officers):
        officer.enforcement_certificate_no = f"浙执{n}{rw.world.tag}"
    second = type(officers[0])(username=f"enf2-{rw.world.tag}", display_name="执法二", role="enforcement", password_hash="x",
                               enforcement_certificate_no=f"浙执X{rw.world.tag}")
    db.session.add(second)
    db.session.flush()
    case = open_case([new.id], officers=[officers[0].id, second.id], circumstance="refused",
                     party={"kind": "unit", "unit_name": "某博物馆", "credit_code": "91330701MA2D12345J",
                            "legal_representative": "王某"}, actor=officers[0])
    assert order.escalated_case_id == case.id
    assert events(db, "rectification.escalated", order.id)


def test_a_reinspection_that_did_not_check_the_problem_does_not_pass(db, client, rectification_world):
    rw = rectification_world
    order, assignment = scheduled(rw, db)
    visit(client, rw.eligible, assignment, {})
    db.session.refresh(order)
    assert order.state == "failed" and "未检查" in order.result_note


def test_with_a_case_the_result_is_noted_on_the_case(db, client, rectification_world):
    rw = rectification_world
    from server.enforcement.case_opening import open_case

    first = rw.users["enforcement"]
    first.enforcement_certificate_no = f"浙执A{rw.world.tag}"
    second = type(first)(username=f"enfb-{rw.world.tag}", display_name="执法乙", role="enforcement", password_hash="x",
                         enforcement_certificate_no=f"浙执B{rw.world.tag}")
    db.session.add(second)
    db.session.flush()
    case = open_case([rw.violation.id], officers=[first.id, second.id], circumstance="first",
                     party={"kind": "individual", "name": "李某", "id_number": "330702199001011234",
                            "address": "金华市婺城区某路2号"}, actor=first)
    order = issuing.issue_order([], case=case, deadline=rw.today + timedelta(days=1), requirements="限流",
                                actor=first)
    assert order.case_id == case.id and [link.violation_id for link in order.links] == [rw.violation.id]
    assert events(db, "case.rectification_ordered", case.id)
    [(_, assignment)] = drawn(rw, rw.after_deadline(), actor=rw.users["office"])
    assignment_service.dispatch(assignment, rw.users["office"], channel="api", now=as_utc(assignment.window_start))
    visit(client, rw.eligible, assignment, {"k3_visitors": 100})
    db.session.refresh(order)
    assert order.state == "passed"
    [event] = events(db, "case.rectification_passed", case.id)
    assert event.details["order_id"] == order.id
    db.session.refresh(case)
    assert case.state == "filed"


def test_overdue_lists_unscheduled_and_unfinished_reinspections(db, rectification_world):
    rw = rectification_world
    order = issue(rw)
    assert service.overdue_orders(rw.today + timedelta(days=1)) == []
    assert service.overdue_orders(rw.after_deadline()) == [order]
    [(_, assignment)] = drawn(rw, rw.after_deadline(), actor=rw.users["office"])
    assert service.overdue_orders(rw.after_deadline()) == []
    # The window (3 days from the scheduling day) has ended and nothing was submitted.
    late = rw.after_deadline() + timedelta(days=3)
    assert service.overdue_orders(late) == [order] and service.is_overdue(order, late)


def test_a_cancelled_reinspection_is_drawn_again(db, rectification_world):
    rw = rectification_world
    order = issue(rw)
    office = rw.users["office"]
    [(_, first)] = drawn(rw, rw.after_deadline(), actor=office)
    assignment_service.cancel(first, office, channel="api", reason="督查组人员生病")
    # A cancelled assignment is no visit: the same two inspectors may be drawn again.
    [(again, second)] = drawn(rw, rw.after_deadline(), actor=office)
    assert again is order and second.id != first.id and order.reinspection_assignment_id == second.id


def test_a_reinspection_draw_cancelled_before_its_share_is_drawn_again(db, rectification_world):
    rw = rectification_world
    order = issue(rw)
    office = rw.users["office"]
    [(_, first)] = reinspection.schedule_reinspections(rw.after_deadline(), actor=office).scheduled
    first.status = "cancelled"  # as a cancellation leaves it: no assignment was ever formed
    db.session.flush()
    [(again, second)] = reinspection.schedule_reinspections(rw.after_deadline(), actor=office).scheduled
    assert again is order and second.id != first.id and order.reinspection_draw_id == second.id
    contribute(second, rw.users["auditor"], SHARE)
    assert order.reinspection_assignment_id == second.assignments[0].id


def test_withdraw(db, rectification_world):
    rw = rectification_world
    order = issue(rw)
    with pytest.raises(Invalid):
        issuing.withdraw_order(order, reason=" ", actor=rw.users["enforcement"])
    issuing.withdraw_order(order, reason="已由属地督促整改完毕", actor=rw.users["enforcement"])
    assert order.state == "withdrawn" and events(db, "rectification.withdrawn", order.id)
    with pytest.raises(Conflict):
        issuing.withdraw_order(order, reason="再次", actor=rw.users["enforcement"])
    # The violation is free again.
    assert issue(rw).state == "open"


def test_withdrawing_a_scheduled_order_cancels_its_reinspection(db, rectification_world):
    rw = rectification_world
    order = issue(rw)
    [(_, assignment)] = drawn(rw, rw.after_deadline(), actor=rw.users["office"])
    with pytest.raises(Conflict, match="领导小组办公室"):
        issuing.withdraw_order(order, reason="误发", actor=rw.users["enforcement"])
    issuing.withdraw_order(order, reason="误发", actor=rw.users["office"])
    assert order.state == "withdrawn" and db.session.get(Assignment, assignment.id).status == "cancelled"
    assert reinspection.schedule_reinspections(rw.after_deadline(), actor=rw.users["office"]).scheduled == []


def test_notice_context_is_plain_data_with_labels(db, rectification_world):
    rw = rectification_world
    order = issue(rw, legal_basis="《浙江省突发公共卫生事件预防与应急办法》")
    context = service.rectification_notice_context(order)
    assert context["title"] == "责令限期整改通知书" and context["issuing_authority"] == "金华市公安局"
    assert context["venue"]["name"] == rw.museum.name and context["venue"]["county"] == "婺城区"
    assert context["deadline"] == order.deadline.isoformat()
    assert context["deadline_text"] == f"{order.deadline.year}年{order.deadline.month}月{order.deadline.day}日"
    [violation] = context["violations"]
    assert violation["rule_code"] == "K3" and violation["rule_title"] and violation["description"]
    assert context["legal_basis"].startswith("《浙江省") and context["case"] is None
    assert context["party"]["kind_label"] == "场所经营者"
    import json

    json.dumps(context, ensure_ascii=False)
