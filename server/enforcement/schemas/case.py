"""Schemas for /api/v1/violations and /api/v1/cases."""

import marshmallow as ma
from marshmallow import fields, validate

from ...accounts.schemas.auth import StrictSchema
from ...api.fields import StoredDateTime
from ...registry.credit_code import CreditCodeField
from ..cases import CASE_PENALTY_TYPES, PENALTY_LABELS
from ..models.case import CASE_STATES, CIRCUMSTANCES, EXECUTION_OUTCOMES, SERVICE_METHODS

ID = validate.Range(min=1, max=2**31 - 1, error="须为正整数。")
REQUIRED = {"required": "必填。", "null": "不能为空。"}


def _id(**options):
    return fields.Integer(strict=False, validate=ID, **options)


class ViolationListArgsSchema(StrictSchema):
    status = fields.String(load_default="open", validate=validate.OneOf(("open",), error="目前只支持 open。"),
                           metadata={"description": "open：尚未立案、也未决定不予立案的违规问题"})
    county_id = _id(metadata={"description": "属地"})
    department_id = _id(metadata={"description": "负责该场所类别的行业部门"})
    rule = fields.String(validate=validate.Length(min=1, max=16), metadata={"description": "规则代码，如 K3"})


class ViolationSchema(ma.Schema):
    id = fields.Integer()
    inspection_id = fields.Integer()
    rule_code = fields.String()
    check_code = fields.String()
    description = fields.String()
    venue_id = fields.Integer()
    county_id = fields.Integer()
    department_ids = fields.List(fields.Integer())
    created_at = StoredDateTime()


class DeclineRequestSchema(StrictSchema):
    violation_ids = fields.List(_id(), required=True, validate=validate.Length(min=1, max=500),
                                error_messages=REQUIRED)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000, error="长度须为 1–1000 个字符。"),
                           error_messages=REQUIRED, metadata={"description": "不予立案的理由"})


class DeclineResultSchema(ma.Schema):
    declined = fields.List(fields.Integer())


class PartyInSchema(StrictSchema):
    kind = fields.String(required=True, error_messages=REQUIRED, metadata={"description": "individual | unit"})
    name = fields.String(metadata={"description": "个人姓名"})
    id_number = fields.String(metadata={"description": "个人身份证号码"})
    unit_name = fields.String(metadata={"description": "单位名称"})
    credit_code = CreditCodeField(metadata={"description": "统一社会信用代码（GB 32100-2015，含校验位；小写字母按大写保存）"})
    legal_representative = fields.String(metadata={"description": "法定代表人"})
    address = fields.String()
    phone = fields.String()


class PartyUpdateSchema(PartyInSchema):
    """Items of the party found in the investigation, completed before the notice (the kind stays)."""

    kind = fields.String(metadata={"description": "不能更改；如填写须与案件一致"})


class CaseCreateSchema(StrictSchema):
    violation_ids = fields.List(_id(), required=True, validate=validate.Length(min=1, max=100),
                                error_messages=REQUIRED)
    officers = fields.List(_id(), required=True, error_messages=REQUIRED,
                           metadata={"description": "两名持执法证的执法人员的用户编号"})
    party = fields.Nested(PartyInSchema, required=True, error_messages=REQUIRED)
    circumstance = fields.String(required=True, validate=validate.OneOf(CIRCUMSTANCES), error_messages=REQUIRED)
    facts = fields.String(validate=validate.Length(max=5000))
    evidence_summary = fields.String(validate=validate.Length(max=5000))


class CaseListArgsSchema(StrictSchema):
    state = fields.String(validate=validate.OneOf(CASE_STATES, error="未知的案件状态。"))
    county_id = _id()
    department_id = _id()
    overdue = fields.Boolean(metadata={"description": "true：只列逾期案件；false：只列未逾期案件"})
    page = fields.Integer(strict=False, load_default=1, validate=validate.Range(min=1, max=100000))
    per_page = fields.Integer(strict=False, load_default=20, validate=validate.Range(min=1, max=100))


class PenaltyInSchema(StrictSchema):
    """A penalty combination: the types decided together, with the fine and the detention days."""

    types = fields.List(
        fields.String(validate=validate.OneOf(CASE_PENALTY_TYPES, error="须为以下之一：" + "、".join(
            f"{t}（{PENALTY_LABELS[t]}）" for t in CASE_PENALTY_TYPES) + "。")),
        required=True, error_messages=REQUIRED, validate=validate.Length(min=1, error="至少一种处罚。"),
        metadata={"description": "一并作出的处罚种类，须为裁量基准允许的组合之一，如 [\"warning\"]、"
                                 "[\"detention\", \"fine\"]：order_correction 责令改正 | warning 警告 | fine 罚款 | "
                                 "suspend 责令停产停业 | detention 行政拘留（仅个人）"})
    fine_amount = fields.Integer(strict=True, allow_none=True, metadata={"description": "罚款金额（元）；含罚款时必填"})
    detention_days = fields.Integer(strict=True, allow_none=True,
                                    metadata={"description": "行政拘留日数；含行政拘留时必填"})
    basis_code = fields.String(required=True, validate=validate.Length(min=1, max=64), error_messages=REQUIRED)


