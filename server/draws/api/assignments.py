"""Assignments: role-scoped lists with sealed envelopes, the audited target, dispatch and reveal.

Who may see what is decided in `server.draws.assignment_access` (its docstring has the table); the
views parse, call the service and dump. No answer here carries a target except the target
endpoint, and every answer is marked `Cache-Control: no-store`: keys, codes and targets must
not linger in a proxy or a browser cache.
"""

import marshmallow as ma
from flask_login import current_user
from flask_smorest import Blueprint

from ...access import api_auth_required
from .. import assignment_access, assignment_reading
from .. import assignments as service
from ..schemas.assignment import (
    AssignmentListArgsSchema,
    AssignmentSchema,
    CancelRequestSchema,
    DispatchResultSchema,
    RevealResultSchema,
    TargetSchema,
)

blp = Blueprint("assignments", __name__, url_prefix="/api/v1/assignments", description="督查任务：密封、派发与揭封")

DISPATCH_WARNING = "揭封码只显示这一次，服务器不再保存；请当面或电话告知带队督查人员。"


def _user():
    return current_user._get_current_object()


@blp.get("")
@api_auth_required()
# webargs ignores unknown query parameters unless told otherwise; a typo must not widen a list.
@blp.arguments(AssignmentListArgsSchema, location="query", unknown=ma.RAISE)
@blp.response(200, AssignmentSchema(many=True))
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
def list_assignments(args):
    """List the assignments visible to the caller, never with their targets.

    Office, admin and auditor: all. Inspectors: their team's, each with its sealed envelope.
    Department and county viewers: submitted ones within their scope. Other roles: 403.
    """
    user = _user()
    return [assignment_reading.summary(assignment, user)
            for assignment in assignment_access.visible_assignments(user, draw_id=args.get("draw_id"),
                                                                    status=args.get("status"))]


@blp.get("/<int:assignment_id>")
@api_auth_required()
@blp.response(200, AssignmentSchema)
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
@blp.alt_response(404, response="NOT_FOUND", description="任务不存在或不在您的范围内")
def get_assignment(assignment_id):
    """Get one assignment (without its target)."""
    user = _user()
    return assignment_reading.summary(assignment_access.find_assignment(assignment_id, user), user)


@blp.get("/<int:assignment_id>/target")
@api_auth_required()
@blp.response(200, TargetSchema)
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
@blp.alt_response(404, response="NOT_FOUND", description="任务不存在或不在您的范围内")
def get_target(assignment_id):
    """Read an assignment's target; every read is written to the audit log.

    Office/admin: any time. Team members: once revealed. Department/county viewers: once the
    inspection is submitted, within their scope.
    """
    user = _user()
    assignment = assignment_access.find_assignment(assignment_id, user, "read_target")
    return assignment_reading.read_target(assignment, user, channel="api")


@blp.post("/<int:assignment_id>/dispatch")
@api_auth_required()
@blp.response(200, DispatchResultSchema)
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
@blp.alt_response(404, response="NOT_FOUND", description="任务不存在")
@blp.alt_response(409, response="CONFLICT", description="任务已派发、已取消或已过期，或正被同时派发")
def dispatch_assignment(assignment_id):
    """Dispatch the team (office/admin): returns the one-time reveal code.

    The code is erased from the server in the same transaction and never shown again; the team
    enters it on a device to open the envelope offline. Two concurrent dispatches yield one code;
    the other gets 409.
    """
    user = _user()
    assignment = assignment_access.find_assignment(assignment_id, user, "manage")
    code = service.dispatch(assignment, user, channel="api")
    return {"reveal_code": code, "warning": DISPATCH_WARNING,
            "assignment": assignment_reading.summary(assignment, user)}


@blp.post("/<int:assignment_id>/reveal")
@api_auth_required()
@blp.response(200, RevealResultSchema)
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
@blp.alt_response(404, response="NOT_FOUND", description="任务不存在或不在您的范围内")
@blp.alt_response(409, response="CONFLICT", description="任务已取消、已过期或已办结")
def reveal_assignment(assignment_id):
    """Release the assignment key to a team member (audited).

    Only after dispatch (403 before) and inside the time window (403 outside, `reason` says
    which side). The first release moves the assignment to `revealed`.
    """
    user = _user()
    assignment = assignment_access.find_assignment(assignment_id, user, "reveal")
    key = service.reveal_online(assignment, user, channel="api")
    return {"key": key, "assignment_uuid": assignment.uuid, "status": assignment.status}


@blp.post("/<int:assignment_id>/cancel")
@api_auth_required()
@blp.arguments(CancelRequestSchema)
@blp.response(200, AssignmentSchema)
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
@blp.alt_response(404, response="NOT_FOUND", description="任务不存在")
@blp.alt_response(409, response="CONFLICT", description="任务已提交、已办结、已取消或已过期")
def cancel_assignment(data, assignment_id):
    """Cancel an assignment (office/admin) with a reason."""
    user = _user()
    assignment = assignment_access.find_assignment(assignment_id, user, "manage")
    service.cancel(assignment, user, channel="api", reason=data["reason"])
    return assignment_reading.summary(assignment, user)
