"""The images of signatures made on site, read back for the record's page and its 检查记录.

Kept apart from `signatures` (the applier, built on the sync appliers): the evidence store's
document resolver and the pages read images without loading the push machinery.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..accounts.models.user import User
from ..errors import NotFound, Problem
from ..extensions import db
from .inspections import find_inspection
from .models.inspection import Inspection
from .models.signature import Signature


def find_signature_png(inspection: Inspection, png_sha256: str) -> bytes:
    """The PNG of a signature of this record (which the caller may read), by its SHA-256."""
    png = db.session.scalar(sa.select(Signature.png).where(Signature.inspection_id == inspection.id,
                                                           Signature.png_sha256 == str(png_sha256),
                                                           Signature.refused.is_(False)).limit(1))
    if png is None:
        raise NotFound("签名图片不存在。")
    return png


def signature_png(png_sha256: str, user: User) -> bytes:
    """The PNG a document rendered for `user` embeds: of a signature under a record the user may
    read (as the record's page would allow), else NotFound — also when it exists elsewhere."""
    missing = NotFound("签名图片不存在或不在您的范围内。")
    inspection_ids = db.session.scalars(sa.select(Signature.inspection_id).where(
        Signature.png_sha256 == str(png_sha256), Signature.refused.is_(False))).all()
    for inspection_id in inspection_ids:
        try:
            inspection = find_inspection(inspection_id, user)
        except Problem:  # 403 and 404 alike: the image stays hidden
            continue
        return find_signature_png(inspection, png_sha256)
    raise missing
