"""Schemas for /api/v1/auth: token requests in, user and token descriptions out."""

import marshmallow as ma
from marshmallow import fields, validate

from ...api.fields import StoredDateTime


class StrictSchema(ma.Schema):
    """Unknown fields are refused rather than ignored, so a client's typo is an error, not a no-op."""

    class Meta:
        unknown = ma.RAISE

    error_messages = {"unknown": "不允许的字段。", "type": "请求体必须是 JSON 对象。"}


def _required_text(max_length: int, description: str, **options) -> fields.String:
    return fields.String(
        required=True,
        validate=validate.Length(min=1, max=max_length, error=f"长度须为 1–{max_length} 个字符。"),
        error_messages={"required": "必填。", "null": "不能为空。", "invalid": "须为字符串。"},
        metadata={"description": description},
        **options,
    )


class TokenRequestSchema(StrictSchema):
    username = _required_text(64, "用户名")
    # load_only: the password never appears in an answer.
    password = _required_text(256, "密码", load_only=True)
    label = _required_text(64, "设备名称，便于日后辨认和吊销，如“张三的手机”")


class ScopeRefSchema(ma.Schema):
    code = fields.String()
    name = fields.String()


class UserSchema(ma.Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    role = fields.String(metadata={"description": "角色代码"})
    role_label = fields.String(metadata={"description": "角色名称"})
    department = fields.Nested(ScopeRefSchema, allow_none=True, metadata={"description": "所属部门"})
    county = fields.Nested(ScopeRefSchema, allow_none=True, metadata={"description": "所属县市区"})
    has_enforcement_certificate = fields.Function(
        lambda user: user.enforcement_certificate_no is not None,
        metadata={"description": "是否持有执法证（可提出处罚建议）"},
    )


class TokenInfoSchema(ma.Schema):
    id = fields.Integer()
    prefix = fields.String(metadata={"description": "令牌前几位，用于辨认，不能用于认证"})
    label = fields.String()
    issued_at = StoredDateTime()
    expires_at = StoredDateTime()
    last_used_at = StoredDateTime(allow_none=True)


class IssuedTokenSchema(ma.Schema):
    token = fields.String(metadata={"description": "访问令牌，仅此一次返回；请求时放在 Authorization: Bearer 后"})
    token_type = fields.Constant("Bearer")
    device_token = fields.Nested(TokenInfoSchema)
    user = fields.Nested(UserSchema)


class MeSchema(ma.Schema):
    user = fields.Nested(UserSchema)
    device_token = fields.Nested(TokenInfoSchema)
