"""Files a job made (draft PDFs): where they live, how they are served, and their daily cleanup.

They sit under EVIDENCE_DIR/generated/, written by the domain that rendered them (with its
durable write) and described by `file_result` on the job's row. Drafts are remade on demand, so
they are kept only GENERATED_FILES_KEEP_DAYS (the daily `jobs.clean`); issued documents and
published bulletins are never here.
"""

from __future__ import annotations

import hashlib
import uuid
from io import BytesIO
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from ..accounts.models.user import User
from ..columns import china_today, utcnow
from ..extensions import db
from .kinds import job_kind
from .models.job import Job

GENERATED_DIR = "generated"


def new_generated_path(suffix: str) -> tuple[str, Path]:
    """A fresh place for a generated file, by Beijing day: its path relative to EVIDENCE_DIR
    (kept on the job) and the file to write."""
    relative = f"{GENERATED_DIR}/{china_today().isoformat()}/{uuid.uuid4().hex}{suffix}"
    return relative, Path(current_app.config["EVIDENCE_DIR"]) / relative


def file_result(relative: str, data: bytes, *, media_type: str, download_name: str) -> dict:
    return {"path": relative, "media_type": media_type, "download_name": download_name,
            "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def send_result(job: Job):
    """The response carrying the job's file (done, file present: see `result_file`). Read whole
    (a draft is a few MB), so no file handle is left to whoever closes the response."""
    from flask import send_file

    response = send_file(BytesIO(result_file(job).read_bytes()), mimetype=job.result["media_type"],
                         download_name=job.result["download_name"])
    response.headers["Cache-Control"] = "private, no-store"
    return response


def result_file(job: Job) -> Path | None:
    """The job's file when it is done and the file is still there."""
    if job.state != "done" or not job.result or "path" not in job.result:
        return None
    path = Path(current_app.config["EVIDENCE_DIR"]) / job.result["path"]
    return path if path.is_file() else None


@job_kind("jobs.clean", "清理过期的生成文件", max_attempts=2)
def clean_generated(params: dict, user: User | None) -> dict:
    """Remove drafts older than the keep period, with their job rows (asking again remakes them)."""
    cutoff = utcnow() - timedelta(days=current_app.config["GENERATED_FILES_KEEP_DAYS"])
    old = db.session.scalars(sa.select(Job).where(Job.state == "done", Job.finished_at < cutoff)).all()
    removed = 0
    for job in old:
        if not (job.result or {}).get("path", "").startswith(f"{GENERATED_DIR}/"):
            continue
        (Path(current_app.config["EVIDENCE_DIR"]) / job.result["path"]).unlink(missing_ok=True)
        db.session.delete(job)
        removed += 1
    db.session.flush()
    return {"removed": removed}
