"""Publicity's background work: bulletin drafts (样稿; a cold issue with twenty photos takes
seconds) and collecting new notes into the library (face detection on their photos)."""

from __future__ import annotations

import hashlib
import json

from ..accounts.models.user import User
from ..field.evidence_store import write_durably
from ..jobs.files import file_result, new_generated_path
from ..jobs.kinds import job_kind
from ..jobs.models.job import Job
from ..jobs.queue import job_key, submit
from . import bulletin_print, bulletins, materials
from .models.material import Bulletin

PREVIEW = "bulletin.preview"


@job_kind(materials.COLLECT_JOB, "整理新的典型材料（含人脸识别）")
def collect_candidates(params: dict, user: User | None) -> dict:
    """New notes become library candidates, their photos' faces suggested (asked for by the library)."""
    return {"collected": materials.collect_note_candidates(None)}


@job_kind(PREVIEW, "生成简报样稿")
def render_preview(params: dict, user: User | None) -> dict:
    bulletin = bulletins.find_bulletin(params["bulletin_id"], user)
    data = bulletins.preview_bulletin(bulletin, user)
    relative, destination = new_generated_path(".pdf")
    write_durably(data, destination)
    return file_result(relative, data, media_type="application/pdf",
                       download_name=f"bulletin-{bulletin.id}-preview.pdf")


def preview_job(bulletin: Bulletin, user: User) -> Job:
    """The draft of the issue as it stands now: the same contents (and day) give the same job,
    so reopening an unchanged draft is immediate; any edit makes a new one."""
    contents = json.dumps(bulletin_print.build_context(bulletin), sort_keys=True, default=str)
    params = {"bulletin_id": bulletin.id}
    key = job_key(PREVIEW, {**params, "contents": hashlib.sha256(contents.encode()).hexdigest()}, user)
    return submit(PREVIEW, params, user=user, key=key)

