"""Schema of the contribution that completes a draw's seed (docs/draw-algorithm.md §1)."""

from __future__ import annotations

from marshmallow import fields

from ...accounts.schemas.auth import StrictSchema


class ContributionSchema(StrictSchema):
    value = fields.String(required=True, error_messages={"required": "必填。", "null": "不能为空。",
                                                        "invalid": "须为字符串。"},
                          metadata={"description": "纪检监察人员的随机数（至少 16 个字符，建议 32 位十六进制数），"
                                                   "或策略事先指定的公开数值"})
