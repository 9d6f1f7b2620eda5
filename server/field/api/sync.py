"""/api/v1/sync: the field client pushes its outbox and pulls the changes of its team's assignments.

The rules (idempotency, per-operation results, ordering by the server's sequence) are in
`server.field.push` and `server.field.pull`; the views parse, call the service and dump.
"""

import marshmallow as ma
from flask_login import current_user
from flask_smorest import Blueprint

from ...access import api_auth_required
from ..pull import pull_changes
from ..push import apply_push
from ..schemas.sync import PullArgsSchema, PullResultSchema, PushRequestSchema, PushResultSchema

blp = Blueprint("sync", __name__, url_prefix="/api/v1/sync", description="现场同步：推送离线操作，拉取任务变化")


@blp.post("/push")
@api_auth_required("inspector")
@blp.arguments(PushRequestSchema)
@blp.response(200, PushResultSchema)
def push(data):
    """Apply a batch of offline operations (at most 500), each exactly once.

    One result per operation, in order: 200 with `server_seq` when applied (or applied before:
    the stored result again), 409 when the op_id was used for another payload or the record is
    already submitted, 422 for a payload or hash that does not check out, 404/403 for a record
    outside the caller's team. A refused operation does not undo the others. The device's clock
    is recorded and compared (`clock_skew_seconds`, `skew_flagged` beyond 300 s), never used
    for ordering. Unknown fields anywhere in the batch envelope refuse the whole request (422).
    """
    return apply_push(current_user._get_current_object(), data["device_id"], data["device_time"],
                      data["operations"])


@blp.get("/pull")
@api_auth_required("inspector")
@blp.arguments(PullArgsSchema, location="query", unknown=ma.RAISE)
@blp.response(200, PullResultSchema)
@blp.alt_response(409, response="CONFLICT", description="游标超过服务器当前的变化序号（答复中的 head）")
def pull(args):
    """Changes after `cursor` for the assignments of the caller's team, in server order.

    Assignment status changes and inspection status changes (awaiting_evidence → complete), at
    most 500 per page; `more` says whether another page follows, `head` is the server's highest
    change. Advance the cursor only after storing the changes. A cursor beyond `head` is 409
    (the answer names the head).
    """
    return pull_changes(current_user._get_current_object(), args["cursor"])
