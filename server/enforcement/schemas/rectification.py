"""Schemas for /api/v1/rectification-orders."""

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from ...accounts.schemas.auth import StrictSchema
from ...api.fields import StoredDateTime
from ..models.rectification import ORDER_STATES

ID = validate.Range(min=1, max=2**31 - 1, error="须为正整数。")
REQUIRED = {"required": "必填。", "null": "不能为空。"}


def _id(**options):
    return fields.Integer(strict=False, validate=ID, **options)


class OrderCreateSchema(StrictSchema):
    violation_ids = fields.List(_id(), validate=validate.Length(max=100),
                                metadata={"description": "同一场所的违规问题；给出 case_id 时可省略（取案件的违规问题）"})
    case_id = _id(metadata={"description": "所属案件（可选）"})
    deadline = fields.Date(required=True, error_messages=REQUIRED,
                           metadata={"description": "整改期限（最后一天，北京时间），须晚于今天"})
    requirements = fields.String(required=True, validate=validate.Length(min=1, max=2000), error_messages=REQUIRED,
                                 metadata={"description": "整改要求"})
    legal_basis = fields.String(validate=validate.Length(max=2000), metadata={"description": "法律依据（可选）"})

    @ma.validates_schema
    def _violations_or_case(self, data, **kwargs):
        if not data.get("violation_ids") and data.get("case_id") is None:
            raise ma.ValidationError({"violation_ids": ["须给出违规问题或所属案件。"]})


class OrderListArgsSchema(StrictSchema):
    state = fields.String(validate=validate.OneOf(ORDER_STATES, error="未知的整改通知状态。"))
    overdue = fields.Boolean(metadata={"description": "1：只列逾期的（期限已过未安排复查，或复查窗口已过未完成）"})
    county = fields.String(validate=validate.Length(min=1, max=64), metadata={"description": "县（市、区）代码或名称"})
    case_id = _id()


class WithdrawRequestSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000), error_messages=REQUIRED)


class OrderViolationSchema(ma.Schema):
    id = fields.Integer()
    kind = fields.String()
    inspection_id = fields.Integer()
    rule_code = fields.String()
    check_code = fields.String()
    description = fields.String()


class ReinspectionSchema(ma.Schema):
    assignment_id = fields.Integer()
    draw_id = fields.Integer()
    status = fields.String()
    status_label = fields.String()
    visit_date = fields.Date()
    window_start = StoredDateTime()
    window_end = StoredDateTime()
    scheduled_at = StoredDateTime(allow_none=True)


class _Venue(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    address = fields.String()


class _County(ma.Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class _Person(ma.Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()


class _Notice(ma.Schema):
    id = fields.String()
    number = fields.String()
    download_url = fields.String()
    signed = fields.Boolean(metadata={"description": "是否加盖了出具机关的电子签章"})


class OrderSchema(ma.Schema):
    id = fields.Integer()
    state = fields.String(metadata={"description": "领导小组办公室以外的读者看不到 reinspection_scheduled，"
                                                   "复查结果出来前均为 open"})
    state_label = fields.String()
    venue = fields.Nested(_Venue)
    county = fields.Nested(_County)
    case_id = fields.Integer(allow_none=True)
    requirements = fields.String()
    legal_basis = fields.String(allow_none=True)
    deadline = fields.Date()
    issuing_authority = fields.String()
    issued_on = fields.Date()
    issued_at = StoredDateTime()
    issued_by = fields.Nested(_Person)
    overdue = fields.Boolean()
    violations = fields.List(fields.Nested(OrderViolationSchema))
    found_again = fields.List(fields.Nested(OrderViolationSchema))
    reinspection_scheduled = fields.Boolean(allow_none=True, metadata={
        "description": "是否已安排复查；只有领导小组办公室可见，其他读者为空"})
    reinspection = fields.Nested(ReinspectionSchema, allow_none=True,
                                 metadata={"description": "复查任务（仅领导小组办公室可见）"})
    result_at = StoredDateTime(allow_none=True)
    result_note = fields.String(allow_none=True)
    escalated_case_id = fields.Integer(allow_none=True)
    withdrawn_reason = fields.String(allow_none=True)
    notice = fields.Nested(_Notice, allow_none=True, metadata={"description": "责令（限期）整改通知书"})


# --- reports that a rectification is done (整改完成报告) ---------------------------------------------


NO_PHOTO = "请至少上传一张整改后的照片。"


class ReportFormSchema(StrictSchema):
    """multipart/form-data: the note and the photos (the field `photos` once per file)."""

    note = fields.String(required=True, error_messages={**REQUIRED, "invalid": "须为文字。"},
                         metadata={"description": "整改情况说明（必填，不超过 2000 字）"})
    photos = fields.List(Upload(error_messages={"invalid": "须为上传的文件。"}), required=True,
                         error_messages={"required": NO_PHOTO, "null": NO_PHOTO, "invalid": "须为上传的文件。"},
                         metadata={"description": "整改后的照片，1 至 6 张，JPEG 或 PNG，每张不超过 10 MB"})


class ReportReturnSchema(StrictSchema):
    reason = fields.String(required=True, error_messages={**REQUIRED, "invalid": "须为文字。"},
                           metadata={"description": "退回原因（必填，不超过 2000 字）"})


class ReportPhotoSchema(ma.Schema):
    position = fields.Integer()
    sha256 = fields.String()
    thumbnail_url = fields.String(metadata={"description": "缩略图（不含 EXIF、GPS）"})
    public_url = fields.String(metadata={"description": "较大的公开派生图（不含 EXIF、GPS）"})


class ReportSchema(ma.Schema):
    id = fields.Integer()
    state = fields.String(metadata={"description": "submitted 待确认，confirmed 已确认，returned 已退回"})
    state_label = fields.String()
    reported_as = fields.String(metadata={"description": "county 属地，department 部门"})
    reported_as_label = fields.String()
    note = fields.String()
    reported_at = StoredDateTime()
    reported_by = fields.String()
    decided_at = StoredDateTime(allow_none=True)
    decided_by = fields.String(allow_none=True)
    return_reason = fields.String(allow_none=True)
    photos = fields.List(fields.Nested(ReportPhotoSchema))
