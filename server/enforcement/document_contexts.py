"""What each document must contain, as marshmallow schemas: a context without an item the law
requires is refused (Invalid, 422) with the item named, before a number is used.

A 行政处罚决定书 must name (行政处罚法 第五十九条): the party — an individual's name, ID number
and address, or a unit's name, address and legal representative —, the facts and the evidence,
the penalty and its legal basis, how and by when it is carried out, the right to administrative
review and to a lawsuit (where and within what time), the authority and the date. A 告知书
names the facts, reasons and basis of the intended penalty (the rights to state, defend and ask
for a hearing come from document_rights.yaml). Unknown fields are refused: a misspelt key must
not silently drop an item from an official document.
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from ..errors import Invalid

_MESSAGES = {"required": "缺少必填事项。", "null": "不能为空。", "invalid": "格式不正确。"}
_TEXT = validate.Length(min=1, max=5000, error="不能为空，且不超过 {max} 字。")
_LINE = validate.Length(min=1, max=200, error="不能为空，且不超过 {max} 字。")
SHA256_PATTERN = r"^[0-9a-f]{64}$"


def line_field(required: bool = True, *, long: bool = False, **kwargs) -> fields.String:
    if not required:
        kwargs.setdefault("load_default", None)
        kwargs.setdefault("allow_none", True)
    return fields.String(required=required, validate=_TEXT if long else _LINE, error_messages=_MESSAGES, **kwargs)


def items(schema, *, required: bool = True, min_items: int = 1, max_items: int = 1000) -> fields.List:
    field = fields.Nested(schema) if isinstance(schema, type) else schema
    kwargs = {} if required else {"load_default": list}
    return fields.List(field, required=required, error_messages=_MESSAGES,
                       validate=validate.Length(min=min_items if required else 0, max=max_items,
                                                error="至少 {min} 项，至多 {max} 项。"), **kwargs)


def optional_part(schema: type[Schema]) -> fields.Nested:
    """A nested part the body may leave out: it is then loaded from {} so that its own defaults
    apply; a bare `dict` default skips them and the template's strict undefined fails on a key."""
    return fields.Nested(schema, load_default=lambda: schema().load({}))


class Strict(Schema):
    class Meta:
        unknown = RAISE


class PartySchema(Strict):
    """当事人: an individual (name, ID number, address) or a unit (name, address, legal representative)."""

    kind = fields.String(required=True, validate=validate.OneOf(("individual", "unit"), error="须为 individual（个人）或 unit（单位）。"),
                         error_messages=_MESSAGES)
    name = line_field()
    id_number = line_field(False)
    address = line_field()
    legal_representative = line_field(False)
    credit_code = line_field(False)
    gender = line_field(False)
    birth_date = line_field(False)
    phone = line_field(False)

    @validates_schema
    def _identity(self, data, **_kwargs):
        if data.get("kind") == "individual" and not data.get("id_number"):
            raise ValidationError("个人须写明身份证件号码。", "id_number")
        if data.get("kind") == "unit" and not data.get("legal_representative"):
            raise ValidationError("单位须写明法定代表人（负责人）。", "legal_representative")


class EvidenceItemSchema(Strict):
    name = line_field()
    description = line_field(False, long=True)
    sha256 = fields.String(load_default=None, allow_none=True,
                           validate=validate.Regexp(SHA256_PATTERN, error="须为 64 位小写十六进制 SHA-256。"))


class LegalBasisSchema(Strict):
    law = line_field()
    article = line_field()
    text = line_field(False, long=True)


class PenaltySchema(Strict):
    description = line_field(long=True)
    fine_amount = fields.Integer(load_default=None, allow_none=True, strict=True,
                                 validate=validate.Range(min=1, error="罚款金额须为正整数（元）。"))


class ExecutionSchema(Strict):
    method = line_field(long=True)


class RemediesSchema(Strict):
    review_body = line_field()
    court = line_field()


class ContactSchema(Strict):
    address = line_field(False)
    phone = line_field(False)
    person = line_field(False)


