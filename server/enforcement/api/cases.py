"""Violations waiting for the enforcement bureau, and penalty cases with their state machine.

The rules (who, which transitions, what each needs) are in `server.enforcement.cases`,
`case_opening` and `case_transitions`; the views parse, call the services and dump. Answers
carry the party's personal data: no shared cache may keep them.
"""

import marshmallow as ma
from flask_login import current_user
from flask_smorest import Blueprint

from ...access import api_auth_required
from .. import case_opening as opening
from .. import case_transitions as transitions
from .. import cases as service
from ..schemas.case import (
    CaseCreateSchema,
    CaseListArgsSchema,
    CasePageSchema,
    CaseSchema,
    DeclineRequestSchema,
    DeclineResultSchema,
    TransitionRequestSchema,
    ViolationListArgsSchema,
    ViolationSchema,
)

blp = Blueprint("cases", __name__, url_prefix="/api/v1", description="执法办案：违规问题立案与案件流转")


def _user():
    return current_user._get_current_object()


@blp.get("/violations")
@api_auth_required()
@blp.arguments(ViolationListArgsSchema, location="query", unknown=ma.RAISE)
@blp.response(200, ViolationSchema(many=True))
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
def list_violations(args):
    """List violations not yet in a case and not declined (enforcement, office, admin)."""
    violations = opening.open_violations(_user(), county_id=args.get("county_id"),
                                         department_id=args.get("department_id"), rule_code=args.get("rule"))
    return [service.violation_summary(v) for v in violations]


@blp.post("/violations/decline")
@api_auth_required()
@blp.arguments(DeclineRequestSchema)
@blp.response(200, DeclineResultSchema)
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
@blp.alt_response(409, response="CONFLICT", description="违规问题已立案或已决定不予立案")
def decline(data):
    """Decline violations (不予立案) with a reason; they leave the queue (enforcement)."""
    rows = opening.decline_violations(data["violation_ids"], reason=data["reason"], actor=_user(), channel="api")
    return {"declined": [row.violation_id for row in rows]}


@blp.get("/cases")
@api_auth_required()
@blp.arguments(CaseListArgsSchema, location="query", unknown=ma.RAISE)
@blp.response(200, CasePageSchema)
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
def list_cases(args):
    """List cases, newest first, filtered by state, county, department or overdue; paginated."""
    page = service.list_cases(_user(), state=args.get("state"), county_id=args.get("county_id"),
                              department_id=args.get("department_id"), overdue=args.get("overdue"),
                              page=args["page"], per_page=args["per_page"])
    return {"items": [_summary(case) for case in page.items], "total": page.total, "page": page.page,
            "per_page": page.per_page}


def _summary(case):
    return {"id": case.id, "state": case.state, "state_label": service.STATE_LABELS[case.state],
            "version": case.version, "venue": case.venue, "county": case.county,
            "party": {"kind": case.party_kind, "name": case.party_name, "unit_name": case.party_unit_name},
            "circumstance": case.circumstance, "act_date": case.act_date, "overdue": service.is_overdue(case),
            "opened_at": case.opened_at}


@blp.post("/cases")
@api_auth_required()
@blp.arguments(CaseCreateSchema)
@blp.response(201, CaseSchema)
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
@blp.alt_response(409, response="CONFLICT", description="违规问题已在办理中的案件里，或已决定不予立案")
def open_case(data):
    """Open a case (立案) from violations of one venue, with two certified enforcement officers."""
    case = opening.open_case(data["violation_ids"], officers=data["officers"], party=data["party"],
                             circumstance=data["circumstance"], facts=data.get("facts"),
                             evidence_summary=data.get("evidence_summary"), actor=_user(), channel="api")
    return service.detail(case)


@blp.get("/cases/<int:case_id>")
@api_auth_required()
@blp.response(200, CaseSchema)
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
@blp.alt_response(404, response="NOT_FOUND", description="案件不存在")
def get_case(case_id):
    """One case with its violations, evidence photos (SHA-256), history and allowed next states."""
    return service.detail(service.find_case(case_id, _user()))


@blp.post("/cases/<int:case_id>/transitions")
@api_auth_required()
@blp.arguments(TransitionRequestSchema)
@blp.response(200, CaseSchema)
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
@blp.alt_response(404, response="NOT_FOUND", description="案件不存在")
@blp.alt_response(409, response="CONFLICT", description="当前状态不允许该流转（列出允许的状态），或版本已过期")
def transition(data, case_id):
    """Move a case to its next state with what that state needs (enforcement)."""
    user = _user()
    case = service.find_case(case_id, user, "act")
    data = dict(data)
    to_state = data.pop("to")
    transitions.transition(case, to_state, actor=user, channel="api", **data)
    return service.detail(case)
