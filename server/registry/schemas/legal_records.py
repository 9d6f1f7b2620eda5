"""Record schemas of the legal files: legal bases with their discretion benchmarks, and hearing thresholds.

Each record is checked on its own here; overlaps and statutory limits between records are
server/registry/schemas/legal_rules.py.
"""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from ..models.reference import CIRCUMSTANCES, LEGAL_PENALTY_TYPES, PARTY_KINDS
from .reference_fields import Day, StrictBoolean, StrictSchema, _choice, _code, _errors, _text


def non_negative(value) -> None:
    # A plain function rather than validate.Range: apispec would print Range's Decimal bound as a
    # string, which is not valid OpenAPI.
    if value is not None and value < 0:
        raise ValidationError("不能小于 0。")


def _yuan(*, required: bool = False) -> fields.Decimal:
    kwargs = {"required": True} if required else {"load_default": None}
    return fields.Decimal(places=2, allow_none=True, validate=non_negative,
                          error_messages=_errors(invalid="应为金额（元，加引号的数字）。"), **kwargs)


def _days() -> fields.Integer:
    return fields.Integer(strict=True, load_default=None, allow_none=True,
                          validate=validate.Range(min=1, max=20, error="应在 {min}–{max} 日之间。"),
                          error_messages=_errors(invalid="应为整数（日）。"))


def _penalty_types(*, allow_empty: bool) -> fields.List:
    return fields.List(
        _choice(LEGAL_PENALTY_TYPES), required=True, error_messages=_errors(invalid="应为列表。"),
        validate=None if allow_empty else validate.Length(min=1, error="至少一种处罚种类。"))


def _day(*, required: bool) -> "Day":
    kwargs = {"required": True} if required else {"load_default": None, "allow_none": True}
    return Day(error_messages=_errors(invalid="应为日期（YYYY-MM-DD）。"), **kwargs)


def _combinations() -> fields.List:
    return fields.List(
        _penalty_types(allow_empty=False), required=True, error_messages=_errors(invalid="应为列表的列表。"),
        validate=validate.Length(min=1, error="至少一种处罚组合。"),
        metadata={"description": "允许的处罚组合，每项为一并作出的处罚种类，如 [[warning], [fine]]"})


class BenchmarkRecord(StrictSchema):
    code = _code(64)
    circumstance = _choice(CIRCUMSTANCES)
    party_kind = _choice(PARTY_KINDS)
    combinations = _combinations()
    min_fine = _yuan()
    max_fine = _yuan()
    min_detention_days = _days()
    max_detention_days = _days()
    note = _text(256, required=False, allow_none=True)
    valid_from = _day(required=True)
    valid_to = _day(required=False)

    @validates_schema
    def _ranges_are_ordered(self, data, **kwargs):
        if data.get("min_fine") is not None and data.get("max_fine") is not None \
                and data["min_fine"] > data["max_fine"]:
            raise ValidationError("最低罚款不能高于最高罚款。", "max_fine")
        if data.get("min_detention_days") is not None and data.get("max_detention_days") is not None \
                and data["min_detention_days"] > data["max_detention_days"]:
            raise ValidationError("最短拘留日数不能多于最长拘留日数。", "max_detention_days")
        _check_period(data)


class LegalBasisRecord(StrictSchema):
    code = _code(64)
    # Shared by every version of one provision; hyphens allowed (psapl-emergency-order).
    provision = _code(64, pattern=r"^[a-z][a-z0-9-]*$")
    law = _text(128)
    article = _text(64)
    text = _text()
    # Quoted from the law: the kind of organ it makes competent, and where it says so.
    authority_kind = _text(32)
    authority_source = _text(256)
    penalty_types = _penalty_types(allow_empty=True)
    max_fine_individual = _yuan()
    max_fine_unit = _yuan()
    max_detention_days = _days()
    valid_from = _day(required=True)
    valid_to = _day(required=False)
    benchmarks = fields.List(fields.Nested(BenchmarkRecord), load_default=list,
                             error_messages=_errors(invalid="应为列表。"))

    @validates_schema
    def _period_is_ordered(self, data, **kwargs):
        _check_period(data)


class HearingThresholdRecord(StrictSchema):
    code = _code(64)
    party_kind = _choice((*PARTY_KINDS, "any"))
    penalty_type = _choice(LEGAL_PENALTY_TYPES)
    min_amount = _yuan(required=True)
    minors_only = StrictBoolean(load_default=False, error_messages=_errors(invalid="应为 true 或 false。"))
    source = _text(256)
    valid_from = _day(required=True)
    valid_to = _day(required=False)

    @validates_schema
    def _period_is_ordered(self, data, **kwargs):
        _check_period(data)
        if data.get("penalty_type") == "fine" and data.get("min_amount") is None:
            raise ValidationError("罚款的听证标准须填写金额。", "min_amount")


def _check_period(data) -> None:
    if data.get("valid_to") is not None and data.get("valid_from") is not None \
            and data["valid_to"] < data["valid_from"]:
        raise ValidationError("失效日期不能早于生效日期。", "valid_to")
