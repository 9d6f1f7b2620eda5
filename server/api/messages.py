"""marshmallow's and webargs' validation messages, in Chinese, in one place.

marshmallow has no translations: every field, validator and schema carries English defaults
("Not a valid string.", "Longer than maximum length 64."). They reach people through the API's
problem documents, the field client and the reference loaders, so `use_chinese_messages` replaces
the defaults on the library's classes themselves. A field copies its messages when it is created,
so this must run before any schema class is defined: server/errors.py calls it when it is
imported, and server/__init__.py imports server.errors before any domain module.

Messages with parameters keep their placeholders ({min}, {max}, {choices}), so the numbers stay in
the Chinese sentence. A schema's own `error_messages`/`error=` still take precedence.

`translate` turns any English default that slipped through (webargs' "Invalid JSON body.", a
field made before the switch) into the same Chinese; server/errors.py applies it to every problem.
"""

from __future__ import annotations

import re

import marshmallow as ma
from marshmallow import fields, validate

# Every field's base messages.
FIELD = {
    "required": "缺少必填字段。",
    "null": "不能为空值（null）。",
    "validator_failed": "取值无效。",
}

# Per field class, only the keys that class itself declares (Field.__init__ merges them along the MRO).
FIELD_CLASSES: dict[type, dict[str, str]] = {
    fields.Nested: {"type": "须为对象。"},
    fields.List: {"invalid": "须为列表。"},
    fields.Tuple: {"invalid": "须为数组。"},
    fields.String: {"invalid": "须为字符串。", "invalid_utf8": "须为有效的 UTF-8 字符串。"},
    fields.UUID: {"invalid_uuid": "须为 UUID。"},
    fields.Number: {"invalid": "须为数字。", "too_large": "数值过大。"},
    fields.Integer: {"invalid": "须为整数。"},
    fields.Float: {"special": "不允许非数值（NaN）或无穷大。"},
    fields.Decimal: {"special": "不允许非数值（NaN）或无穷大。"},
    fields.Boolean: {"invalid": "须为 true 或 false。"},
    fields.DateTime: {
        "invalid": "须为 ISO 8601 日期时间，如 2026-01-31T08:30:00+08:00。",
        "invalid_awareness": "日期时间的时区不符合要求。",
        "format": "无法按日期时间格式输出“{input}”。",
    },
    fields.NaiveDateTime: {"invalid_awareness": "须为不带时区的日期时间。"},
    fields.AwareDateTime: {"invalid_awareness": "须为带时区的日期时间，如 2026-01-31T08:30:00+08:00。"},
    fields.Time: {"invalid": "须为时间，如 08:30:00。", "format": "无法按时间格式输出“{input}”。"},
    fields.Date: {"invalid": "须为日期 YYYY-MM-DD。", "format": "无法按日期格式输出“{input}”。"},
    fields.TimeDelta: {"invalid": "须为时长。", "format": "无法按时长格式输出“{input}”。"},
    fields.Mapping: {"invalid": "须为 JSON 对象。"},
    fields.Url: {"invalid": "须为有效的网址。"},
    fields.Email: {"invalid": "须为有效的电子邮箱地址。"},
    fields.IP: {"invalid_ip": "须为有效的 IP 地址。"},
    fields.IPv4: {"invalid_ip": "须为有效的 IPv4 地址。"},
    fields.IPv6: {"invalid_ip": "须为有效的 IPv6 地址。"},
    fields.IPInterface: {"invalid_ip_interface": "须为有效的 IP 网络接口。"},
    fields.IPv4Interface: {"invalid_ip_interface": "须为有效的 IPv4 网络接口。"},
    fields.IPv6Interface: {"invalid_ip_interface": "须为有效的 IPv6 网络接口。"},
    fields.Enum: {"unknown": "须为以下取值之一：{choices}。"},
}

# Validator class attributes; Range's operators are filled in by Range.__init__.
VALIDATORS: dict[type, dict[str, str]] = {
    validate.URL: {"default_message": "须为有效的网址。"},
    validate.Email: {"default_message": "须为有效的电子邮箱地址。"},
    validate.Range: {
        "message_min": "须{min_op} {{min}}。",
        "message_max": "须{max_op} {{max}}。",
        "message_all": "须{min_op} {{min}} 且{max_op} {{max}}。",
        "message_gte": "不小于",
        "message_gt": "大于",
        "message_lte": "不大于",
        "message_lt": "小于",
    },
    validate.Length: {
        "message_min": "长度不能少于 {min}。",
        "message_max": "长度不能超过 {max}。",
        "message_all": "长度须在 {min} 到 {max} 之间。",
        "message_equal": "长度须为 {equal}。",
    },
    validate.Equal: {"default_message": "须等于 {other}。"},
    validate.Regexp: {"default_message": "格式不正确。"},
    validate.Predicate: {"default_message": "取值无效。"},
    validate.NoneOf: {"default_message": "取值无效。"},
    validate.OneOf: {"default_message": "须为以下取值之一：{choices}。"},
    validate.ContainsOnly: {"default_message": "含有不可选的取值，可选的只有：{choices}。"},
    validate.ContainsNoneOf: {"default_message": "不能含有以下取值：{values}。"},
}

SCHEMA = {"type": "须为 JSON 对象。", "unknown": "未知字段。"}

INVALID_JSON = "请求体不是有效的 JSON。"

