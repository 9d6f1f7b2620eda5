"""Evidence photos by SHA-256: the original and its re-encoded variants, per role.

Files are sent from the path stored in the database row, never from a path built from the
request; there is no static folder for evidence. Whatever the caller may not see is a 404.
"""

from flask import send_file
from flask_login import current_user
from flask_smorest import Blueprint

from ...access import api_auth_required
from .. import evidence_store as service

blp = Blueprint("evidence", __name__, url_prefix="/api/v1/evidence", description="证据照片：原图与派生图")

BINARY = {"schema": {"type": "string", "format": "binary"}}


@blp.route("/<sha256>", methods=["GET"])
@api_auth_required()
@blp.doc(responses={"200": {"description": "原图（上传时的格式）", "content": {"image/*": BINARY}}})
@blp.alt_response(404, response="NOT_FOUND", description="照片不存在，或当前用户无权查看")
def original(sha256):
    """The original bytes as uploaded (office, admin, enforcement; inspectors their own)."""
    evidence, path = service.find_evidence(sha256, current_user._get_current_object())
    return send_file(path, mimetype=evidence.media_type, etag=evidence.sha256, conditional=True,
                     download_name=f"{evidence.sha256}.{evidence.media_type.split('/')[1]}")


@blp.route("/<sha256>/<variant>", methods=["GET"])
@api_auth_required()
@blp.doc(responses={"200": {"description": "重新编码的 JPEG", "content": {"image/jpeg": BINARY}}})
@blp.alt_response(404, response="NOT_FOUND", description="照片或派生图不存在，或当前用户无权查看")
def variant(sha256, variant):
    """A re-encoded JPEG variant: thumbnail, print or public (EXIF and GPS stripped).

    Propaganda may read only `public`.
    """
    evidence, path = service.find_evidence(sha256, current_user._get_current_object(), variant)
    return send_file(path, mimetype="image/jpeg", etag=f"{evidence.sha256}-{variant}", conditional=True,
                     download_name=f"{evidence.sha256}-{variant}.jpg")
