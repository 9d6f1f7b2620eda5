"""The field's jobs: photo variants made once an upload completes, and the daily upload cleanup."""

from __future__ import annotations

import sqlalchemy as sa

from ..accounts.models.user import User
from ..errors import NotFound
from ..extensions import db
from ..jobs.kinds import job_kind
from ..jobs.queue import submit
from .evidence_store import VARIANTS, variant_file
from .models.evidence import EvidenceFile
from .uploads import clean_expired_uploads


@job_kind("uploads.clean", "清理过期的未完成上传")
def clean_uploads(params: dict, user: User | None) -> dict:
    return {"removed": clean_expired_uploads()}


@job_kind("evidence.variants", "生成照片派生图", background_only=True)
def make_photo_variants(params: dict, user: User | None) -> dict:
    """Thumbnail, print and public variants of a stored photo, so its first viewer need not wait.
    Without a queue they are made when first asked for (`evidence_store.variant_file`)."""
    evidence = db.session.scalar(sa.select(EvidenceFile).where(EvidenceFile.sha256 == params["sha256"]))
    if evidence is None:
        raise NotFound("证据照片不存在。")
    return {"variants": sorted(str(variant_file(evidence, name).name) for name in VARIANTS)}


def photo_stored(sha256: str) -> None:
    """An upload completed: have its variants made in the background (once per photo)."""
    submit("evidence.variants", {"sha256": sha256}, key=f"evidence.variants:{sha256}")
