"""A job asked for through the API: its state, and its file once done (GET /api/v1/jobs/<id>).

A draft asked for while a queue is configured answers 202 with the job and a Location header
pointing here; the client polls until `state` is done and then reads `file_url`. Only whoever
asked (and an administrator) sees a job: anyone else gets the same 404 as for an id that does
not exist.
"""

from __future__ import annotations

from flask import url_for
from flask_login import current_user
from flask_smorest import Blueprint

from ...access import api_auth_required
from ...errors import NotFound
from ...roles import ROLES
from ..files import result_file, send_result
from ..kinds import kind_label
from ..listing import STATE_LABELS, visible_job
from ..models.job import Job
from ..schemas import JobSchema

blp = Blueprint("jobs", __name__, url_prefix="/api/v1", description="后台任务：生成中的文件")

PDF_RESPONSE = {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}


def job_view(job: Job) -> dict:
    done = result_file(job) is not None
    return {"id": job.id, "kind": job.kind, "label": kind_label(job.kind), "state": job.state,
            "state_label": STATE_LABELS[job.state], "attempts": job.attempts, "max_attempts": job.max_attempts,
            "error": job.error, "created_at": job.created_at, "finished_at": job.finished_at,
            "file_url": url_for("jobs.job_file", job_id=job.id) if done else None}


def file_or_accepted(job: Job):
    """The job's file when it is done; else 202 with the job (its state says queued, running or
    failed, with the reason) and where to ask again. A failed job is retried by the admin."""
    if result_file(job) is not None:
        return send_result(job)
    return JobSchema().dump(job_view(job)), 202, {"Location": url_for("jobs.get_job", job_id=job.id),
                                                  "Retry-After": "2"}


def _visible_job(job_id: int) -> Job:
    return visible_job(job_id, current_user._get_current_object())


@blp.get("/jobs/<int:job_id>")
@api_auth_required(*ROLES)
@blp.response(200, JobSchema)
@blp.alt_response(404, response="NOT_FOUND", description="任务不存在或不是本人提交的")
def get_job(job_id):
    """A job's state; `file_url` once its file is ready."""
    return job_view(_visible_job(job_id))


@blp.get("/jobs/<int:job_id>/file")
@api_auth_required(*ROLES)
@blp.doc(responses={"200": {"description": "任务生成的文件", **PDF_RESPONSE}})
@blp.alt_response(404, response="NOT_FOUND", description="任务不存在、不是本人提交的或文件尚未生成")
def job_file(job_id):
    """The file a finished job made."""
    job = _visible_job(job_id)
    if result_file(job) is None:
        raise NotFound("文件尚未生成，请稍后再试。")
    return send_result(job)
