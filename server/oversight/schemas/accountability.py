"""Accountability cases: requests and answers."""

from marshmallow import fields, validate

from ...accounts.schemas.auth import StrictSchema

_DATE = {"required": "缺少必填项。", "invalid": "须为 YYYY-MM-DD 格式的日期。"}


class AccountabilityCreateSchema(StrictSchema):
    date_from = fields.Date(required=True, data_key="from", error_messages=_DATE)
    date_to = fields.Date(required=True, data_key="to", error_messages=_DATE)
    county = fields.String(allow_none=True, validate=validate.Length(min=1, max=32),
                           metadata={"description": "县（市、区）代码；不填为全市"})


class AccountabilityReviewSchema(StrictSchema):
    note = fields.String(validate=validate.Length(max=2000), metadata={"description": "审核意见"})


class AccountabilityDocumentSchema(StrictSchema):
    id = fields.String()
    number = fields.String()


class AccountabilityCaseSchema(StrictSchema):
    id = fields.Integer()
    state = fields.String()
    state_label = fields.String()
    version = fields.Integer()
    date_from = fields.String(data_key="from")
    date_to = fields.String(data_key="to")
    county = fields.String(allow_none=True)
    document = fields.Nested(AccountabilityDocumentSchema, allow_none=True)
    findings = fields.Dict(metadata={"description": "倒查结果：各维度统计，属地（含责任领导）、部门（含责任领导）、单位、个人及建议措施（单位和个人不建议问责）"})
