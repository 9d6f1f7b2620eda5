"""The material library and bulletins: masked items, redacted images, numbered issues.

Propaganda gets the masked view and redacted images only; originals, GPS and unpublished issues
are not reachable here (they answer 404, the same as an id that does not exist). Every answer is
`no-store`.
"""

from __future__ import annotations

from io import BytesIO

import marshmallow as ma
from flask import send_file, url_for
from flask_login import current_user
from flask_smorest import Blueprint

from ...access import api_auth_required
from ...accounts.models.user import User
from ...enforcement.documents import take_write_lock
from ...extensions import db
from ...jobs.api.jobs import file_or_accepted
from ...jobs.schemas import JobSchema
from .. import bulletins as bulletin_service
from .. import materials as service
from .. import redaction
from ..jobs import preview_job
from ..schemas.material import (
    BoxesSchema,
    BulletinCreateSchema,
    BulletinPublishSchema,
    BulletinSchema,
    BulletinTransitionSchema,
    BulletinUpdateSchema,
    MaterialFlagSchema,
    MaterialListArgsSchema,
    MaterialReviewSchema,
    MaterialSchema,
    MaterialUpdateSchema,
)

blp = Blueprint("materials", __name__, url_prefix="/api/v1", description="典型材料与正反典型简报")

READERS = ("office", "admin", "propaganda")
EDITORS = ("office", "propaganda")
PDF_RESPONSE = {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}


def _user():
    return current_user._get_current_object()


def _view(item) -> dict:
    view = service.item_view(item, _user())
    for photo in view["photos"]:
        photo["image_url"] = url_for("materials.material_image", item_id=item.id, position=photo["position"])
    return view


@blp.get("/materials")
@api_auth_required(*READERS)
@blp.arguments(MaterialListArgsSchema, location="query", unknown=ma.RAISE)
@blp.response(200, MaterialSchema(many=True))
def list_materials(args):
    """The library: every note of a submitted inspection is a candidate; filter by kind and state."""
    if _user().role in EDITORS:
        service.collect_note_candidates_if_possible(_user())
    return [_view(item) for item in service.list_items(_user(), kind=args.get("kind"), state=args.get("state"))]


@blp.post("/materials")
@api_auth_required(*EDITORS)
@blp.arguments(MaterialFlagSchema)
@blp.response(201, MaterialSchema)
def flag_material(data):
    """Flag a finding, or photos of a submitted inspection, as a positive or negative example."""
    return _view(service.flag_material(actor=_user(), **data))


@blp.get("/materials/<item_id>")
@api_auth_required(*READERS)
@blp.response(200, MaterialSchema)
@blp.alt_response(404, response="NOT_FOUND", description="材料不存在或不在范围内")
def get_material(item_id):
    """One item: masked text and redacted photos (the text as written for the office only)."""
    return _view(service.find_item(item_id, _user()))


@blp.patch("/materials/<item_id>")
@api_auth_required(*EDITORS)
@blp.arguments(MaterialUpdateSchema)
@blp.response(200, MaterialSchema)
@blp.alt_response(404, response="NOT_FOUND", description="材料不存在或不在范围内")
def update_material(data, item_id):
    """Change the title or whether the venue's name is shown (show) or masked (mask)."""
    item = service.find_item(item_id, _user())
    return _view(service.update_material(item, actor=_user(), **data))


@blp.post("/materials/<item_id>/review")
@api_auth_required("office")
@blp.arguments(MaterialReviewSchema)
@blp.response(200, MaterialSchema)
@blp.alt_response(404, response="NOT_FOUND", description="材料不存在或不在范围内")
def review_material(data, item_id):
    """The office approves an item for use in bulletins, or rejects it."""
    item = service.find_item(item_id, _user())
    return _view(service.review_material(item, data["decision"], actor=_user()))


@blp.put("/materials/<item_id>/photos/<position>/boxes")
@api_auth_required(*EDITORS)
@blp.arguments(BoxesSchema)
@blp.response(200, MaterialSchema)
@blp.alt_response(404, response="NOT_FOUND", description="材料或照片不存在")
def set_boxes(data, item_id, position):
    """Replace the redaction rectangles of one photo (normalised 0–1: x, y, width, height)."""
    item = service.find_item(item_id, _user())
    redaction.set_boxes(item, position, data["boxes"], actor=_user())
    return _view(item)