class CopySchema(Strict):
    """版记: 抄送 and 印发机关."""

    cc = items(fields.String(validate=_LINE), required=False, max_items=20)
    printed_by = line_field(False)


class DocumentSchema(Strict):
    authority = line_field()
    date = fields.Date(required=True, error_messages=_MESSAGES)
    copies = optional_part(CopySchema)


class PenaltyNoticeSchema(DocumentSchema):
    party = fields.Nested(PartySchema, required=True, error_messages=_MESSAGES)
    facts = line_field(long=True)
    reasons = line_field(long=True)
    evidence = items(EvidenceItemSchema, required=False)
    legal_basis = items(LegalBasisSchema)
    penalty = fields.Nested(PenaltySchema, required=True, error_messages=_MESSAGES)
    hearing_eligible = fields.Boolean(load_default=True)
    contact = optional_part(ContactSchema)


class PenaltyDecisionSchema(DocumentSchema):
    party = fields.Nested(PartySchema, required=True, error_messages=_MESSAGES)
    case_number = line_field(False)
    facts = line_field(long=True)
    evidence = items(EvidenceItemSchema, max_items=5000)
    legal_basis = items(LegalBasisSchema)
    penalty = fields.Nested(PenaltySchema, required=True, error_messages=_MESSAGES)
    execution = fields.Nested(ExecutionSchema, required=True, error_messages=_MESSAGES)
    remedies = fields.Nested(RemediesSchema, required=True, error_messages=_MESSAGES)


class RectificationOrderSchema(DocumentSchema):
    party = fields.Nested(PartySchema, required=True, error_messages=_MESSAGES)
    problems = items(fields.String(validate=_TEXT))
    legal_basis = items(LegalBasisSchema)
    requirements = items(fields.String(validate=_TEXT))
    deadline = fields.Date(required=True, error_messages=_MESSAGES)
    remedies = fields.Nested(RemediesSchema, load_default=None, allow_none=True)

    @validates_schema
    def _deadline_after_date(self, data, **_kwargs):
        if data.get("deadline") and data.get("date") and data["deadline"] < data["date"]:
            raise ValidationError("整改期限不能早于文书日期。", "deadline")


class TeamMemberSchema(Strict):
    name = line_field()
    role = line_field()
    certificate_no = line_field(False)


class VenueSchema(Strict):
    name = line_field()
    address = line_field()
    category = line_field()
    county = line_field()
    town = line_field(False)
    operator_name = line_field(False)
    approved_capacity = fields.Integer(load_default=None, allow_none=True)


def _amendment_number() -> fields.Integer:
    """The number of the amendment (更正) that added or withdrew an item of the record, if any."""
    return fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1))


class ObservationSchema(Strict):
    item = line_field()
    prompt = line_field(long=True)
    value = line_field()  # as corrected by amendments
    corrected_from = line_field(False)  # the value recorded on site, when an amendment changed it
    amendment = _amendment_number()


class FindingSchema(Strict):
    ref = line_field()
    rule = line_field()
    description = line_field(long=True)
    source = line_field()
    withdrawn = fields.Boolean(load_default=False)
    amendment = _amendment_number()
    withdrawn_by = _amendment_number()


class ViolationSchema(Strict):
    rule = line_field()
    check = line_field()
    description = line_field(long=True)
    withdrawn = fields.Boolean(load_default=False)


class ProposedPenaltySchema(Strict):
    finding = line_field()
    description = line_field()
    basis = line_field(False)
    withdrawn = fields.Boolean(load_default=False)
    amendment = _amendment_number()
    withdrawn_by = _amendment_number()


class NoteSchema(Strict):
    kind = line_field()
    text = line_field(long=True)
    withdrawn = fields.Boolean(load_default=False)
    amendment = _amendment_number()
    withdrawn_by = _amendment_number()


class PhotoSchema(Strict):
    sha256 = fields.String(required=True, validate=validate.Regexp(SHA256_PATTERN, error="须为 64 位小写十六进制 SHA-256。"))
    src = line_field(False)  # a restricted-fetcher URL (anfang-evidence: or anfang-asset:)
    caption = line_field(False, long=True)
    taken_at = line_field(False)
    finding = line_field(False)
    filename = line_field(False)


