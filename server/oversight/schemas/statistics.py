"""Statistics query arguments and answers."""

from marshmallow import fields, validate

from ...accounts.schemas.auth import StrictSchema
from ..statistics import DIMENSIONS

_DATE = {"required": "缺少必填项。", "invalid": "须为 YYYY-MM-DD 格式的日期。"}


class StatisticsArgsSchema(StrictSchema):
    date_from = fields.Date(required=True, data_key="from", error_messages=_DATE,
                            metadata={"description": "期间开始日期（含，北京时间）"})
    date_to = fields.Date(required=True, data_key="to", error_messages=_DATE,
                          metadata={"description": "期间结束日期（含，北京时间）"})
    by = fields.String(required=True, validate=validate.OneOf(DIMENSIONS, error="须为 county、department、category、rule 或 day。"),
                       error_messages={"required": "缺少必填项。"})
    county = fields.String(validate=validate.Length(max=32), metadata={"description": "县（市、区）代码"})
    department = fields.String(validate=validate.Length(max=32), metadata={"description": "部门代码"})
    category = fields.String(validate=validate.Length(max=32), metadata={"description": "场所类别代码"})
    rule = fields.String(validate=validate.Length(max=16), metadata={"description": "规则编号，如 K3"})
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv", "xlsx")),
                           metadata={"description": "json（默认）、csv 或 xlsx"})


class StatisticsRowSchema(StrictSchema):
    key = fields.String()
    label = fields.String()
    count = fields.Integer()


class StatisticsSchema(StrictSchema):
    by = fields.String()
    date_from = fields.Date(data_key="from")
    date_to = fields.Date(data_key="to")
    total = fields.Integer(metadata={"description": "违规问题总数（每条只计一次）"})
    inspections = fields.Integer(metadata={"description": "发现违规问题的检查次数"})
    venues = fields.Integer(metadata={"description": "发现违规问题的场所数"})
    rows = fields.List(fields.Nested(StatisticsRowSchema))