class TransitionRequestSchema(StrictSchema):
    """`to` and `version`, plus what the target state needs (see the service's table)."""

    to = fields.String(required=True, validate=validate.OneOf(CASE_STATES[1:], error="未知的案件状态。"),
                       error_messages=REQUIRED)
    version = fields.Integer(strict=True, required=True, error_messages=REQUIRED,
                             metadata={"description": "读到的案件版本号；已被他人更新时 409"})
    note = fields.String(validate=validate.Length(max=2000))
    facts = fields.String(validate=validate.Length(min=1, max=5000))
    evidence_summary = fields.String(validate=validate.Length(min=1, max=5000))
    party = fields.Nested(PartyUpdateSchema, metadata={"description": "调查取证、告知：补充当事人信息（如住址、法定代表人）"})
    proposed_penalty = fields.Nested(PenaltyInSchema, metadata={"description": "告知：拟处罚"})
    notified_on = fields.Date(metadata={"description": "告知日期（北京时间，省略为今天）：不早于违法行为发生日期，不晚于今天"})
    decided_penalty = fields.Nested(PenaltyInSchema, metadata={"description": "决定：处罚"})
    decided_on = fields.Date(metadata={"description": "决定日期（省略为今天）：不早于告知日期，且在陈述、申辩期限"
                                                      "（及听证申请期限）届满后，当事人放弃的除外；不晚于今天；"
                                                      "决定书编号取该日期所在年度"})
    statement_waived = fields.Boolean(metadata={"description": "当事人放弃陈述、申辩（和听证）"})
    statement_note = fields.String(validate=validate.Length(max=5000))
    hearing_requested = fields.Boolean()
    hearing_held_on = fields.Date(metadata={"description": "听证日期：不早于告知日期，不晚于决定日期"})
    served_on = fields.Date(metadata={"description": "送达日期：不早于决定日期，不晚于今天"})
    service_method = fields.String(validate=validate.OneOf(SERVICE_METHODS))
    outcome = fields.String(validate=validate.OneOf(EXECUTION_OUTCOMES))
    paid_amount = fields.Integer(strict=True)
    paid_on = fields.Date()
    executed_on = fields.Date()
    closed_on = fields.Date()
    reason = fields.String(validate=validate.Length(min=1, max=2000))


class PenaltyOutSchema(ma.Schema):
    types = fields.List(fields.String())
    fine_amount = fields.Integer(allow_none=True, metadata={"description": "罚款金额（元）"})
    detention_days = fields.Integer(allow_none=True, metadata={"description": "行政拘留日数"})
    basis_code = fields.String(allow_none=True)
    description = fields.String(metadata={"description": "处罚组合的表述，如 行政拘留5日并处罚款500元"})


class RefSchema(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    address = fields.String()


class OfficerSchema(ma.Schema):
    id = fields.Integer()
    display_name = fields.String()
    certificate_no = fields.String()


class PartyOutSchema(ma.Schema):
    kind = fields.String()
    name = fields.String(allow_none=True)
    id_number = fields.String(allow_none=True)
    unit_name = fields.String(allow_none=True)
    credit_code = fields.String(allow_none=True)
    legal_representative = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)


class CaseSummarySchema(ma.Schema):
    id = fields.Integer()
    state = fields.String()
    state_label = fields.String()
    version = fields.Integer()
    venue = fields.Nested(RefSchema)
    county = fields.Nested(RefSchema)
    party = fields.Nested(PartyOutSchema)
    circumstance = fields.String()
    act_date = fields.Date()
    overdue = fields.Boolean()
    opened_at = StoredDateTime()


class CasePageSchema(ma.Schema):
    items = fields.List(fields.Nested(CaseSummarySchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class PhotoRefSchema(ma.Schema):
    sha256 = fields.String(metadata={"description": "SHA-256，经 /api/v1/evidence/{sha256} 读取"})
    caption = fields.String(allow_none=True)
    taken_at = StoredDateTime()
    inspection_id = fields.Integer()


class HistorySchema(ma.Schema):
    from_state = fields.String(allow_none=True)
    to_state = fields.String()
    actor_id = fields.Integer(allow_none=True)
    actor = fields.String(allow_none=True)
    at = StoredDateTime()
    note = fields.String(allow_none=True)


class CaseDocumentSchema(ma.Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": "penalty_notice 告知书 | penalty_decision 决定书"})
    title = fields.String()
    number = fields.String()
    issued_on = fields.Date()
    issued_at = StoredDateTime()
    download_url = fields.String(metadata={"description": "PDF 原件（office、enforcement、admin）"})


class CaseSchema(CaseSummarySchema):
    facts = fields.String()
    evidence_summary = fields.String(allow_none=True)
    proposed_penalty = fields.Nested(PenaltyOutSchema, allow_none=True)
    notified_on = fields.Date(allow_none=True)
    statement_deadline = fields.Date(allow_none=True)
    hearing_offered = fields.Boolean()
    hearing_request_deadline = fields.Date(allow_none=True)
    hearing_requested = fields.Boolean()
    hearing_held_on = fields.Date(allow_none=True)
    statement_waived = fields.Boolean()
    statement_note = fields.String(allow_none=True)
    decided_penalty = fields.Nested(PenaltyOutSchema, allow_none=True)
    decided_on = fields.Date(allow_none=True)
    served_on = fields.Date(allow_none=True)
    service_method = fields.String(allow_none=True)
    execution_outcome = fields.String(allow_none=True)
    paid_amount = fields.Integer(allow_none=True)
    paid_on = fields.Date(allow_none=True)
    executed_on = fields.Date(allow_none=True)
    closed_on = fields.Date(allow_none=True)
    end_reason = fields.String(allow_none=True)
    officers = fields.List(fields.Nested(OfficerSchema))
    opened_by_id = fields.Integer()
    violations = fields.List(fields.Nested(ViolationSchema))
    photos = fields.List(fields.Nested(PhotoRefSchema))
    history = fields.List(fields.Nested(HistorySchema))
    allowed_transitions = fields.List(fields.String())
    documents = fields.List(fields.Nested(CaseDocumentSchema), metadata={"description": "本案已出具的文书"})
    previewable = fields.List(fields.String(), metadata={"description": "下一步流转将出具、可预览样稿的文书种类"})