class AmendmentSchema(Strict):
    number = _amendment_number()
    reason = line_field(long=True)
    received_at = line_field()
    changes = fields.List(line_field(long=True), load_default=list)  # what it changed, in words


class SignatureSchema(Strict):
    """A signature made on site (its image by a restricted-fetcher URL), or a refusal to sign with
    the witness note."""

    role = line_field()
    name = line_field()
    signed_at = line_field()
    refused = fields.Boolean(load_default=False)
    witness_note = line_field(False, long=True)
    sha256 = fields.String(load_default=None, allow_none=True,
                           validate=validate.Regexp(SHA256_PATTERN, error="须为 64 位小写十六进制 SHA-256。"))
    src = line_field(False)  # anfang-signature: (or anfang-asset: in the sample)

    @validates_schema
    def _signed_or_refused(self, data, **_kwargs):
        if data.get("refused") and not data.get("witness_note"):
            raise ValidationError("拒绝签字须写明见证情况。", "witness_note")


class InspectionRecordSchema(DocumentSchema):
    inspection_uuid = line_field()
    assignment = line_field()
    venue = fields.Nested(VenueSchema, required=True, error_messages=_MESSAGES)
    team = items(TeamMemberSchema)
    checked_in_at = line_field()
    submitted_at = line_field()
    received_at = line_field()
    observations = items(ObservationSchema, required=False)
    findings = items(FindingSchema, required=False)
    violations = items(ViolationSchema, required=False)
    penalties = items(ProposedPenaltySchema, required=False)
    notes = items(NoteSchema, required=False)
    photos = items(PhotoSchema, required=False)
    amendments = items(AmendmentSchema, required=False)
    signatures = items(SignatureSchema, required=False)


class CountRowSchema(Strict):
    key = line_field()
    label = line_field()
    count = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))


class MeasureSchema(Strict):
    code = line_field()
    measure = line_field()
    measure_label = line_field()
    reason = line_field()


class ResponsibleDepartmentSchema(Strict):
    code = line_field()
    name = line_field()
    leader = line_field()
    basis = line_field(False)  # the item of 四 (四.N) that makes the party responsible


def _count(**kwargs) -> fields.Integer:
    return fields.Integer(required=True, strict=True, validate=validate.Range(min=0), **kwargs)


class _Failures(Strict):
    """What every party of 四方责任 is traced for, and the measures its counts suggest."""

    violations = _count()
    overdue = _count()
    operating_while_closed = _count()
    measures = items(MeasureSchema, required=False)


class DepartmentFindingSchema(ResponsibleDepartmentSchema, _Failures):
    repeated_units = _count()


class CountyFindingSchema(ResponsibleDepartmentSchema, _Failures):
    repeated_units = _count()


class UnitFindingSchema(_Failures):
    venue = line_field()
    operator = line_field()
    category = line_field()
    county = line_field()
    locality = fields.Nested(ResponsibleDepartmentSchema, required=False)
    departments = items(ResponsibleDepartmentSchema, required=False)
    inspections = _count()


class PersonFindingSchema(_Failures):
    """个人: a venue's responsible person."""

    name = line_field()
    venue = line_field()
    county = line_field()
    inspections = _count()


class ClauseSchema(Strict):
    section = line_field()
    text = line_field()


class SourceDocumentSchema(Strict):
    """The document the report applies, as server/reference/responsibility.yaml quotes it."""

    number = line_field()
    issuer = line_field()
    date = line_field()
    kind = line_field()
    leading_group = line_field()
    command = line_field()
    accountability_clause = fields.Nested(ClauseSchema, required=True)
    four_parties_clause = fields.Nested(ClauseSchema, required=True)
    penalty_clause = fields.Nested(ClauseSchema, required=True)
    exposure_clause = fields.Nested(ClauseSchema, required=True)
    locality_clause = fields.Nested(ClauseSchema, required=True)
    copies_to = fields.List(fields.String(), required=True)


