"""Schemas for /api/v1/materials and /api/v1/bulletins."""

import marshmallow as ma
from marshmallow import fields, validate

from ...accounts.schemas.auth import StrictSchema
from ...api.fields import StoredDateTime
from ..models.material import MATERIAL_KINDS, MATERIAL_STATES, VENUE_DISPLAYS

ID = validate.Range(min=1, max=2**31 - 1, error="须为正整数。")
REQUIRED = {"required": "必填。", "null": "不能为空。"}


def _id(**options):
    return fields.Integer(strict=False, validate=ID, **options)


def _choice(values, **options):
    return fields.String(validate=validate.OneOf(values, error=f"须为 {' | '.join(values)} 之一。"), **options)


class MaterialListArgsSchema(StrictSchema):
    kind = _choice(MATERIAL_KINDS, metadata={"description": "positive（正面）| negative（反面）"})
    state = _choice(MATERIAL_STATES, metadata={"description": "candidate | approved | rejected"})


class MaterialPhotoSchema(ma.Schema):
    position = fields.Integer()
    boxes = fields.List(fields.List(fields.Float()))
    suggested = fields.List(fields.List(fields.Float()), metadata={
        "description": "boxes 中由人脸识别自动建议、尚未经人确认的框（已计入遮挡）；保存遮挡框即确认"})
    boxes_version = fields.Integer()
    caption = fields.String()
    image_url = fields.String()


class MaterialSchema(ma.Schema):
    """The masked view; `text` and the record's ids only for the office and admins."""

    id = fields.Integer()
    kind = fields.String()
    state = fields.String()
    source = fields.String()
    title = fields.String()
    masked_text = fields.String()
    venue = fields.String()
    venue_display = fields.String()
    county = fields.String()
    category = fields.String()
    created_at = StoredDateTime()
    photos = fields.List(fields.Nested(MaterialPhotoSchema))
    internal_title = fields.String()
    text = fields.String()
    inspection_id = fields.Integer()
    finding_id = fields.Integer(allow_none=True)
    example_note_id = fields.Integer(allow_none=True)


class MaterialFlagSchema(StrictSchema):
    kind = _choice(MATERIAL_KINDS, required=True, error_messages=REQUIRED)
    inspection_id = _id()
    finding_id = _id()
    photo_ids = fields.List(_id(), validate=validate.Length(max=12))
    title = fields.String(validate=validate.Length(min=1, max=200))
    text = fields.String(validate=validate.Length(min=1, max=5000))
    venue_display = _choice(VENUE_DISPLAYS)

    @ma.validates_schema
    def _source(self, data, **_kwargs):
        if not data.get("inspection_id") and not data.get("finding_id"):
            raise ma.ValidationError("须指定 finding_id（问题）或 inspection_id（督查记录的照片）。", "inspection_id")


class MaterialUpdateSchema(StrictSchema):
    title = fields.String(validate=validate.Length(min=1, max=200))
    venue_display = _choice(VENUE_DISPLAYS, metadata={"description": "show：显示场所名称；mask：显示为“某+类别”"})


class MaterialReviewSchema(StrictSchema):
    decision = _choice(("approved", "rejected"), required=True, error_messages=REQUIRED)


class BoxesSchema(StrictSchema):
    boxes = fields.List(fields.List(fields.Float(allow_nan=False), validate=validate.Length(equal=4)),
                        required=True, validate=validate.Length(max=50), error_messages=REQUIRED,
                        metadata={"description": "[[x, y, 宽, 高], …]，相对于图片宽高的 0–1 坐标"})


class BulletinSchema(ma.Schema):
    id = fields.Integer()
    title = fields.String()
    state = fields.String()
    version = fields.Integer()
    number = fields.String(allow_none=True)
    year = fields.Integer(allow_none=True)
    serial = fields.Integer(allow_none=True)
    period_start = fields.Date()
    period_end = fields.Date()
    editorial = fields.String()
    item_ids = fields.List(fields.Integer())
    issued_on = fields.Date(allow_none=True)
    pdf_sha256 = fields.String(allow_none=True)


class BulletinCreateSchema(StrictSchema):
    title = fields.String(required=True, validate=validate.Length(min=1, max=200), error_messages=REQUIRED)
    period_start = fields.Date(required=True, error_messages=REQUIRED)
    period_end = fields.Date(required=True, error_messages=REQUIRED)
    editorial = fields.String(load_default="", validate=validate.Length(max=20000))
    item_ids = fields.List(_id(), load_default=list, validate=validate.Length(max=40))


class BulletinUpdateSchema(StrictSchema):
    version = fields.Integer(required=True, error_messages=REQUIRED,
                             metadata={"description": "读取时的版本号，防止覆盖他人的修改"})
    title = fields.String(validate=validate.Length(min=1, max=200))
    period_start = fields.Date()
    period_end = fields.Date()
    editorial = fields.String(validate=validate.Length(max=20000))
    item_ids = fields.List(_id(), validate=validate.Length(max=40))


class BulletinTransitionSchema(StrictSchema):
    action = _choice(("submit", "approve", "return"), required=True, error_messages=REQUIRED)


class BulletinPublishSchema(StrictSchema):
    confirm = fields.Boolean(required=True, error_messages=REQUIRED,
                             metadata={"description": "须为 true：发布后编号、内容和 PDF 不可更改"})

    @ma.validates("confirm")
    def _confirmed(self, value, **_kwargs):
        if value is not True:
            raise ma.ValidationError("发布前须确认（confirm: true）。")
