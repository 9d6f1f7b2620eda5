"""Draws (抽查): create a verifiable draw, list and read draws, close one, verify one.

Answers list assignments by position, visit day and team, never by target: the office reads a
target through the audited assignment target endpoint. The auditor sees an open draw's
commitment and counts, its teams once it is closed (see `listing`). Office and admin create and close
draws; the auditor reads and verifies them.
"""

from flask_login import current_user
from flask_smorest import Blueprint

from ...access import api_auth_required, get_authorized
from ..creation import create_draw
from ..listing import draw_summary, draws_for
from ..models.draw import Draw
from ..schemas.draw import DrawListItemSchema, DrawRequestSchema, DrawSchema, VerificationSchema
from ..closing import close_draw
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
    """List draws, newest first."""
    return [draw_summary(draw, _user(), with_assignments=False) for draw in draws_for(_user())]


@blp.get("/<int:draw_id>")
@api_auth_required(*READERS)
@blp.response(200, DrawSchema)
@blp.alt_response(404, response="NOT_FOUND")
def get_draw(draw_id: int):
    """Get a draw: parameters, commitment, digests, and its assignments without targets."""
    return draw_summary(get_authorized(Draw, draw_id, _user()), _user())


@blp.post("/<int:draw_id>/close")
@api_auth_required(*MANAGERS)
@blp.response(200, DrawSchema)
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="已关闭，或窗口未结束而操作者不是领导小组办公室")
def close(draw_id: int):
    """Close a draw and reveal its seed.

    After the window any office or admin account may close it; before the window ends only the
    office. From then on anyone with access can verify the draw.
    """
    draw = get_authorized(Draw, draw_id, _user(), "manage")
    return draw_summary(close_draw(draw, _user(), channel="api"), _user())


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
