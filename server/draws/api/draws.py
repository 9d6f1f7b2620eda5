"""Draws (抽查): create a verifiable draw, list and read draws, cancel or close one, verify one.

Answers list assignments by position, visit day and team, never by target: the office reads a
target through the audited assignment target endpoint. The auditor sees an open draw's
commitment and counts, its teams once it is closed (see `listing`). Office and admin create,
cancel (with a reason) and close draws (once the window has ended); the auditor reads them,
verifies them and sees the cancellations per user and period.
"""

from flask_login import current_user
from flask_smorest import Blueprint

from ...access import api_auth_required, get_authorized
from ..cancellation import cancel_draw
from ..closing import close_draw
from ..creation import create_draw
from ..listing import cancellation_summary, draw_summary, draws_for
from ..models.draw import Draw
from ..schemas.draw import (
    CancellationSummarySchema,
    DrawCancelRequestSchema,
    DrawCloseRequestSchema,
    DrawListItemSchema,
    DrawRequestSchema,
    DrawSchema,
    VerificationSchema,
)
from ..verification import verify_draw

blp = Blueprint("draws", __name__, url_prefix="/api/v1/draws", description="抽查：可核验的随机抽取")

MANAGERS = ("office", "admin")
READERS = ("office", "admin", "auditor")


def _user():
    return current_user._get_current_object()


@blp.post("")
@api_auth_required(*MANAGERS)
@blp.arguments(DrawRequestSchema)
@blp.response(201, DrawSchema)
@blp.alt_response(409, response="CONFLICT", description="抽查范围不可行：问题文档中的 constraint 指明受限的规则，"
                                                          "remaining 给出每条规则之后剩余的人数")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="请求内容或抽查条件有误")
def create(data):
    """Create a draw: sample venues and teams, store the commitment, create sealed assignments.

    The seed stays secret (only `commitment = sha256(seed)` is shown) until the draw is closed.
    The answer lists the assignments without their targets.
    """
    draw = create_draw(_user(), channel="api", **data)
    return draw_summary(draw, _user())


@blp.get("")
@api_auth_required(*READERS)
@blp.response(200, DrawListItemSchema(many=True))
def list_draws():
    """List draws, newest first, cancelled ones with their reason and replacements with what they replace."""
    return [draw_summary(draw, _user(), with_assignments=False) for draw in draws_for(_user())]


@blp.get("/cancellations")
@api_auth_required(*READERS)
@blp.response(200, CancellationSummarySchema)
def cancellations():
    """Count cancelled draws per user and period; flag users over the policy's threshold.

    Periods are Beijing-time months and the last 30 days; a user with more than
    `flag_threshold` cancellations in the last `flag_window_days` days is flagged.
    """
    return cancellation_summary(_user())


@blp.get("/<int:draw_id>")
@api_auth_required(*READERS)
@blp.response(200, DrawSchema)
@blp.alt_response(404, response="NOT_FOUND")
def get_draw(draw_id: int):
    """Get a draw: parameters, commitment, digests, and its assignments without targets."""
    return draw_summary(get_authorized(Draw, draw_id, _user()), _user())


@blp.post("/<int:draw_id>/close")
@api_auth_required(*MANAGERS)
@blp.arguments(DrawCloseRequestSchema, required=False)
@blp.response(200, DrawSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="窗口尚未结束（窗口结束前只能取消），或已关闭、已取消；"
                  "或尚有未完成的任务而未确认（unfinished_assignments 列出各项）")
def close(data, draw_id: int):
    """Close a draw whose window has ended and reveal its seed.

    From then on anyone with access can verify the draw. Before the window ends a draw can only
    be cancelled, with a reason. While assignments are unfinished (sealed, dispatched, revealed,
    under way) the close needs `{"confirm": true}`; without it the answer is 409 listing them by
    number, status, window and team size.
    """
    draw = get_authorized(Draw, draw_id, _user(), "manage")
    confirmed = bool((data or {}).get("confirm"))
    return draw_summary(close_draw(draw, _user(), channel="api", confirmed=confirmed), _user())


@blp.post("/<int:draw_id>/cancel")
@api_auth_required(*MANAGERS)
@blp.arguments(DrawCancelRequestSchema)
@blp.response(200, DrawSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="已关闭或已取消")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="未说明理由，或理由不足 4 个汉字")
def cancel(data, draw_id: int):
    """Cancel a draw, with a reason: reveal its seed and cancel its unfinished assignments.

    The reason, who and when are shown in the draw list; a later draw over an overlapping scope
    is linked to this one as its replacement.
    """
    draw = get_authorized(Draw, draw_id, _user(), "manage")
    return draw_summary(cancel_draw(draw, _user(), data["reason"], "api"), _user())


@blp.get("/<int:draw_id>/verification")
@api_auth_required(*READERS)
@blp.response(200, VerificationSchema)
@blp.alt_response(404, response="NOT_FOUND")
def verification(draw_id: int):
    """Verify a draw: re-run the selection from the revealed seed and the stored snapshots.

    `state` is `match`, `mismatch` (with `reasons`) or `not_revealed` (the draw is not closed).
    """
    report = verify_draw(get_authorized(Draw, draw_id, _user()))
    return {**report.__dict__, "ok": report.ok}
