"""Field types shared by the reference file schemas, and the strict base every record schema uses.

Values are not coerced ("yes" is not true, 2.5 is not a weight) and unknown fields are refused,
each with a message naming what is wrong.
"""

from __future__ import annotations

import datetime as dt

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from rulecheck import ExpressionError, validate_expression

_FIELD_ERRORS = {"required": "缺少必填字段。", "null": "不能为空（null）。"}


def _errors(**extra) -> dict:
    return {**_FIELD_ERRORS, **extra}


def _code(max_length: int = 32, *, pattern: str = r"^[a-z][a-z0-9_]*$") -> fields.String:
    return fields.String(
        required=True,
        error_messages=_errors(invalid="应为字符串。"),
        validate=[
            validate.Regexp(pattern, error="代码格式不对：应匹配 {regex}。"),
            validate.Length(max=max_length, error="代码最长 {max} 个字符。"),
        ],
    )


def _text(max_length: int | None = None, *, required: bool = True, allow_none: bool = False) -> fields.String:
    if max_length:
        length = validate.Length(min=1, max=max_length, error="长度应在 {min}–{max} 个字符之间。")
    else:
        length = validate.Length(min=1, error="不能是空字符串。")
    kwargs = {"load_default": None} if not required else {}
    return fields.String(required=required, allow_none=allow_none, validate=length,
                         error_messages=_errors(invalid="应为字符串。"), **kwargs)


def _choice(options, *, required: bool = True, allow_none: bool = False) -> fields.String:
    kwargs = {"load_default": None} if not required else {}
    return fields.String(required=required, allow_none=allow_none,
                         validate=validate.OneOf(options, error="应为以下之一：{choices}。"),
                         error_messages=_errors(invalid="应为字符串。"), **kwargs)


class StrictBoolean(fields.Boolean):
    """true/false only: "yes", 1 or "on" are refused rather than guessed."""

    default_error_messages = {"invalid": "应为 true 或 false。"}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def _flag(default: bool) -> StrictBoolean:
    return StrictBoolean(load_default=default, error_messages=_errors())


def _integer(*, required: bool = True, minimum: int | None = None) -> fields.Integer:
    kwargs = {"load_default": None} if not required else {}
    return fields.Integer(required=required, strict=True, allow_none=not required,
                          validate=validate.Range(min=minimum, error="不能小于 {min}。") if minimum is not None else None,
                          error_messages=_errors(invalid="应为整数。"), **kwargs)


class WholeNumber(fields.Integer):
    """An integer written as one: 2.5, "2" and true are refused (weights must be exact)."""

    default_error_messages = {"invalid": "应为整数。"}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return value


def _bounded(minimum: int, maximum: int | None = None) -> WholeNumber:
    error = "应在 {min}–{max} 之间。" if maximum is not None else "不能小于 {min}。"
    return WholeNumber(required=True, validate=validate.Range(min=minimum, max=maximum, error=error),
                       error_messages=_errors())


def _weights_by(key_pattern: str, maximum: int) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(validate=validate.Regexp(key_pattern, error="代码格式不对：应匹配 {regex}。")),
        values=_bounded(1, maximum), load_default=dict, error_messages=_errors(invalid="应为映射（代码: 权重）。"))


def _code_list(*, item_pattern: str = r"^[a-z][a-z0-9_]*$") -> fields.List:
    return fields.List(
        fields.String(validate=validate.Regexp(item_pattern, error="代码格式不对：应匹配 {regex}。"),
                      error_messages=_errors(invalid="应为字符串。")),
        required=True, error_messages=_errors(invalid="应为列表。"),
    )


class PersonName(fields.String):
    """A person's name; padding spaces inside it (金 盛) are removed."""

    def _deserialize(self, value, attr, data, **kwargs):
        name = "".join(super()._deserialize(value, attr, data, **kwargs).split())
        if not name:
            raise ValidationError("姓名不能为空。")
        return name


class Expression(fields.Raw):
    """A rulecheck expression (an operation, as plain JSON), validated by the evaluator."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, dict):
            raise ValidationError("表达式应为一个运算（形如 {运算符: [参数…]} 的映射）。")
        try:
            validate_expression(value)
        except ExpressionError as exc:
            raise ValidationError(f"表达式无效：{exc}") from None
        return value


class Day(fields.Date):
    """A date written in YAML either as a date (2021-12-14) or as an ISO string."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        return super()._deserialize(value, attr, data, **kwargs)


class StrictSchema(Schema):
    """Unknown fields are an error, never silently dropped."""

    class Meta:
        unknown = RAISE

    error_messages = {"unknown": "未知字段。", "type": "应为映射（字段: 值）。"}


def _records(schema: type[Schema]) -> fields.List:
    return fields.List(fields.Nested(schema), required=True, error_messages=_errors(invalid="应为列表。"))


def _version() -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=32, error="版本号长度应为 1–32。"),
                         error_messages=_errors(invalid="应为字符串（日期形式的版本号请加引号）。"))
