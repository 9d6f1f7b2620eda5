"""Schemas for /api/v1/venues: the register's venues, their rooms and versions.

Bodies are checked for shape here; the values themselves (categories and counties by code or
name, the credit code's check character, coordinates inside 金华, 核定人数 where the category
needs it) by server.registry.venue_values, the same rules as the pages and the imports.
"""

import marshmallow as ma
from marshmallow import fields, validate

from ...api.fields import StoredDateTime
from ..venue_listing import STATES


class StrictSchema(ma.Schema):
    """Unknown fields are refused rather than ignored, so a client's typo is an error, not a no-op."""

    class Meta:
        unknown = ma.RAISE

    error_messages = {"unknown": "不允许的字段。", "type": "请求体必须是 JSON 对象。"}

TEXT = {"invalid": "须为文本。", "null": "不能为空。"}
DECIMAL_TEXT = {"type": "string", "format": "decimal"}


def _text(description: str, **options) -> fields.String:
    return fields.String(error_messages=TEXT, metadata={"description": description}, **options)


class RoomSchema(StrictSchema):
    name = _text("包厢名", required=True)
    seats = fields.Integer(required=True, strict=False, metadata={"description": "座位数（核定人数）"},
                           error_messages={"invalid": "须为整数。", "required": "必填。"})


class VenueFieldsSchema(StrictSchema):
    name = _text("名称")
    category = _text("场所类别的代码或名称，见 /api/v1/reference/categories")
    county = _text("县（市、区）的代码或名称，见 /api/v1/reference/counties")
    town = _text("乡镇（街道）")
    address = _text("地址")
    operator_name = _text("经营者", allow_none=True)
    contact_phone = _text("联系电话", allow_none=True)
    credit_code = _text("统一社会信用代码（GB 32100，校验位核对）", allow_none=True)
    approved_capacity = fields.Integer(allow_none=True, strict=False, error_messages={"invalid": "须为整数。"},
                                       metadata={"description": "核定人数；按核定人数比例检查的类别必填"})
    rooms = fields.List(fields.Nested(RoomSchema), metadata={"description": "包厢及座位数（餐饮场所、KTV）"})
    longitude = fields.Float(allow_none=True, error_messages={"invalid": "须为数字。"},
                             metadata={"description": "经度（WGS 84），须在金华市范围内"})
    latitude = fields.Float(allow_none=True, error_messages={"invalid": "须为数字。"},
                            metadata={"description": "纬度（WGS 84），须在金华市范围内"})


class VenueCreateSchema(VenueFieldsSchema):
    merge = fields.Boolean(load_default=False, metadata={
        "description": "true：与已登记场所重复（同一信用代码或同名同地址）时，以本次信息更新该场所（200）"})


class VenueCloseSchema(StrictSchema):
    reason = _text("关闭理由，不少于 4 个字", required=True)


class VenueListArgsSchema(StrictSchema):
    county = fields.String(validate=validate.Length(max=64), metadata={"description": "县（市、区）代码"})
    category = fields.String(validate=validate.Length(max=64), metadata={"description": "场所类别代码"})
    q = fields.String(validate=validate.Length(max=64), metadata={"description": "名称或地址中的文字"})
    state = fields.String(load_default="open",
                          validate=validate.OneOf((*STATES, "all"), error="可选 open、closed、all。"),
                          metadata={"description": "open 在册（默认）、closed 已关闭、all 全部"})
    page = fields.Integer(strict=False, load_default=1,
                          validate=validate.Range(min=1, max=100000, error="须为正整数。"))
    per_page = fields.Integer(strict=False, load_default=20,
                              validate=validate.Range(min=1, max=100, error="须为 1–100 之间的整数。"))


class CodeNameIdSchema(ma.Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class VenueSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    category = fields.Nested(CodeNameIdSchema)
    county = fields.Nested(CodeNameIdSchema)
    town = fields.String(allow_none=True)
    address = fields.String()
    operator_name = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True)
    credit_code = fields.String(allow_none=True)
    approved_capacity = fields.Integer(allow_none=True)
    rooms = fields.List(fields.Nested(RoomSchema))
    # Answered as the stored decimal text (e.g. "119.647800"), not a float that would round it.
    longitude = fields.Decimal(as_string=True, allow_none=True, metadata=DECIMAL_TEXT)
    latitude = fields.Decimal(as_string=True, allow_none=True, metadata=DECIMAL_TEXT)
    closed_at = StoredDateTime(allow_none=True)
    closed_reason = fields.String(allow_none=True)
    created_at = StoredDateTime()
    updated_at = StoredDateTime()


class VenuePageSchema(ma.Schema):
    items = fields.List(fields.Nested(VenueSchema))
    total = fields.Integer(metadata={"description": "符合条件的场所总数"})
    page = fields.Integer(metadata={"description": "页码（请求参数 page）"})
    per_page = fields.Integer(metadata={"description": "每页条数（请求参数 per_page，最多 100）"})
    pages = fields.Integer(metadata={"description": "总页数"})


class VenueVersionSchema(ma.Schema):
    version = fields.Integer()
    change = fields.String(metadata={"description": "created | updated | merged | closed"})
    values = fields.Dict()
    changed_by = fields.Function(lambda row: row.changed_by.username if row.changed_by else None)
    changed_at = StoredDateTime()
    channel = fields.String()