@blp.get("/materials/<item_id>/photos/<position>/image")
@api_auth_required(*READERS)
@blp.doc(responses={"200": {"description": "遮挡后的公开图片（JPEG，无 EXIF/GPS）",
                            "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}})
@blp.alt_response(404, response="NOT_FOUND", description="材料或照片不存在")
def material_image(item_id, position):
    """The redacted public image: boxes burned in, no EXIF, no GPS. Never the original."""
    item = service.find_item(item_id, _user())
    path = redaction.redacted_file(redaction.find_material_photo(item, position))
    return send_file(path, mimetype="image/jpeg", download_name=f"material-{item.id}-{position}.jpg")


# --- bulletins ---------------------------------------------------------------------------------


@blp.get("/bulletins")
@api_auth_required(*READERS)
@blp.response(200, BulletinSchema(many=True))
def list_bulletins():
    """Issues: propaganda sees published ones and those it composes."""
    return [bulletin_service.summary(b) for b in bulletin_service.list_bulletins(_user())]


@blp.post("/bulletins")
@api_auth_required(*EDITORS)
@blp.arguments(BulletinCreateSchema)
@blp.response(201, BulletinSchema)
def create_bulletin(data):
    """A new draft issue from approved material items, with editorial text and the statistics period."""
    return bulletin_service.summary(bulletin_service.create_bulletin(actor=_user(), **data))


@blp.get("/bulletins/<bulletin_id>")
@api_auth_required(*READERS)
@blp.response(200, BulletinSchema)
@blp.alt_response(404, response="NOT_FOUND", description="简报不存在或不在范围内")
def get_bulletin(bulletin_id):
    """One issue's metadata."""
    return bulletin_service.summary(bulletin_service.find_bulletin(bulletin_id, _user()))


@blp.patch("/bulletins/<bulletin_id>")
@api_auth_required(*EDITORS)
@blp.arguments(BulletinUpdateSchema)
@blp.response(200, BulletinSchema)
@blp.alt_response(404, response="NOT_FOUND", description="简报不存在或不在范围内")
@blp.alt_response(409, response="CONFLICT", description="简报不是草稿（已提交、已审核或已发布）")
def update_bulletin(data, bulletin_id):
    """Change a draft; a published issue never changes (409)."""
    bulletin = bulletin_service.find_bulletin(bulletin_id, _user())
    return bulletin_service.summary(bulletin_service.update_bulletin(bulletin, actor=_user(), **data))


@blp.post("/bulletins/<bulletin_id>/transitions")
@api_auth_required(*EDITORS)
@blp.arguments(BulletinTransitionSchema)
@blp.response(200, BulletinSchema)
@blp.alt_response(404, response="NOT_FOUND", description="简报不存在或不在范围内")
@blp.alt_response(409, response="CONFLICT", description="当前状态不允许该操作")
def bulletin_transition(data, bulletin_id):
    """submit (propaganda or office), approve or return to draft (office)."""
    bulletin = bulletin_service.find_bulletin(bulletin_id, _user())
    return bulletin_service.summary(bulletin_service.transition(bulletin, data["action"], actor=_user()))


@blp.post("/bulletins/<bulletin_id>/publish")
@api_auth_required(*EDITORS)
@blp.arguments(BulletinPublishSchema)
@blp.response(200, BulletinSchema)
@blp.alt_response(404, response="NOT_FOUND", description="简报不存在或不在范围内")
@blp.alt_response(409, response="CONFLICT", description="未经审核，或已发布")
def publish_bulletin(data, bulletin_id):
    """Publish an approved issue: it gets the year's next number (第N期) and its PDF is stored."""
    user = _user()
    if db.session.get_bind().dialect.name == "sqlite":
        # End the snapshot the bearer lookup opened, then wait for the write lock (take_write_lock).
        user_id = user.id
        db.session.rollback()
        take_write_lock()
        user = db.session.get(User, user_id)
    bulletin = bulletin_service.find_bulletin(bulletin_id, user)
    return bulletin_service.summary(bulletin_service.publish_bulletin(bulletin, actor=user))


@blp.get("/bulletins/<bulletin_id>/preview")
@api_auth_required(*EDITORS)
@blp.doc(responses={"200": {"description": "样稿 PDF（未编号）", **PDF_RESPONSE}})
@blp.alt_response(202, schema=JobSchema, description="生成中：按 Location（后台任务）查询，完成后读取 file_url")
@blp.alt_response(404, response="NOT_FOUND", description="简报不存在或不在范围内")
def preview_bulletin(bulletin_id):
    """A draft rendering of an unpublished issue (样稿, no number) for its composer and the office.
    With a job queue it is made in the background: 202 and the job until the file is there."""
    bulletin = bulletin_service.find_bulletin(bulletin_id, _user())
    if bulletin.state == "published":
        return send_file(BytesIO(bulletin_service.preview_bulletin(bulletin, _user())),
                         mimetype="application/pdf", download_name=f"bulletin-{bulletin.id}-preview.pdf")
    return file_or_accepted(preview_job(bulletin, _user()))


@blp.get("/bulletins/<bulletin_id>/pdf")
@api_auth_required(*READERS)
@blp.doc(responses={"200": {"description": "已发布简报的 PDF", **PDF_RESPONSE}})
@blp.alt_response(404, response="NOT_FOUND", description="简报不存在或尚未发布")
def bulletin_pdf(bulletin_id):
    """The published issue's PDF, byte for byte as stored; an unpublished issue is 404."""
    bulletin = bulletin_service.find_bulletin(bulletin_id, _user())
    path = bulletin_service.published_pdf(bulletin, _user())
    return send_file(path, mimetype="application/pdf", etag=bulletin.pdf_sha256,
                     download_name=f"bulletin-{bulletin.year}-{bulletin.serial}.pdf")
