"""Schemas for /api/v1/assignments.

`AssignmentSchema` has no field that could carry a target (venue id, name, address, location,
operator): the target has its own schema and endpoint, whose every read is audited.
"""

import marshmallow as ma
from marshmallow import fields, validate

from ...accounts.schemas.auth import StrictSchema
from ...api.fields import StoredDateTime
from ..models.draw import ASSIGNMENT_STATUSES


class AssignmentListArgsSchema(StrictSchema):
    draw_id = fields.Integer(strict=False, validate=validate.Range(min=1, max=2**31 - 1, error="须为正整数。"),
                             metadata={"description": "只列出该抽查的任务"})
    status = fields.String(validate=validate.OneOf(ASSIGNMENT_STATUSES, error="未知的任务状态。"),
                           metadata={"description": "只列出该状态的任务"})


class CancelRequestSchema(StrictSchema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=500, error="长度须为 1–500 个字符。"),
        error_messages={"required": "必填。", "null": "不能为空。", "invalid": "须为字符串。"},
        metadata={"description": "取消原因（记入任务和审计日志）"},
    )


class AssignmentMemberSchema(ma.Schema):
    user_id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    position = fields.Integer(metadata={"description": "组内序号，1 为组长"})
    is_leader = fields.Boolean()


class AssignmentSchema(ma.Schema):
    id = fields.Integer()
    uuid = fields.String(metadata={"description": "任务的全局编号；信封以它为关联数据"})
    draw_id = fields.Integer()
    position = fields.Integer(metadata={"description": "在抽查结果中的序号"})
    status = fields.String(metadata={"description": "状态代码：" + "、".join(ASSIGNMENT_STATUSES)})
    status_label = fields.String()
    visit_date = fields.Date(allow_none=True, metadata={
        "description": "督查日期（北京时间）；整改复查揭封前，对组外不能查看目标的读者为空"})
    window_start = StoredDateTime(allow_none=True)
    window_end = StoredDateTime(allow_none=True)
    meeting_point = fields.String(allow_none=True, metadata={"description": "集合地点（不是督查目标）"})
    may_propose_penalties = fields.Boolean()
    dispatched_at = StoredDateTime(allow_none=True)
    revealed_at = StoredDateTime(allow_none=True)
    submitted_at = StoredDateTime(allow_none=True)
    members = fields.List(fields.Nested(AssignmentMemberSchema), metadata={
        "description": "督查组；组外不能查看目标的读者在抽查关闭后才能看到"})
    envelope = fields.String(metadata={
        "description": "密封信封（标准 base64），仅对本组督查人员给出；格式见 sealing.envelope。"
                       "派发后用 reveal 返回的密钥或派发时的揭封码打开",
    })


class TargetSchema(ma.Schema):
    venue_id = fields.Integer()
    name = fields.String()
    category = fields.String()
    category_code = fields.String()
    county = fields.String()
    county_code = fields.String()
    town = fields.String(allow_none=True)
    address = fields.String()
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    approved_capacity = fields.Integer(allow_none=True, metadata={"description": "核定人数"})
    operator_name = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True)


class DispatchResultSchema(ma.Schema):
    reveal_code = fields.String(metadata={"description": "揭封码，仅此一次返回，服务器不再保存"})
    warning = fields.String()
    assignment = fields.Nested(AssignmentSchema)


class RevealResultSchema(ma.Schema):
    key = fields.String(metadata={"description": "任务密钥（base64url，无填充），用于打开信封"})
    key_format = fields.Constant("base64url")
    assignment_uuid = fields.String()
    status = fields.String()