# English → Chinese for what may still arrive in English: webargs' own message, and the
# defaults above as the library words them (parameters become capture groups).
_ENGLISH = {
    "Invalid JSON body.": INVALID_JSON,
    "Missing data for required field.": FIELD["required"],
    "Field may not be null.": FIELD["null"],
    "Invalid value.": FIELD["validator_failed"],
    "Invalid input.": "取值无效。",
    "Invalid type.": FIELD_CLASSES[fields.Nested]["type"],
    "Invalid input type.": SCHEMA["type"],
    "Unknown field.": SCHEMA["unknown"],
    "Not a valid list.": FIELD_CLASSES[fields.List]["invalid"],
    "Not a valid tuple.": FIELD_CLASSES[fields.Tuple]["invalid"],
    "Not a valid string.": FIELD_CLASSES[fields.String]["invalid"],
    "Not a valid utf-8 string.": FIELD_CLASSES[fields.String]["invalid_utf8"],
    "Not a valid UUID.": FIELD_CLASSES[fields.UUID]["invalid_uuid"],
    "Not a valid number.": FIELD_CLASSES[fields.Number]["invalid"],
    "Number too large.": FIELD_CLASSES[fields.Number]["too_large"],
    "Not a valid integer.": FIELD_CLASSES[fields.Integer]["invalid"],
    "Special numeric values (nan or infinity) are not permitted.": FIELD_CLASSES[fields.Float]["special"],
    "Not a valid boolean.": FIELD_CLASSES[fields.Boolean]["invalid"],
    "Not a valid datetime.": FIELD_CLASSES[fields.DateTime]["invalid"],
    "Not a valid naive datetime.": FIELD_CLASSES[fields.NaiveDateTime]["invalid_awareness"],
    "Not a valid aware datetime.": FIELD_CLASSES[fields.AwareDateTime]["invalid_awareness"],
    "Not a valid time.": FIELD_CLASSES[fields.Time]["invalid"],
    "Not a valid date.": FIELD_CLASSES[fields.Date]["invalid"],
    "Not a valid period of time.": FIELD_CLASSES[fields.TimeDelta]["invalid"],
    "Not a valid mapping type.": FIELD_CLASSES[fields.Mapping]["invalid"],
    "Not a valid URL.": FIELD_CLASSES[fields.Url]["invalid"],
    "Not a valid email address.": FIELD_CLASSES[fields.Email]["invalid"],
    "String does not match expected pattern.": VALIDATORS[validate.Regexp]["default_message"],
    "Shorter than minimum length {min}.": VALIDATORS[validate.Length]["message_min"],
    "Longer than maximum length {max}.": VALIDATORS[validate.Length]["message_max"],
    "Length must be between {min} and {max}.": VALIDATORS[validate.Length]["message_all"],
    "Length must be {equal}.": VALIDATORS[validate.Length]["message_equal"],
    "Must be greater than or equal to {min} and less than or equal to {max}.": "须不小于 {min} 且不大于 {max}。",
    "Must be greater than {min} and less than {max}.": "须大于 {min} 且小于 {max}。",
    "Must be greater than or equal to {min} and less than {max}.": "须不小于 {min} 且小于 {max}。",
    "Must be greater than {min} and less than or equal to {max}.": "须大于 {min} 且不大于 {max}。",
    "Must be greater than or equal to {min}.": "须不小于 {min}。",
    "Must be greater than {min}.": "须大于 {min}。",
    "Must be less than or equal to {max}.": "须不大于 {max}。",
    "Must be less than {max}.": "须小于 {max}。",
    "Must be equal to {other}.": VALIDATORS[validate.Equal]["default_message"],
    "Must be one of: {choices}.": VALIDATORS[validate.OneOf]["default_message"],
    "One or more of the choices you made was not in: {choices}.": VALIDATORS[validate.ContainsOnly]["default_message"],
    "One or more of the choices you made was in: {values}.": VALIDATORS[validate.ContainsNoneOf]["default_message"],
}


def _pattern(english: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", english)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
    return re.compile(f"^{regex}$")


_PATTERNS = [(_pattern(english), chinese) for english, chinese in _ENGLISH.items()]


def use_chinese_messages() -> None:
    """Replace marshmallow's English default messages by the Chinese ones above (idempotent)."""
    ma.fields.Field.default_error_messages = {**ma.fields.Field.default_error_messages, **FIELD}
    for field_class, messages in FIELD_CLASSES.items():
        own = field_class.__dict__.get("default_error_messages", {})
        field_class.default_error_messages = {**own, **messages}
    for validator_class, attributes in VALIDATORS.items():
        for name, text in attributes.items():
            setattr(validator_class, name, text)
    ma.Schema._default_error_messages = {**ma.Schema._default_error_messages, **SCHEMA}


def translate(message: str) -> str:
    """The Chinese for one of the libraries' English messages; any other text unchanged."""
    for pattern, chinese in _PATTERNS:
        match = pattern.match(message)
        if match:
            return chinese.format(**match.groupdict())
    return message


def translate_all(messages):
    """`translate` over a marshmallow error structure: strings, lists and dicts of them (keys kept)."""
    if isinstance(messages, str):
        return translate(messages)
    if isinstance(messages, dict):
        return {key: translate_all(value) for key, value in messages.items()}
    if isinstance(messages, (list, tuple)):
        return [translate_all(value) for value in messages]
    return messages
