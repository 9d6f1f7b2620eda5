"""Schemas of an assignment's parallel records: the records compared, and the office's decision."""

import marshmallow as ma
from marshmallow import fields, validate

from ...accounts.schemas.auth import StrictSchema
from ...api.fields import StoredDateTime
from ..parallel_records import REASON_MAX

REQUIRED = {"required": "必填。", "null": "不能为空。"}


class ParallelRecordSchema(ma.Schema):
    id = fields.Integer()
    uuid = fields.String(metadata={"description": "设备生成的记录编号"})
    name = fields.String(metadata={"description": "在比对中的称呼：甲记录、乙记录……（按服务器收到的先后）"})
    is_primary = fields.Boolean(metadata={"description": "是否为本任务采用的记录（完成情况、违规问题、立案、统计只读它）"})
    standing = fields.String(metadata={"description": "记录的地位：主记录（先到）、并行记录（待办公室核定）、采用（办公室核定）、未采用"})
    inspector = fields.String(allow_none=True, metadata={"description": "记录人"})
    device_id = fields.String()
    status = fields.String()
    status_label = fields.String()
    checked_in_at = StoredDateTime(metadata={"description": "到场时间（设备时间，UTC）"})
    received_at = StoredDateTime(metadata={"description": "服务器收到记录的时间（UTC）"})


class DifferenceSchema(ma.Schema):
    kind = fields.String(metadata={"description": "observation（检查项取值）| violation（规则判定）| count（问题、处罚建议、照片、典型材料数）"})
    subject = fields.String(metadata={"description": "不一致之处"})
    values = fields.List(fields.String(), metadata={"description": "各记录的取值，顺序同 records"})
    text = fields.String(metadata={"description": "一句话说明，如“现场接待人数（人）：甲记录为7，乙记录为9”"})


class AdoptionSchema(ma.Schema):
    adopted = fields.String(metadata={"description": "核定采用的记录（甲记录、乙记录……）"})
    replaced = fields.String(metadata={"description": "被替换、不再采用的记录"})
    reason = fields.String()
    decided_by = fields.String(allow_none=True)
    decided_at = StoredDateTime()


class ComparisonSchema(ma.Schema):
    assignment_id = fields.Integer()
    consistent = fields.Boolean(metadata={"description": "各记录一致（组内记录一致）"})
    records = fields.List(fields.Nested(ParallelRecordSchema))
    differences = fields.List(fields.Nested(DifferenceSchema), metadata={"description": "组内记录不一致之处"})
    adoptions = fields.List(fields.Nested(AdoptionSchema), metadata={"description": "办公室的核定，先后为序"})


class AdoptRequestSchema(StrictSchema):
    inspection_id = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=2**31 - 1),
                                   error_messages={**REQUIRED, "invalid": "须为整数。"},
                                   metadata={"description": "以此督查记录为准（本任务的一份记录的编号）"})
    reason = fields.String(required=True, error_messages=REQUIRED,
                           validate=validate.Length(min=1, max=REASON_MAX, error=f"长度须为 1–{REASON_MAX} 个字符。"),
                           metadata={"description": "核定理由（必填，写入审计日志）"})
