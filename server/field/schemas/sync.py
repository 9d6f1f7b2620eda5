"""Schemas for /api/v1/sync: the push batch, its answer, the pull, and each entity's payload.

The batch envelope is strict: an unknown or mistyped field anywhere in it refuses the whole
request (422 problem), because nothing in such a batch can be trusted. Each operation's payload
is validated on its own by the entity's schema below; a bad payload refuses that operation only
(422 in its result), the rest of the batch still applies.
"""

import base64
import binascii
import hashlib
from datetime import UTC

import marshmallow as ma
from marshmallow import fields, validate

from ...accounts.schemas.auth import StrictSchema
from ..models.inspection import FINDING_SOURCES, NOTE_KINDS, PENALTY_TYPES
from ..models.signature import MAX_SIGNATURE_PNG_BYTES, SIGNATURE_ROLES, WITNESS_NOTE_MAX

MAX_OPERATIONS = 500
HEX64 = validate.Regexp(r"^[0-9a-f]{64}$", error="须为 64 位小写十六进制 SHA-256。")
REQUIRED = {"required": "必填。", "null": "不能为空。"}


def _uuid(**options) -> fields.UUID:
    return fields.UUID(required=True, error_messages={**REQUIRED, "invalid_uuid": "须为 UUID。"}, **options)


