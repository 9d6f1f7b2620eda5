"""A job's own page (/jobs/<id>) for whoever asked for it: "生成中…" reloading itself, then the
file; a failure with its reason and 重新生成."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for

from ...access import web_role_required
from ...roles import ROLES
from ...web.signed_in import signed_in_user
from ..files import result_file, send_result
from ..kinds import kind_label
from ..listing import visible_job
from ..queue import submit

bp = Blueprint("web_job_pages", __name__, url_prefix="/jobs", template_folder="templates")

REFRESH_SECONDS = 2


@bp.get("/<int:job_id>")
@web_role_required(*ROLES)
def show(job_id):
    job = visible_job(job_id, signed_in_user())
    if result_file(job) is not None:
        return send_result(job)
    failed = job.state == "failed"
    return render_template("jobs/waiting.html", job=job, failed=failed, kind_label=kind_label(job.kind),
                           refresh=REFRESH_SECONDS), 200 if failed else 202, {"Cache-Control": "no-store"}


@bp.post("/<int:job_id>/again")
@web_role_required(*ROLES)
def again(job_id):
    """重新生成: the failed job queued again (or run now without a queue), then its page."""
    job = visible_job(job_id, signed_in_user())
    if job.state == "failed":
        submit(job.kind, dict(job.params), key=job.key, retry=True)
    return redirect(url_for("web_job_pages.show", job_id=job.id), 303)