class TotalsSchema(Strict):
    violations = _count()
    inspections = _count()
    venues = _count()
    overdue = _count()
    operating_while_closed = _count()
    repeated_units = _count()


class AccountabilityReportSchema(DocumentSchema):
    """倒查问责情况报告: the period's counts (from the statistics service) and the traced findings."""

    period_from = fields.Date(required=True, error_messages=_MESSAGES)
    period_to = fields.Date(required=True, error_messages=_MESSAGES)
    county = line_field(False)
    thresholds_version = line_field()
    source = fields.Nested(SourceDocumentSchema, required=True, error_messages=_MESSAGES)
    totals = fields.Nested(TotalsSchema, required=True, error_messages=_MESSAGES)
    by_county = items(CountRowSchema, required=False)
    by_department = items(CountRowSchema, required=False)
    by_rule = items(CountRowSchema, required=False)
    by_day = items(CountRowSchema, required=False, max_items=400)
    departments = items(DepartmentFindingSchema, required=False)
    counties = items(CountyFindingSchema, required=False)
    units = items(UnitFindingSchema, required=False, max_items=5000)
    unit_count = _count()
    persons = items(PersonFindingSchema, required=False, max_items=5000)


SCHEMAS: dict[str, type[Schema]] = {
    "penalty_notice": PenaltyNoticeSchema,
    "penalty_decision": PenaltyDecisionSchema,
    "rectification_order": RectificationOrderSchema,
    "inspection_record": InspectionRecordSchema,
    "accountability_report": AccountabilityReportSchema,
}

# What people call each item, for the 422 detail.
LABELS = {
    "authority": "作出决定的机关", "date": "文书日期", "party": "当事人", "party.kind": "当事人类别（个人或单位）",
    "party.name": "当事人姓名或单位名称", "party.id_number": "当事人身份证件号码", "party.address": "当事人住址（地址）",
    "party.legal_representative": "法定代表人（负责人）", "facts": "违法事实", "reasons": "理由",
    "evidence": "证据", "legal_basis": "法律依据", "penalty": "行政处罚", "penalty.description": "处罚内容",
    "penalty.fine_amount": "罚款金额", "execution": "履行方式和期限", "execution.method": "履行方式",
    "remedies": "申请行政复议、提起行政诉讼的途径和期限", "remedies.review_body": "行政复议机关",
    "remedies.court": "管辖法院", "problems": "存在的问题", "requirements": "整改要求", "deadline": "整改期限",
    "venue": "被检查场所", "team": "检查人员", "inspection_uuid": "督查记录编号", "assignment": "督查任务",
    "checked_in_at": "检查时间", "submitted_at": "提交时间", "received_at": "接收时间",
    "signatures": "现场签字", "signatures.witness_note": "拒绝签字的见证情况",
    "period_from": "期间开始日期", "period_to": "期间结束日期", "totals": "总体情况",
}


def flatten_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    """{"party": {"address": [...]}} → {"party.address": [...]} (list indexes kept)."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            path = prefix if key == "_schema" else f"{prefix}{key}" if not prefix else f"{prefix}.{key}"
            flat.update(flatten_errors(value, path))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat.setdefault(prefix or "_schema", []).extend(messages)
    else:
        flat.setdefault(prefix or "_schema", []).append(str(messages))
    return flat


def _label(path: str) -> str:
    generic = ".".join(part for part in path.split(".") if not part.isdigit())
    return LABELS.get(path) or LABELS.get(generic) or path


def validate_context(kind: str, data, title: str | None = None) -> dict:
    """The context as JSON-ready data (dates as ISO text), or Invalid naming every missing item."""
    schema = SCHEMAS[kind]()
    if not isinstance(data, dict):
        raise Invalid("文书内容须为 JSON 对象。")
    try:
        loaded = schema.load(data)
    except ValidationError as exc:
        errors = flatten_errors(exc.messages)
        names = "、".join(dict.fromkeys(f"{_label(path)}（{path}）" for path in errors))
        raise Invalid(f"{title or '文书'}缺少法定事项或内容有误：{names}。", errors=errors) from None
    return schema.dump(loaded)
