"""Schemas for /api/v1/draws: the draw request in; draw summaries and verification reports out.

No schema here has a field for a target: a draw's assignments are listed by position, day and
team only. The office reads a target through the audited assignment target endpoint.
"""

from __future__ import annotations

from decimal import Decimal

import marshmallow as ma
from marshmallow import ValidationError, fields, validate, validates_schema

from ...accounts.schemas.auth import StrictSchema
from ...api.fields import StoredDateTime
from ...columns import CHINA_STANDARD_TIME
from ...registry.schemas.reference_fields import StrictBoolean

MAX_SAMPLE_SIZE = 10_000
MAX_TEAM_SIZE = 10

_REQUIRED = {"required": "必填。", "null": "不能为空。"}


def _codes(description: str) -> fields.List:
    return fields.List(
        fields.String(validate=validate.Length(min=1, max=64, error="长度须为 1–64 个字符。"),
                      error_messages={"invalid": "须为字符串。"}),
        required=True, validate=validate.Length(min=1, max=100, error="须列出 1–100 项。"),
        error_messages={**_REQUIRED, "invalid": "须为列表。"}, metadata={"description": description})


def _moment(description: str) -> fields.AwareDateTime:
    return fields.AwareDateTime(
        required=True, default_timezone=CHINA_STANDARD_TIME,
        error_messages={**_REQUIRED, "invalid": "须为 ISO 8601 时间，如 2021-12-15T08:00:00+08:00。"},
        metadata={"description": description + "；不带时区时按北京时间（UTC+8）理解"})


def _percentage(value: Decimal) -> None:
    if not Decimal(0) < value <= Decimal(100):
        raise ValidationError("须大于 0、不超过 100。")


class DrawRequestSchema(StrictSchema):
    counties = _codes("县（市、区）的代码或名称，如 yiwu、义乌市")
    categories = _codes("场所类别的代码或名称，如 ktv、餐饮场所")
    sample_size = fields.Integer(
        strict=True, load_default=None, allow_none=True,
        validate=validate.Range(min=1, max=MAX_SAMPLE_SIZE, error="须在 {min}–{max} 之间。"),
        error_messages={"invalid": "须为整数。"},
        metadata={"description": "抽取的场所数量（与 rate 二选一）"})
    # Checked by a plain function: apispec would render a Range over decimals as strings, which
    # is not valid OpenAPI (minimum must be a number).
    rate = fields.Decimal(
        load_default=None, allow_none=True, validate=_percentage,
        error_messages={"invalid": "须为数字（百分数）。", "special": "须为有限的数字。"},
        metadata={"description": "抽取比例，百分数，最多两位小数，如 5 表示 5%（与 sample_size 二选一）"})
    window_start = _moment("抽查窗口开始")
    window_end = _moment("抽查窗口结束（不含）")
    team_size = fields.Integer(
        strict=True, load_default=2,
        validate=validate.Range(min=2, max=MAX_TEAM_SIZE, error="须在 {min}–{max} 人之间。"),
        error_messages={"invalid": "须为整数。"}, metadata={"description": "每组督查人员人数（至少 2 人）"})
    may_propose_penalties = StrictBoolean(
        load_default=True, error_messages={"null": "不能为空。"},
        metadata={"description": "督查组可提出处罚建议（则组内须有持执法证的成员）"})
    meeting_point = fields.String(
        load_default=None, allow_none=True,
        validate=validate.Length(min=1, max=256, error="长度须为 1–256 个字符。"),
        error_messages={"invalid": "须为字符串。"}, metadata={"description": "集合地点（督查组可见）"})

    @validates_schema
    def _one_of_size_or_rate(self, data, **kwargs):
        if (data.get("sample_size") is None) == (data.get("rate") is None):
            raise ValidationError("抽取数量（sample_size）和抽取比例（rate）须且只须给出一个。", "sample_size")
        rate = data.get("rate")
        if rate is not None and rate != rate.quantize(Decimal("0.01")):
            raise ValidationError("最多两位小数。", "rate")


