"""marshmallow's and webargs' validation messages come in Chinese, numbers kept, from one place."""

from __future__ import annotations

import enum

import marshmallow as ma
import pytest
from marshmallow import fields, validate

from server.api.messages import translate, translate_all


class Colour(enum.Enum):
    red = 1
    blue = 2


class Inner(ma.Schema):
    flag = fields.Boolean(required=True)


class Everything(ma.Schema):
    text = fields.String()
    short = fields.String(validate=validate.Length(max=64))
    long_enough = fields.String(validate=validate.Length(min=3))
    between = fields.String(validate=validate.Length(min=2, max=5))
    exactly = fields.String(validate=validate.Length(equal=4))
    count = fields.Integer()
    ratio = fields.Float()
    amount = fields.Decimal()
    yes = fields.Boolean()
    moment = fields.DateTime()
    aware = fields.AwareDateTime()
    day = fields.Date()
    items = fields.List(fields.String())
    inner = fields.Nested(Inner)
    mapping = fields.Dict()
    mail = fields.Email()
    link = fields.URL()
    ident = fields.UUID()
    colour = fields.Enum(Colour)
    raw = fields.Raw(required=True)
    nothing = fields.String(allow_none=False)
    ranged = fields.Integer(validate=validate.Range(min=1, max=10))
    at_least = fields.Integer(validate=validate.Range(min=0))
    below = fields.Integer(validate=validate.Range(max=5, max_inclusive=False))
    kind = fields.String(validate=validate.OneOf(["unit", "individual"]))
    pattern = fields.String(validate=validate.Regexp(r"^[a-z]+$"))
    same = fields.String(validate=validate.Equal("确认"))
    tags = fields.List(fields.String(), validate=validate.ContainsOnly(["a", "b"]))


BAD = {
    "text": 5, "short": "长" * 65, "long_enough": "长", "between": "长", "exactly": "长", "count": "多",
    "ratio": "多", "amount": "nan", "yes": "也许", "moment": "昨天", "aware": "2021-12-14T08:00:00",
    "day": "昨天", "items": "单个", "inner": {"flag": "也许", "extra": 1}, "mapping": 3, "mail": "不是邮箱",
    "link": "不是网址", "ident": "不是", "colour": "green", "nothing": None, "ranged": 11, "at_least": -1,
    "below": 5, "kind": "other", "pattern": "ABC", "same": "不", "tags": ["c"], "unknown_key": 1,
}

EXPECTED = {
    "text": ["须为字符串。"],
    "short": ["长度不能超过 64。"],
    "long_enough": ["长度不能少于 3。"],
    "between": ["长度须在 2 到 5 之间。"],
    "exactly": ["长度须为 4。"],
    "count": ["须为整数。"],
    "ratio": ["须为数字。"],
    "amount": ["不允许非数值（NaN）或无穷大。"],
    "yes": ["须为 true 或 false。"],
    "moment": ["须为 ISO 8601 日期时间，如 2026-01-31T08:30:00+08:00。"],
    "aware": ["须为带时区的日期时间，如 2026-01-31T08:30:00+08:00。"],
    "day": ["须为日期 YYYY-MM-DD。"],
    "items": ["须为列表。"],
    "inner": {"flag": ["须为 true 或 false。"], "extra": ["未知字段。"]},
    "mapping": ["须为 JSON 对象。"],
    "mail": ["须为有效的电子邮箱地址。"],
    "link": ["须为有效的网址。"],
    "ident": ["须为 UUID。"],
    "colour": ["须为以下取值之一：red, blue。"],
    "raw": ["缺少必填字段。"],
    "nothing": ["不能为空值（null）。"],
    "ranged": ["须不小于 1 且不大于 10。"],
    "at_least": ["须不小于 0。"],
    "below": ["须小于 5。"],
    "kind": ["须为以下取值之一：unit, individual。"],
    "pattern": ["格式不正确。"],
    "same": ["须等于 确认。"],
    "tags": ["含有不可选的取值，可选的只有：a, b。"],
    "unknown_key": ["未知字段。"],
}


def test_every_field_and_validator_speaks_chinese_with_its_numbers():
    with pytest.raises(ma.ValidationError) as caught:
        Everything().load(BAD)
    assert caught.value.messages == EXPECTED


def test_a_body_that_is_not_an_object():
    with pytest.raises(ma.ValidationError) as caught:
        Everything().load([1, 2])
    assert caught.value.messages == {"_schema": ["须为 JSON 对象。"]}


def test_a_schemas_own_message_still_wins():
    class Own(ma.Schema):
        name = fields.String(required=True, error_messages={"required": "请填写名称。"})

    with pytest.raises(ma.ValidationError) as caught:
        Own().load({})
    assert caught.value.messages == {"name": ["请填写名称。"]}


@pytest.mark.parametrize("english, chinese", [
    ("Invalid JSON body.", "请求体不是有效的 JSON。"),
    ("Not a valid string.", "须为字符串。"),
    ("Not a valid list.", "须为列表。"),
    ("Longer than maximum length 64.", "长度不能超过 64。"),
    ("Must be greater than or equal to 1 and less than or equal to 10.", "须不小于 1 且不大于 10。"),
    ("Must be one of: a, b.", "须为以下取值之一：a, b。"),
    ("请填写名称。", "请填写名称。"),
])
def test_english_that_slipped_through_is_translated(english, chinese):
    assert translate(english) == chinese
    assert translate_all({"json": [english], "nested": {"0": [english]}}) == {"json": [chinese],
                                                                              "nested": {"0": [chinese]}}
