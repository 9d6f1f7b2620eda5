"""The page on which the contribution that completes a draw's seed is entered.

Routes of the draws blueprint, kept apart with the policy's choice of who enters it
(`server.draws.seeding`). The share is generated in the auditor's own browser
(static/seed_share.js, crypto.getRandomValues), never by the server it is meant to check.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ...access import get_authorized, web_role_required
from ...errors import Problem
from ...extensions import db
from ...web.chinese_form import ChineseForm
from ..listing import draw_summary
from ..models.draw import Draw
from ..seeding import CONTRIBUTORS, MAX_LENGTH, SOURCE_LABELS, contribute, contribution_source, may_contribute
from .draws import READERS, bp


class ContributionForm(ChineseForm):
    value = StringField("随机数", validators=[DataRequired(message="请填写随机数。"),
                                            Length(max=MAX_LENGTH, message=f"随机数不超过 {MAX_LENGTH} 个字符。")])


@bp.route("/draws/<int:draw_id>/contribution", methods=["GET", "POST"])
@web_role_required(*READERS)
def contribution(draw_id: int):
    draw = get_authorized(Draw, draw_id, current_user)
    source = contribution_source(draw)
    form = ContributionForm()
    problem = None
    if may_contribute(draw, current_user) and form.validate_on_submit():
        try:
            with db.session.begin_nested():
                contribute(draw, current_user, form.value.data, channel="web")
        except Problem as exc:
            problem = exc
            form.value.errors = list(form.value.errors) + list((exc.errors or {}).get("value", [exc.detail]))
        else:
            if draw.status == "cancelled":
                flash(f"随机数已录入，但抽查 {draw.id} 按公开算法不可行，已自动取消：{draw.cancel_reason}", "error")
            else:
                flash(f"随机数已录入：抽查 {draw.id} 生成密封任务 {len(draw.assignments)} 项，"
                      "领导小组办公室可在窗口内派发。", "success")
            return redirect(url_for("web_draws.show_draw", draw_id=draw.id))
    return render_template("draws/contribution.html", draw=draw_summary(draw, current_user, with_assignments=False),
                           form=form, problem=problem, source=source, source_label=SOURCE_LABELS.get(source),
                           contributors=CONTRIBUTORS, can_enter=may_contribute(draw, current_user),
                           entered=draw.contribution), 422 if form.errors or problem else 200
