"""What the field reported of an assignment, for the office: its records when two devices of its
team recorded it (parallel records) — the comparison (组内记录不一致) and the office's decision
which record stands — and its flagged offline reveals (server.field.reveal_checks).

The rules are in `server.field.parallel_records`; the views parse, call the service and dump.
"""

from flask_login import current_user
from flask_smorest import Blueprint

from ...access import api_auth_required
from ...draws.assignment_access import find_assignment
from ...errors import NotFound
from .. import parallel_records as service
from ..reveal_checks import reveal_anomalies
from ..schemas.parallel_records import AdoptRequestSchema, ComparisonSchema
from ..schemas.reveals import RevealAnomaliesSchema

blp = Blueprint("parallel_records", __name__, url_prefix="/api/v1/assignments",
                description="任务的现场记录：同一任务多台设备的记录比对与核定，离线揭封异常提示")

DECIDERS = ("office", "admin")


def _answer(assignment) -> dict:
    comparison = service.compare_records(assignment)
    if comparison is None:
        raise NotFound(f"任务 {assignment.id} 只有一份或没有督查记录，无需比对。")
    return {"assignment_id": assignment.id, "consistent": comparison.consistent, "records": comparison.records,
            "differences": comparison.differences, "adoptions": comparison.adoptions}


@blp.get("/<int:assignment_id>/records")
@api_auth_required(*DECIDERS)
@blp.response(200, ComparisonSchema)
@blp.alt_response(404, response="NOT_FOUND", description="任务不存在，或只有一份督查记录")
def compare(assignment_id):
    """Compare the records of an assignment that more than one device recorded.

    Each checklist observation whose values differ, each rule check one record violates and
    another does not (evaluated by the server from each record's observations), and differing
    counts of findings, penalties, photos and notes. Office and admin.
    """
    return _answer(find_assignment(assignment_id, current_user, "manage"))


@blp.post("/<int:assignment_id>/records/adopt")
@api_auth_required(*DECIDERS)
@blp.arguments(AdoptRequestSchema)
@blp.response(200, ComparisonSchema)
@blp.alt_response(404, response="NOT_FOUND", description="任务或其督查记录不存在")
@blp.alt_response(409, response="CONFLICT",
                  description="该记录已是采用的记录，或执法部门已据现采用记录立案、决定不予立案、下达整改通知、出具检查记录")
def adopt(data, assignment_id):
    """Adopt one of the assignment's records as the one that stands, with a reason (office, admin).

    It becomes the primary record: completion, violations, cases and reports follow it alone.
    The record it replaces stays, marked as not adopted; its violations are removed and the
    adopted record's stored (if it is submitted). Refused (409, naming the case or order) when
    enforcement already acted on the replaced record. Audited with the reason.
    """
    user = current_user._get_current_object()
    assignment = find_assignment(assignment_id, user, "manage")
    inspection = service.find_record_of(assignment, data["inspection_id"])
    service.adopt_record(assignment, inspection, reason=data["reason"], actor=user, channel="api")
    return _answer(assignment)


@blp.get("/<int:assignment_id>/reveal-anomalies")
@api_auth_required(*DECIDERS)
@blp.response(200, RevealAnomaliesSchema)
@blp.alt_response(404, response="NOT_FOUND", description="任务不存在")
def reveal_anomalies_of(assignment_id):
    """The assignment's flagged offline reveals (异常提示), oldest first (office, admin).

    An offline reveal is checked when a device reports it: outside the window by the device's
    clock (beyond the clock tolerance), dated after the server received it or before dispatch,
    or outside the window once corrected by the device's clock skew. It is accepted all the same;
    each flag names the times in Beijing time. Empty when nothing was flagged.
    """
    assignment = find_assignment(assignment_id, current_user, "manage")
    return {"assignment_id": assignment.id, "anomalies": reveal_anomalies(assignment)}
