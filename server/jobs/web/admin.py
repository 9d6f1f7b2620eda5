"""The admin's page of background jobs: every job with its state, failures first, and a retry."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from ...access import web_role_required
from ...errors import Problem
from ...web.forms import ConfirmForm
from ...web.navigation import add_nav_item
from ...web.query_args import choice_arg, page_number
from ...web.signed_in import signed_in_user
from .. import listing
from ..kinds import kind_label

bp = Blueprint("web_jobs", __name__, url_prefix="/admin/jobs", template_folder="templates")

ADMINS = ("admin",)

add_nav_item("后台任务", "web_jobs.list_jobs", ADMINS)


@bp.get("")
@web_role_required(*ADMINS)
def list_jobs():
    state = choice_arg("state", listing.STATE_LABELS)
    return render_template("jobs/list.html", page=listing.list_jobs(state=state, page=page_number()), state=state or "",
                           counts=listing.state_counts(), labels=listing.STATE_LABELS, kind_label=kind_label,
                           retry_form=ConfirmForm())


@bp.post("/<int:job_id>/retry")
@web_role_required(*ADMINS)
def retry(job_id):
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash("请勾选确认后再提交。", "error")
        return redirect(url_for("web_jobs.list_jobs"))
    try:
        job = listing.retry(job_id, signed_in_user(), channel="web")
    except Problem as exc:
        flash(exc.detail, "error")
    else:
        flash(f"任务 {job.id} 已重新排队（{kind_label(job.kind)}）。", "success")
    return redirect(url_for("web_jobs.list_jobs"))
