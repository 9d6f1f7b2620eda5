"""POST /api/v1/draws/{id}/contribution: the contribution that completes a draw's seed.

A route of the draws blueprint, kept apart because who may enter it is the policy's choice
(`server.draws.seeding`): an auditor's share, or a named public value.
"""

from flask_login import current_user

from ...access import api_auth_required, get_authorized
from ..listing import draw_summary
from ..models.draw import Draw
from ..schemas.draw import DrawSchema
from ..schemas.seed_contribution import ContributionSchema
from ..seeding import contribute
from .draws import blp


@blp.post("/<int:draw_id>/contribution")
@api_auth_required("auditor", "office", "admin")
@blp.arguments(ContributionSchema)
@blp.response(200, DrawSchema)
@blp.alt_response(403, response="FORBIDDEN", description="策略规定的录入人不是当前用户的角色")
@blp.alt_response(404, response="NOT_FOUND")
@blp.alt_response(409, response="CONFLICT", description="该抽查不在等待随机数（已录入、已取消或已关闭）")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="随机数为空、过短、过长或含控制字符")
def contribute_seed(data, draw_id: int):
    """Enter the contribution (auditor's share or the named public value) and form the assignments.

    The selection seed is HMAC-SHA256(office seed, "anfang-draw-seed:" + contribution); the
    office committed to its seed before this value existed. Answers the draw, now with its sealed
    assignments (or cancelled, with the reason, when the completed seed cannot staff the scope).
    """
    user = current_user._get_current_object()
    draw = get_authorized(Draw, draw_id, user)
    return draw_summary(contribute(draw, user, data["value"], channel="api"), user)