class UtcDateTime(fields.AwareDateTime):
    """A device's time in UTC, whatever offset it was written with: SQLite keeps a time's clock
    digits and drops the offset, so a +08:00 time stored as given would read 8 hours off."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).astimezone(UTC)


def _time(**options) -> UtcDateTime:
    # The field client writes ISO 8601 with an offset; a time without one is taken as UTC.
    return UtcDateTime(required=True, default_timezone=UTC,
                       error_messages={**REQUIRED, "invalid": "须为 ISO 8601 时间。"}, **options)


def _text(max_length: int, *, required: bool = True, **options) -> fields.String:
    return fields.String(required=required, validate=validate.Length(min=1, max=max_length,
                                                                     error=f"长度须为 1–{max_length} 个字符。"),
                         error_messages=REQUIRED, **options)


def _optional(field_class, *args, **options):
    return field_class(*args, required=True, allow_none=True, error_messages=REQUIRED, **options)


class OperationSchema(StrictSchema):
    op_id = _uuid(metadata={"description": "设备生成的操作编号（UUID）；重发时不变"})
    entity = _text(32, metadata={"description": "实体类型：assignment_reveal、inspection、observation、finding、"
                                                "finding_withdrawal、photo、penalty、note、inspection_submission、amendment、signature"})
    entity_id = _text(200, metadata={"description": "实体编号（设备生成的 UUID；观察项为 检查记录UUID/检查项代码）"})
    payload = fields.Dict(required=True, keys=fields.String(), error_messages={**REQUIRED, "invalid": "须为 JSON 对象。"})
    payload_sha256 = fields.String(required=True, validate=HEX64, error_messages=REQUIRED,
                                   metadata={"description": "载荷规范 JSON（键排序、无空白、UTF-8）的 SHA-256"})


class PushRequestSchema(StrictSchema):
    device_id = _uuid(metadata={"description": "设备编号（UUID）"})
    device_time = _time(metadata={"description": "发送时设备的时钟（带时区偏移），只用于记录和比对偏差"})
    operations = fields.List(fields.Nested(OperationSchema), required=True, error_messages=REQUIRED,
                             validate=validate.Length(max=MAX_OPERATIONS, error=f"每批最多 {MAX_OPERATIONS} 项操作。"))


class OperationResultSchema(ma.Schema):
    op_id = fields.String()
    status = fields.Integer(metadata={"description": "200 已应用；409 冲突；422 内容无效；404 不存在；403 无权"})
    detail = fields.String(metadata={"description": "出错时的说明"})
    server_seq = fields.Integer(metadata={"description": "服务器序号（仅 200）；排序以此为准，不用设备时间"})
    photo_received = fields.Boolean(metadata={
        "description": "照片操作：服务器已有该照片文件（SHA-256 相同），无需再上传"})
    checkin_distance_m = fields.Integer(allow_none=True, metadata={
        "description": "督查记录操作：签到位置到场所的距离（米）；签到或场所没有坐标时为 null"})
    checkin_flags = fields.List(fields.String(), metadata={
        "description": "督查记录操作：签到异常提示（中文，如“签到位置距场所 520 米（超过 300 米）”）；"
                       "只提示办公室核实，记录照常接收"})
    reveal_flags = fields.List(fields.String(), metadata={
        "description": "离线揭封操作：揭封异常提示（中文，如揭封时间不在任务时间窗口内）；只提示办公室核实，揭封照常接收"})
    parallel_record = fields.Boolean(metadata={
        "description": "督查记录操作：本任务已有组内另一台设备的记录，本记录已作为并行记录保存（其后各项操作照常接受），"
                       "由办公室核定以哪份为准；未出现时本记录为主记录"})
    notice = fields.String(metadata={"description": "给设备使用者看的说明（中文），如并行记录的提示；客户端原样显示"})


class PushResultSchema(ma.Schema):
    results = fields.List(fields.Nested(OperationResultSchema))
    server_time = fields.AwareDateTime()
    clock_skew_seconds = fields.Float(metadata={"description": "设备时间减服务器时间（秒）"})
    skew_flagged = fields.Boolean(metadata={"description": "偏差超过 300 秒"})


class PullArgsSchema(StrictSchema):
    cursor = fields.Integer(load_default=0, strict=False,
                            validate=validate.Range(min=0, max=2**62, error="须为非负整数。"),
                            metadata={"description": "上次拉取得到的 cursor；首次为 0"})


class ChangeSchema(ma.Schema):
    seq = fields.Integer()
    entity = fields.String()
    entity_id = fields.String()
    data = fields.Dict()


class PullResultSchema(ma.Schema):
    changes = fields.List(fields.Nested(ChangeSchema))
    cursor = fields.Integer()
    more = fields.Boolean()
    head = fields.Integer(metadata={"description": "服务器当前最大的变化序号；游标不会超过它"})
    reveal_clock_tolerance_s = fields.Integer(metadata={
        "description": "离线揭封允许的设备时钟误差（秒）：设备时间在任务时间窗口前后这么多秒内才可离线揭封"})


# --- payloads, one schema per entity -----------------------------------------------------------


class AssignmentRevealPayload(StrictSchema):
    assignment_uuid = _uuid()
    how = fields.String(required=True, validate=validate.OneOf(("code", "online"), error="须为 code 或 online。"))
    revealed_at = _time()
    device_time = _time()


class InspectionPayload(StrictSchema):
    uuid = _uuid()
    assignment_uuid = _uuid()
    checked_in_at = _time()
    latitude = _optional(fields.Float, validate=validate.Range(min=-90, max=90, error="纬度超出范围。"))
    longitude = _optional(fields.Float, validate=validate.Range(min=-180, max=180, error="经度超出范围。"))
    device_time = _time()
    status = fields.String(required=True, validate=validate.Equal("draft", error="新建的督查记录状态须为 draft。"))


class ObservationPayload(StrictSchema):
    inspection_uuid = _uuid()
    item_code = _text(64)
    value = fields.Raw(required=True, allow_none=False, error_messages=REQUIRED)
    recorded_at = _time()


class FindingPayload(StrictSchema):
    uuid = _uuid()
    inspection_uuid = _uuid()
    rule_code = _text(16)
    check_code = _optional(fields.String, validate=validate.Length(min=1, max=64))
    description = _text(2000)
    source = fields.String(required=True, validate=validate.OneOf(FINDING_SOURCES, error="来源无效。"))
    created_at = _time()


class FindingWithdrawalPayload(StrictSchema):
    finding_uuid = _uuid()
    withdrawn_at = _time()


class PhotoPayload(StrictSchema):
    uuid = _uuid()
    inspection_uuid = _uuid()
    finding_uuid = fields.UUID(required=True, allow_none=True, error_messages=REQUIRED)
    sha256 = fields.String(required=True, validate=HEX64, error_messages=REQUIRED)
    size = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, error="须为正整数。"))
    filename = _text(255)
    original_name = _optional(fields.String, validate=validate.Length(max=255))
    media_type = _optional(fields.String, validate=validate.Length(max=32))
    caption = _optional(fields.String, validate=validate.Length(max=2000))
    exif_time = _optional(fields.String, validate=validate.Length(max=32))
    latitude = _optional(fields.Float, validate=validate.Range(min=-90, max=90))
    longitude = _optional(fields.Float, validate=validate.Range(min=-180, max=180))
    orientation = _optional(fields.Integer, strict=True, validate=validate.Range(min=1, max=8))
    created_at = _time()


class PenaltyPayload(StrictSchema):
    uuid = _uuid()
    finding_uuid = _uuid()
    type = fields.String(required=True, validate=validate.OneOf(PENALTY_TYPES, error="处罚类型无效。"))
    amount = _optional(fields.Integer, strict=True, validate=validate.Range(min=1, error="金额须大于 0。"))
    basis_code = _optional(fields.String, validate=validate.Length(max=64))
    created_at = _time()

    @ma.validates_schema
    def _amount_for_fines_only(self, data, **_kwargs):
        if (data.get("type") == "fine") != (data.get("amount") is not None):
            raise ma.ValidationError("罚款须有金额，其他处罚不能有金额。", "amount")


class NotePayload(StrictSchema):
    uuid = _uuid()
    inspection_uuid = _uuid()
    kind = fields.String(required=True, validate=validate.OneOf(NOTE_KINDS, error="须为 positive 或 negative。"))
    text = _text(5000)
    created_at = _time()


class SubmissionPayload(StrictSchema):
    inspection_uuid = _uuid()
    submitted_at = _time()
    device_time = _time()


class AmendmentPayload(StrictSchema):
    uuid = _uuid()
    inspection_uuid = _uuid()
    reason = _text(2000)
    payload = fields.Dict(required=True, keys=fields.String(), error_messages=REQUIRED, metadata={
        "description": "更正内容，各项均可省略（全部省略即仅作说明）：observations {检查项代码: 值}、"
                       "findings_added [{uuid, rule_code, description}]、findings_withdrawn [问题 UUID]、"
                       "penalties_added [{uuid, finding_uuid, type, amount, basis_code}]、"
                       "penalties_withdrawn [处罚建议 UUID]、notes_added [{uuid, kind, text}]、"
                       "notes_withdrawn [典型材料 UUID]"})
    created_at = _time()


# --- the parts of an amendment's payload (server.field.amendments loads each on its own) --------
# The amendment is stored with its payload exactly as sent; these only check it.


class AmendedFinding(StrictSchema):
    uuid = _uuid()
    rule_code = _text(16)
    description = _text(2000)


class AmendedPenalty(StrictSchema):
    uuid = _uuid()
    finding_uuid = _uuid()
    type = fields.String(required=True, validate=validate.OneOf(PENALTY_TYPES, error="处罚类型无效。"),
                         error_messages=REQUIRED)
    amount = fields.Integer(load_default=None, allow_none=True, strict=True,
                            validate=validate.Range(min=1, error="金额须大于 0。"))
    basis_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))

    @ma.validates_schema
    def _amount_for_fines_only(self, data, **_kwargs):
        if (data.get("type") == "fine") != (data.get("amount") is not None):
            raise ma.ValidationError("罚款须有金额，其他处罚不能有金额。", "amount")


class AmendedNote(StrictSchema):
    uuid = _uuid()
    kind = fields.String(required=True, validate=validate.OneOf(NOTE_KINDS, error="须为 positive 或 negative。"),
                         error_messages=REQUIRED)
    text = _text(5000)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class PngBase64(fields.String):
    """Standard base64 of a PNG's bytes, loaded as the bytes: they must decode, be a PNG and fit
    the size limit (a signature drawn on a phone screen is a few tens of KiB)."""

    def _deserialize(self, value, attr, data, **kwargs) -> bytes:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            png = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise ma.ValidationError("签名图片不是有效的 base64 编码。") from None
        if len(png) > MAX_SIGNATURE_PNG_BYTES:
            raise ma.ValidationError(f"签名图片超过 {MAX_SIGNATURE_PNG_BYTES // 1024} KiB。")
        if not png.startswith(PNG_SIGNATURE):
            raise ma.ValidationError("签名图片须为 PNG 格式。")
        return png


class SignaturePayload(StrictSchema):
    """A signature on site, or a refusal to sign with a witness note. `png_base64` loads as the
    PNG's bytes."""

    uuid = _uuid()
    inspection_uuid = _uuid()
    role = fields.String(required=True, error_messages=REQUIRED, validate=validate.OneOf(
        SIGNATURE_ROLES, error="须为 inspector（督查人员）或 venue_person（被检查场所负责人）。"))
    signer_name = _text(64)
    signed_at = _time()
    refused = fields.Boolean(required=True, truthy={True}, falsy={False},
                             error_messages={**REQUIRED, "invalid": "须为 true 或 false。"})
    witness_note = _optional(fields.String, validate=validate.Length(
        max=WITNESS_NOTE_MAX, error=f"不超过 {WITNESS_NOTE_MAX} 个字符。"))
    png_base64 = _optional(PngBase64)
    png_sha256 = _optional(fields.String, validate=HEX64)

    @ma.validates_schema
    def _signed_or_refused(self, data, **_kwargs):
        if "signer_name" in data and not data["signer_name"].strip():
            raise ma.ValidationError("签字人姓名不能为空。", "signer_name")
        if "refused" not in data or "png_base64" not in data or "png_sha256" not in data:
            return  # reported by the fields themselves
        if data["refused"]:
            if not (data.get("witness_note") or "").strip():
                raise ma.ValidationError("拒绝签字须写明见证情况。", "witness_note")
            if data["png_base64"] is not None or data["png_sha256"] is not None:
                raise ma.ValidationError("拒绝签字不能附签名图片。", "png_base64")
            return
        if data["png_base64"] is None or data["png_sha256"] is None:
            raise ma.ValidationError("签字须附签名图片及其 SHA-256。", "png_base64")
        if hashlib.sha256(data["png_base64"]).hexdigest() != data["png_sha256"]:
            raise ma.ValidationError("签名图片的 SHA-256 与 png_sha256 不符，图片可能在传输中损坏。", "png_sha256")
