"""Schemas for /api/v1/legal-bases and /api/v1/penalty-checks.

A new version is validated by the very schema the reference file uses (LegalBasisRecord), so
the API refuses what the loader refuses; a change names only what it changes.
"""

from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, fields, validate

from ...accounts.schemas.auth import StrictSchema
from ...registry.schemas.legal_records import LegalBasisRecord, non_negative
from ...registry.schemas.reference_fields import Day, _code
from ..discretion import describe_benchmark

__all__ = [
    "LegalBasisCreateSchema", "LegalBasisPatchSchema", "LegalBasisQuerySchema", "LegalBasisSchema",
    "PenaltyCheckResultSchema", "PenaltyCheckSchema",
]

_REQUIRED = {"required": "必填。", "null": "不能为空。"}


class Amount(fields.Field):
    """Yuan as a JSON number: 200, or 200.5 where there are fen."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        value = Decimal(str(value))
        return int(value) if value == value.to_integral_value() else float(value)


class BenchmarkSchema(Schema):
    code = fields.String()
    circumstance = fields.String(metadata={"description": "first 初次违法 | repeated 再次违法 | refused 拒不配合 | "
                                                          "serious 情节严重"})
    party_kind = fields.String(metadata={"description": "individual 个人 | unit 单位"})
    combinations = fields.List(fields.List(fields.String()), metadata={
        "description": "允许的处罚组合，每项为一并作出的处罚种类：warning 警告 | fine 罚款 | suspend 责令停产停业 | "
                       "detention 行政拘留 | order_correction 责令改正"})
    penalty_types = fields.List(fields.String(), metadata={"description": "各组合所含的处罚种类"})
    min_fine = Amount(metadata={"description": "罚款下限（元）；null 为不设下限"})
    max_fine = Amount(metadata={"description": "罚款上限（元，含本数）"})
    min_detention_days = fields.Integer(allow_none=True)
    max_detention_days = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)
    description = fields.Function(describe_benchmark, metadata={"description": "文书中使用的幅度表述"})


class LegalBasisSchema(Schema):
    code = fields.String()
    provision = fields.String(metadata={"description": "同一条款各版本共用的键，如 psapl-emergency-order"})
    law = fields.String()
    article = fields.String()
    text = fields.String()
    authority_kind = fields.String(metadata={"description": "法律规定的主管机关，如 公安机关、疾病预防控制部门"})
    authority_source = fields.String(metadata={"description": "法律规定主管机关之处（引文）"})
    penalty_types = fields.List(fields.String(), metadata={"description": "该条款规定的处罚种类"})
    max_fine_individual = Amount(metadata={"description": "该条款对个人的最高罚款（元）；null 为不得罚款"})
    max_fine_unit = Amount(metadata={"description": "该条款对单位的最高罚款（元）；null 为不得罚款"})
    max_detention_days = fields.Integer(allow_none=True)
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)
    admin_edited = fields.Function(lambda basis: basis.admin_edited_at is not None,
                                   metadata={"description": "管理员通过接口新增或修改过（下次按文件加载时可能被覆盖）"})
    benchmarks = fields.List(fields.Nested(BenchmarkSchema))


class LegalBasisQuerySchema(StrictSchema):
    on = fields.Date(load_default=None, error_messages={"invalid": "须为日期 YYYY-MM-DD。"},
                     metadata={"description": "日期（默认今天，北京时间）：列出当天有效的版本"})


class LegalBasisCreateSchema(LegalBasisRecord):
    """A new version of a provision, with its benchmarks (the reference file's record format)."""


class BenchmarkPatchSchema(StrictSchema):
    code = _code(64)
    min_fine = fields.Decimal(places=2, allow_none=True, validate=non_negative,
                              error_messages={"invalid": "须为金额（元）。"})
    max_fine = fields.Decimal(places=2, allow_none=True, validate=non_negative,
                              error_messages={"invalid": "须为金额（元）。"})
    min_detention_days = fields.Integer(strict=True, allow_none=True,
                                        validate=validate.Range(min=1, max=20, error="应在 {min}–{max} 日之间。"))
    max_detention_days = fields.Integer(strict=True, allow_none=True,
                                        validate=validate.Range(min=1, max=20, error="应在 {min}–{max} 日之间。"))
    note = fields.String(allow_none=True, validate=validate.Length(min=1, max=256, error="长度应在 {min}–{max} 个字符之间。"))
    valid_to = Day(allow_none=True, error_messages={"invalid": "须为日期 YYYY-MM-DD。"})


class LegalBasisPatchSchema(StrictSchema):
    """Only the fields given change; the version's provision, article and start stay as they are."""

    text = fields.String(validate=validate.Length(min=1, error="不能是空字符串。"),
                         error_messages={"invalid": "须为字符串。", "null": "不能为空。"})
    valid_to = Day(allow_none=True, error_messages={"invalid": "须为日期 YYYY-MM-DD。"},
                         metadata={"description": "失效日期；null 为长期有效"})
    benchmarks = fields.List(fields.Nested(BenchmarkPatchSchema), error_messages={"invalid": "须为列表。"})


class PenaltyCheckSchema(StrictSchema):
    basis_code = fields.String(required=True, validate=validate.Length(min=1, max=64),
                               error_messages=_REQUIRED,
                               metadata={"description": "法律依据代码或条款键；按违法行为发生日有效的版本核对"})
    circumstance = fields.String(required=True, error_messages=_REQUIRED)
    party_kind = fields.String(required=True, error_messages=_REQUIRED)
    penalty_types = fields.List(fields.String(), required=True, error_messages={**_REQUIRED, "invalid": "须为列表。"},
                                metadata={"description": "一并作出的处罚种类（一个组合），如 [\"detention\", \"fine\"]"})
    fine_amount = fields.Decimal(load_default=None, allow_none=True, error_messages={"invalid": "须为数字。"},
                                 metadata={"description": "罚款金额（元）；组合含罚款时必填"})
    detention_days = fields.Integer(strict=True, load_default=None, allow_none=True,
                                    error_messages={"invalid": "须为整数。"},
                                    metadata={"description": "行政拘留日数；组合含行政拘留时必填"})
    party_minor = fields.Boolean(load_default=False, metadata={"description": "当事人在违法行为发生时未满十八周岁"
                                                                            "（影响行政拘留的听证权利）"})
    act_date = fields.Date(required=True, error_messages={**_REQUIRED, "invalid": "须为日期 YYYY-MM-DD。"},
                           metadata={"description": "违法行为发生日"})


class _BasisSummarySchema(Schema):
    code = fields.String()
    authority_kind = fields.String()
    provision = fields.String()
    law = fields.String()
    article = fields.String()
    valid_from = fields.Date()
    valid_to = fields.Date(allow_none=True)


class PenaltyCheckResultSchema(BenchmarkSchema):
    description = fields.String(metadata={"description": "文书中使用的幅度表述"})
    legal_basis = fields.Nested(_BasisSummarySchema, metadata={"description": "行为发生日有效的版本"})
    hearing_right = fields.Boolean(allow_none=True, metadata={"description": "当事人是否有权要求听证；null 为当日无听证标准"})