class DrawCancelRequestSchema(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(max=500, error="最多 {max} 个字。"),
                           error_messages={**_REQUIRED, "invalid": "须为字符串。"},
                           metadata={"description": "取消的理由（中文，至少 4 个汉字）；抽查清单向纪检监察人员显示"})


class DrawCloseRequestSchema(StrictSchema):
    confirm = fields.Boolean(
        load_default=False, error_messages={"invalid": "须为 true 或 false。"},
        metadata={"description": "已核对未完成的任务，确认关闭；缺省时如有未完成的任务，答 409 并列出"})


class DrawPersonSchema(ma.Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()


class ReplacedDrawSchema(ma.Schema):
    """The cancelled draw a draw was made in place of."""

    id = fields.Integer()
    status = fields.String()
    status_label = fields.String()
    cancel_reason = fields.String(allow_none=True)
    cancelled_at = StoredDateTime(allow_none=True)
    cancelled_by = fields.Nested(DrawPersonSchema, allow_none=True)


class DrawMemberSchema(ma.Schema):
    user_id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    position = fields.Integer(metadata={"description": "组内序号，1 为组长"})
    is_leader = fields.Boolean()


class DrawAssignmentSchema(ma.Schema):
    """An assignment as the draw lists it: never the target."""

    id = fields.Integer()
    uuid = fields.String()
    position = fields.Integer(metadata={"description": "抽取顺序，从 1 开始"})
    status = fields.String()
    status_label = fields.String()
    visit_date = fields.Date(allow_none=True, metadata={"description": "督查日期（北京时间）；整改复查揭封前对不能查看目标的读者为空"})
    window_start = StoredDateTime(allow_none=True)
    window_end = StoredDateTime(allow_none=True)
    meeting_point = fields.String(allow_none=True)
    may_propose_penalties = fields.Boolean()
    members = fields.List(fields.Nested(DrawMemberSchema),
                          metadata={"description": "督查组；不能查看目标的读者在抽查关闭前看到空列表"})


class DrawScopeItemSchema(ma.Schema):
    code = fields.String()
    name = fields.String()


class DrawCountsSchema(ma.Schema):
    venues = fields.Integer(allow_none=True, metadata={"description": "候选场所数"})
    inspectors = fields.Integer(allow_none=True, metadata={"description": "候选督查人员数"})
    assignments = fields.Integer(metadata={"description": "任务数"})
    skipped = fields.Integer(allow_none=True, metadata={"description": "因回避或人员不足跳过的场所数"})


class DrawSchema(ma.Schema):
    id = fields.Integer()
    uuid = fields.String()
    status = fields.String(metadata={"description": "awaiting（待录入随机数）| committed（已抽取，种子保密）"
                                                    "| closed（已关闭，种子公开）| cancelled（已取消，种子公开）"})
    status_label = fields.String()
    purpose = fields.String(metadata={"description": "sample（抽查）| reinspection（整改复查，范围为单个场所）"})
    created_at = StoredDateTime()
    created_by = fields.Nested(DrawPersonSchema)
    window_start = StoredDateTime()
    window_end = StoredDateTime()
    counties = fields.List(fields.Nested(DrawScopeItemSchema))
    categories = fields.List(fields.Nested(DrawScopeItemSchema))
    sample_size = fields.Integer()
    team_size = fields.Integer()
    may_propose_penalties = fields.Boolean()
    policy_version = fields.String()
    algorithm = fields.String()
    commitment = fields.String(metadata={"description": "sha256(承诺的种子)，十六进制；创建抽查时即公布"})
    revealed_seed = fields.String(allow_none=True, metadata={"description": "关闭或取消后公开的承诺的种子（十六进制）"})
    parameters_digest = fields.String()
    venues_digest = fields.String()
    inspectors_digest = fields.String()
    result_digest = fields.String(allow_none=True, metadata={
        "description": "HMAC-SHA256(抽取种子, 规范化结果)；录入随机数后才有，种子公开后可核对"})
    contribution_source = fields.String(allow_none=True, metadata={
        "description": "随机数来源：auditor（纪检监察人员录入）| public（事先指定的公开数值）；旧抽查为空"})
    contribution = fields.String(allow_none=True, metadata={
        "description": "录入的随机数；抽取种子 = HMAC-SHA256(承诺的种子, \"anfang-draw-seed:\" + 随机数)"})
    contributed_at = StoredDateTime(allow_none=True)
    contributed_by = fields.Nested(DrawPersonSchema, allow_none=True)
    parameters = fields.Dict(metadata={"description": "规范化的抽查参数（范围、数量、窗口、权重、回避规则）"})
    closed_at = StoredDateTime(allow_none=True)
    closed_by = fields.Nested(DrawPersonSchema, allow_none=True)
    window_ended = fields.Boolean(metadata={"description": "窗口是否已结束；此后才能关闭，之前只能取消"})
    cancel_reason = fields.String(allow_none=True, metadata={"description": "取消的理由"})
    cancelled_at = StoredDateTime(allow_none=True)
    cancelled_by = fields.Nested(DrawPersonSchema, allow_none=True)
    replaces = fields.Nested(ReplacedDrawSchema, allow_none=True, metadata={
        "description": "本抽查替代的、范围重叠且近期取消的抽查"})
    replaced_by = fields.List(fields.Integer(), metadata={"description": "替代本抽查的抽查编号"})
    counts = fields.Nested(DrawCountsSchema)
    scope_note = fields.String(allow_none=True, metadata={
        "description": "整改复查抽查在关闭、任务揭封前，不能查看目标的读者只看到指定场所的数量，范围为空"})
    teams_shown = fields.Boolean(metadata={"description": "是否列出督查组成员；不能查看目标的读者在抽查关闭后才能看到"})
    assignments = fields.List(fields.Nested(DrawAssignmentSchema))


class DrawListItemSchema(DrawSchema):
    class Meta:
        exclude = ("assignments", "parameters")


class CancellationUserSchema(ma.Schema):
    user = fields.Nested(DrawPersonSchema, allow_none=True)
    month = fields.Integer(metadata={"description": "本月（北京时间）取消次数"})
    last_30_days = fields.Integer(metadata={"description": "近 30 天取消次数"})
    flag_window = fields.Integer(metadata={"description": "策略统计期（flag_window_days 天）内取消次数"})
    total = fields.Integer(metadata={"description": "累计取消次数"})
    flagged = fields.Boolean(metadata={"description": "统计期内取消次数超过阈值"})


class CancellationMonthSchema(ma.Schema):
    month = fields.String(metadata={"description": "北京时间月份，如 2026-12"})
    count = fields.Integer()


class CancellationSummarySchema(ma.Schema):
    users = fields.List(fields.Nested(CancellationUserSchema))
    months = fields.List(fields.Nested(CancellationMonthSchema), metadata={"description": "最近几个月，新的在前"})
    this_month = fields.String()
    total = fields.Integer()
    flag_window_days = fields.Integer()
    flag_threshold = fields.Integer()
    flagged = fields.Integer(metadata={"description": "被标记的用户数"})


class VerificationSchema(ma.Schema):
    draw_id = fields.Integer()
    state = fields.String(metadata={"description": "match（一致）| mismatch（不一致）| not_revealed（种子尚未公开）"})
    ok = fields.Boolean()
    message = fields.String()
    reasons = fields.List(fields.String(), metadata={"description": "不一致之处"})
    commitment = fields.String()
    revealed_seed = fields.String(allow_none=True)
    digests = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True))
    contribution = fields.String(allow_none=True, metadata={"description": "录入的随机数"})
    seed = fields.String(allow_none=True, metadata={
        "description": "抽取种子（十六进制）= HMAC-SHA256(承诺的种子, \"anfang-draw-seed:\" + 随机数)"})
    assignments_checked = fields.Integer()
    skipped = fields.Integer()
    registry_changes = fields.List(fields.String(), metadata={
        "description": "提醒（不算不一致）：抽查后名录中变化且与抽查结果有关的场所、督查人员"})
