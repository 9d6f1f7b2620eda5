"""Schemas of the reference data files (server/reference/*.yaml), checked before anything loads.

Every file is `{version: "...", <records>: [...]}`. Unknown fields are refused, every expression
is validated by the rule evaluator, and codes that point into other files are cross-checked, so a
bad file is refused whole with an error naming the file and the field.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from rulecheck import FACT_NAMESPACES, ExpressionError, validate_expression, variables_of

from ..models.reference import CIRCUMSTANCES, LEGAL_PENALTY_TYPES, PARTY_KINDS
from .legal_rules import hearing_threshold_problems, legal_basis_problems

# The order files load in: each refers only to files before it.
DATASETS = ("counties", "departments", "roster", "duties", "categories", "rules", "legal_bases",
            "hearing_thresholds", "draw_policy")

# The top-level key holding each file's records.
RECORDS_KEY = {
    "counties": "counties",
    "departments": "departments",
    "roster": "members",
    "duties": "duties",
    "categories": "categories",
    "rules": "rules",
    "legal_bases": "legal_bases",
    "hearing_thresholds": "thresholds",
    "draw_policy": "policies",
}

GROUP_ROLE_RANK = {"leader": 0, "executive_deputy": 1, "deputy": 2, "member": 3}
OFFICE_ROLES = ("办公室主任", "常务副主任", "副主任")
COUNTY_KINDS = ("district", "city", "county", "zone")
DUTY_PARTIES = ("department", "others", "locality")
RESPONSIBILITY_SOURCES = ("document", "default")
VALUE_TYPES = ("boolean", "integer", "choice", "text")
# Bounds that keep a draw's total weight far below 2^53 (docs/draw-algorithm.md).
MAX_CATEGORY_WEIGHT = 1000
MAX_WEIGHT_FACTOR = 100
# The document's teams are 两人以上; a policy may ask for more, never fewer.
MIN_TEAM_SIZE = 2


@dataclass(frozen=True)
class Issue:
    """One thing wrong with a file: the field path inside it and what is wrong."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file} · {self.field}：{self.message}" if self.field else f"{self.file}：{self.message}"


class ReferenceDataError(Exception):
    """A reference file is unreadable or invalid; nothing was loaded."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        first = str(issues[0])
        more = f"（另有 {len(issues) - 1} 处错误）" if len(issues) > 1 else ""
        super().__init__(first + more)


# ---------------------------------------------------------------- fields

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


# ---------------------------------------------------------------- records


class CountyRecord(StrictSchema):
    code = _code()
    name = _text(64)
    kind = _choice(COUNTY_KINDS)
    division_code = fields.String(load_default=None, allow_none=True,
                                  validate=validate.Regexp(r"^\d{6}$", error="应为 6 位数字的行政区划代码。"),
                                  error_messages=_errors(invalid="应为字符串（加引号）。"))
    sort_order = _integer(required=False)

    @validates_schema
    def _zone_has_no_division(self, data, **kwargs):
        if data.get("kind") == "zone" and data.get("division_code"):
            raise ValidationError("功能区不是行政区划，不应有行政区划代码。", "division_code")
        if data.get("kind") != "zone" and not data.get("division_code"):
            raise ValidationError("县（市、区）应有行政区划代码。", "division_code")


class DepartmentRecord(StrictSchema):
    code = _code()
    name = _text(64)
    short_name = _text(32, required=False, allow_none=True)
    is_enforcement_authority = _flag(False)
    sort_order = _integer(required=False)


class RosterRecord(StrictSchema):
    name = PersonName(required=True, validate=validate.Length(max=32, error="姓名最长 {max} 个字符。"),
                      error_messages=_errors(invalid="应为字符串。"))
    group_role = _choice(tuple(GROUP_ROLE_RANK))
    title = _text(128)
    department = _code()
    office_role = _choice(OFFICE_ROLES, required=False, allow_none=True)
    is_responsible_leader = _flag(False)
    sort_order = _integer(required=False)


class DutyRecord(StrictSchema):
    seq = _integer(minimum=1)
    party = _choice(DUTY_PARTIES)
    department = fields.String(required=True, allow_none=True, error_messages=_errors(invalid="应为字符串。"))
    text = _text()

    @validates_schema
    def _department_matches_party(self, data, **kwargs):
        if data.get("party") == "department" and not data.get("department"):
            raise ValidationError("责任方为部门时必须填写部门代码。", "department")
        if data.get("party") in ("others", "locality") and data.get("department"):
            raise ValidationError("“其他相关部门”和“属地政府”不对应具体部门，部门代码应为 null。", "department")


class CategoryRecord(StrictSchema):
    code = _code()
    name = _text(64)
    group = _text(64)
    departments = _code_list()
    responsibility_source = _choice(RESPONSIBILITY_SOURCES)
    locality_responsible = _flag(True)
    sort_order = _integer(required=False)

    @validates_schema
    def _document_names_a_department(self, data, **kwargs):
        if data.get("responsibility_source") == "document" and not data.get("departments"):
            raise ValidationError("责任来源为文件（document）时至少应有一个责任部门。", "departments")


class ChoiceRecord(StrictSchema):
    value = _code(64)
    label = _text(256)


class ItemRecord(StrictSchema):
    code = _code(64)
    prompt = _text(256)
    value_type = _choice(VALUE_TYPES)
    choices = fields.List(fields.Nested(ChoiceRecord), load_default=None, allow_none=True,
                          error_messages=_errors(invalid="应为列表。"))
    required = _flag(True)

    @validates_schema
    def _choices_match_type(self, data, **kwargs):
        choices = data.get("choices")
        if data.get("value_type") == "choice":
            if not choices:
                raise ValidationError("选择题（choice）必须列出选项。", "choices")
            duplicates = [v for v, n in Counter(c["value"] for c in choices).items() if n > 1]
            if duplicates:
                raise ValidationError(f"选项值重复：{', '.join(duplicates)}。", "choices")
        elif choices is not None:
            raise ValidationError("只有选择题（choice）才有选项。", "choices")


class CheckRecord(StrictSchema):
    code = _code(64)
    description = _text(256)
    applies_when = Expression(load_default=None, allow_none=True)
    expression = Expression(required=True, error_messages=_errors())


class RuleRecord(StrictSchema):
    code = _code(16, pattern=r"^K[1-9][0-9]*$")
    section = fields.String(required=True, error_messages=_errors(invalid="应为字符串。"),
                            validate=validate.Regexp(r"^[一二三四五六七八九十]+\.\d+$",
                                                     error="章节应形如“三.3”。"))
    title = _text(128)
    source_text = _text()
    categories = _code_list()
    items = _records(ItemRecord)
    checks = _records(CheckRecord)
    sort_order = _integer(required=False)

    @validates_schema
    def _checks_name_known_facts(self, data, **kwargs):
        item_codes = {item["code"] for item in data.get("items", [])}
        for index, check in enumerate(data.get("checks", [])):
            for tree_field in ("applies_when", "expression"):
                tree = check.get(tree_field)
                if tree is None:
                    continue
                for name in sorted(variables_of(tree)):
                    problem = _unknown_fact(name, item_codes)
                    if problem:
                        raise ValidationError({index: {tree_field: [problem]}}, "checks")


def _unknown_fact(name: str, item_codes: set[str]) -> str | None:
    namespace, _, fact = name.partition(".")
    if namespace not in FACT_NAMESPACES or not fact or "." in fact:
        return f"变量 {name} 无效：应为 {'、'.join(f'{ns}.<名称>' for ns in FACT_NAMESPACES)}。"
    known = FACT_NAMESPACES[namespace]
    if known is None:
        if fact not in item_codes:
            return f"变量 {name} 不是本规则的检查项（items 中没有 {fact}）。"
    elif fact not in known:
        return f"变量 {name} 无效：{namespace} 只有 {', '.join(sorted(known))}。"
    return None


def non_negative(value) -> None:
    # A plain function rather than validate.Range: apispec would print Range's Decimal bound as a
    # string, which is not valid OpenAPI.
    if value is not None and value < 0:
        raise ValidationError("不能小于 0。")


def _yuan(*, required: bool = False) -> fields.Decimal:
    kwargs = {"required": True} if required else {"load_default": None}
    return fields.Decimal(places=2, allow_none=True, validate=non_negative,
                          error_messages=_errors(invalid="应为金额（元，加引号的数字）。"), **kwargs)


def _days() -> fields.Integer:
    return fields.Integer(strict=True, load_default=None, allow_none=True,
                          validate=validate.Range(min=1, max=20, error="应在 {min}–{max} 日之间。"),
                          error_messages=_errors(invalid="应为整数（日）。"))


def _penalty_types(*, allow_empty: bool) -> fields.List:
    return fields.List(
        _choice(LEGAL_PENALTY_TYPES), required=True, error_messages=_errors(invalid="应为列表。"),
        validate=None if allow_empty else validate.Length(min=1, error="至少一种处罚种类。"))


def _day(*, required: bool) -> "Day":
    kwargs = {"required": True} if required else {"load_default": None, "allow_none": True}
    return Day(error_messages=_errors(invalid="应为日期（YYYY-MM-DD）。"), **kwargs)


class BenchmarkRecord(StrictSchema):
    code = _code(64)
    circumstance = _choice(CIRCUMSTANCES)
    party_kind = _choice(PARTY_KINDS)
    penalty_types = _penalty_types(allow_empty=False)
    min_fine = _yuan()
    max_fine = _yuan()
    min_detention_days = _days()
    max_detention_days = _days()
    note = _text(256, required=False, allow_none=True)
    valid_from = _day(required=True)
    valid_to = _day(required=False)

    @validates_schema
    def _ranges_are_ordered(self, data, **kwargs):
        if data.get("min_fine") is not None and data.get("max_fine") is not None \
                and data["min_fine"] > data["max_fine"]:
            raise ValidationError("最低罚款不能高于最高罚款。", "max_fine")
        if data.get("min_detention_days") is not None and data.get("max_detention_days") is not None \
                and data["min_detention_days"] > data["max_detention_days"]:
            raise ValidationError("最短拘留日数不能多于最长拘留日数。", "max_detention_days")
        _check_period(data)


class LegalBasisRecord(StrictSchema):
    code = _code(64)
    # Shared by every version of one provision; hyphens allowed (psapl-emergency-order).
    provision = _code(64, pattern=r"^[a-z][a-z0-9-]*$")
    law = _text(128)
    article = _text(64)
    text = _text()
    penalty_types = _penalty_types(allow_empty=True)
    max_fine_individual = _yuan()
    max_fine_unit = _yuan()
    max_detention_days = _days()
    valid_from = _day(required=True)
    valid_to = _day(required=False)
    benchmarks = fields.List(fields.Nested(BenchmarkRecord), load_default=list,
                             error_messages=_errors(invalid="应为列表。"))

    @validates_schema
    def _period_is_ordered(self, data, **kwargs):
        _check_period(data)


class HearingThresholdRecord(StrictSchema):
    code = _code(64)
    party_kind = _choice((*PARTY_KINDS, "any"))
    penalty_type = _choice(LEGAL_PENALTY_TYPES)
    min_amount = _yuan(required=True)
    source = _text(256)
    valid_from = _day(required=True)
    valid_to = _day(required=False)

    @validates_schema
    def _period_is_ordered(self, data, **kwargs):
        _check_period(data)
        if data.get("penalty_type") == "fine" and data.get("min_amount") is None:
            raise ValidationError("罚款的听证标准须填写金额。", "min_amount")


def _check_period(data) -> None:
    if data.get("valid_to") is not None and data.get("valid_from") is not None \
            and data["valid_to"] < data["valid_from"]:
        raise ValidationError("失效日期不能早于生效日期。", "valid_to")


class DrawWeightsRecord(StrictSchema):
    default = _bounded(1, MAX_CATEGORY_WEIGHT)
    rules = _weights_by(r"^K[1-9][0-9]*$", MAX_CATEGORY_WEIGHT)
    categories = _weights_by(r"^[a-z][a-z0-9_]*$", MAX_CATEGORY_WEIGHT)
    past_violations_factor = _bounded(1, MAX_WEIGHT_FACTOR)
    never_inspected_factor = _bounded(1, MAX_WEIGHT_FACTOR)


class DrawExclusionsRecord(StrictSchema):
    same_county = StrictBoolean(required=True, error_messages=_errors())
    responsible_department = StrictBoolean(required=True, error_messages=_errors())
    repeat_visit_days = _bounded(0, 3660)
    max_assignments_per_inspector_per_day = _bounded(1, 24)


class DrawTeamRecord(StrictSchema):
    min_size = WholeNumber(required=True, error_messages=_errors(),
                           validate=validate.Range(min=MIN_TEAM_SIZE, max=20,
                                                   error="督查组至少 {min} 人（两人以上），最多 {max} 人。"))
    require_certified_member_when_penalties = StrictBoolean(required=True, error_messages=_errors())


class DrawPolicyRecord(StrictSchema):
    code = _code()
    name = _text(64)
    weights = fields.Nested(DrawWeightsRecord, required=True, error_messages=_errors())
    exclusions = fields.Nested(DrawExclusionsRecord, required=True, error_messages=_errors())
    team = fields.Nested(DrawTeamRecord, required=True, error_messages=_errors())


# ---------------------------------------------------------------- files


def _file_schema(records_key: str, record: type[Schema]) -> type[Schema]:
    return StrictSchema.from_dict({"version": _version(), records_key: _records(record)},
                                  name=f"{record.__name__.removesuffix('Record')}File")


FILE_SCHEMAS: dict[str, type[Schema]] = {
    "counties": _file_schema("counties", CountyRecord),
    "departments": _file_schema("departments", DepartmentRecord),
    "roster": _file_schema("members", RosterRecord),
    "duties": _file_schema("duties", DutyRecord),
    "categories": _file_schema("categories", CategoryRecord),
    "rules": _file_schema("rules", RuleRecord),
    "legal_bases": _file_schema("legal_bases", LegalBasisRecord),
    "hearing_thresholds": _file_schema("thresholds", HearingThresholdRecord),
    "draw_policy": _file_schema("policies", DrawPolicyRecord),
}


def file_name(dataset: str) -> str:
    return f"{dataset}.yaml"


def validate_documents(raw_documents: dict[str, object]) -> dict[str, dict]:
    """Validate every file's parsed content, then the codes between files.

    Returns the loaded documents ({dataset: {"version": ..., "records": [...]}}); raises
    ReferenceDataError listing every problem found, naming file and field.
    """
    issues: list[Issue] = []
    documents: dict[str, dict] = {}
    for dataset in DATASETS:
        raw = raw_documents[dataset]
        try:
            loaded = FILE_SCHEMAS[dataset]().load(raw)
        except ValidationError as exc:
            issues.extend(Issue(file_name(dataset), path, message)
                          for path, message in _flatten(exc.messages, raw))
            continue
        documents[dataset] = {"version": loaded["version"], "records": loaded[RECORDS_KEY[dataset]]}
    if issues:
        raise ReferenceDataError(issues)
    issues.extend(_cross_check(documents))
    if issues:
        raise ReferenceDataError(issues)
    return documents


def _flatten(messages, raw, path: str = "") -> list[tuple[str, str]]:
    """marshmallow's nested messages as (field path, message), records named by their code."""
    if isinstance(messages, (list, tuple)) and all(isinstance(m, str) for m in messages):
        return [(path or "（文件）", message) for message in messages]
    if isinstance(messages, str):
        return [(path or "（文件）", messages)]
    flat: list[tuple[str, str]] = []
    items = messages.items() if isinstance(messages, dict) else enumerate(messages)
    for key, nested in items:
        child_raw = _child(raw, key)
        if key == "_schema":
            child_path = path
        elif isinstance(key, int):
            child_path = f"{path}[{key}]{_label(child_raw)}"
        else:
            child_path = f"{path}.{key}" if path else str(key)
        flat.extend(_flatten(nested, child_raw, child_path))
    return flat


def _child(raw, key):
    if isinstance(raw, dict):
        return raw.get(key)
    if isinstance(raw, list) and isinstance(key, int) and 0 <= key < len(raw):
        return raw[key]
    return None


def _label(record) -> str:
    if isinstance(record, dict):
        for key in ("code", "name", "seq"):
            if isinstance(record.get(key), (str, int)):
                return f"（{record[key]}）"
    return ""


def _path(records_key: str, index: int, record: dict, field: str) -> str:
    return f"{records_key}[{index}]{_label(record)}.{field}"


def _duplicates(dataset: str, key: str, records: list[dict]) -> list[Issue]:
    seen = Counter(record[key] for record in records)
    return [Issue(file_name(dataset), _path(RECORDS_KEY[dataset], index, record, key), f"{record[key]} 重复。")
            for index, record in enumerate(records) if seen[record[key]] > 1]


def _cross_check(documents: dict[str, dict]) -> list[Issue]:
    records = {dataset: documents[dataset]["records"] for dataset in DATASETS}
    issues: list[Issue] = []
    for dataset, key in (("counties", "code"), ("counties", "name"), ("departments", "code"),
                         ("departments", "name"), ("roster", "name"), ("duties", "seq"),
                         ("categories", "code"), ("categories", "name"), ("rules", "code"),
                         ("legal_bases", "code"), ("hearing_thresholds", "code"), ("draw_policy", "code")):
        issues.extend(_duplicates(dataset, key, records[dataset]))

    department_codes = {d["code"] for d in records["departments"]}
    category_codes = {c["code"] for c in records["categories"]}

    def unknown(dataset: str, index: int, record: dict, field: str, codes, known: set[str], what: str):
        for code in codes if isinstance(codes, list) else [codes]:
            if code is not None and code not in known:
                issues.append(Issue(file_name(dataset), _path(RECORDS_KEY[dataset], index, record, field),
                                    f"未知{what}代码 {code}。"))

    for index, member in enumerate(records["roster"]):
        unknown("roster", index, member, "department", member["department"], department_codes, "部门")
    for index, duty in enumerate(records["duties"]):
        unknown("duties", index, duty, "department", duty["department"], department_codes, "部门")
    for index, category in enumerate(records["categories"]):
        unknown("categories", index, category, "departments", category["departments"], department_codes, "部门")
    for index, rule in enumerate(records["rules"]):
        unknown("rules", index, rule, "categories", rule["categories"], category_codes, "场所类别")

    rule_codes = {r["code"] for r in records["rules"]}
    for index, policy in enumerate(records["draw_policy"]):
        weights = policy["weights"]
        unknown("draw_policy", index, policy, "weights.rules", sorted(weights["rules"]), rule_codes, "规则")
        unknown("draw_policy", index, policy, "weights.categories", sorted(weights["categories"]), category_codes,
                "场所类别")
    if "default" not in {policy["code"] for policy in records["draw_policy"]}:
        issues.append(Issue(file_name("draw_policy"), "policies", "缺少代码为 default 的抽查策略（抽查时使用）。"))

    issues.extend(_check_roster(records["roster"]))
    issues.extend(_check_global_codes("rules", records["rules"], ("items", "checks")))
    issues.extend(_check_global_codes("legal_bases", records["legal_bases"], ("benchmarks",)))
    issues.extend(_check_legal_rules(records["legal_bases"], records["hearing_thresholds"]))
    return issues


def _check_legal_rules(bases: list[dict], thresholds: list[dict]) -> list[Issue]:
    """Validity overlaps and statutory limits (server/registry/schemas/legal_rules.py), named by record path."""
    index_of = {record["code"]: index for index, record in enumerate(bases)}
    issues = []
    for code, benchmark_code, field, message in legal_basis_problems(bases):
        index = index_of[code]
        record = bases[index]
        path = _path("legal_bases", index, record, field)
        if benchmark_code is not None:
            position = next(i for i, b in enumerate(record["benchmarks"]) if b["code"] == benchmark_code)
            path = f"{_path('legal_bases', index, record, 'benchmarks')}[{position}]（{benchmark_code}）.{field}"
        issues.append(Issue(file_name("legal_bases"), path, message))
    threshold_index = {record["code"]: index for index, record in enumerate(thresholds)}
    for code, field, message in hearing_threshold_problems(thresholds):
        index = threshold_index[code]
        issues.append(Issue(file_name("hearing_thresholds"), _path("thresholds", index, thresholds[index], field),
                            message))
    return issues


def _check_roster(members: list[dict]) -> list[Issue]:
    """One responsible leader per department, the highest-ranking one; one office director."""
    issues: list[Issue] = []
    by_department: dict[str, list[tuple[int, dict]]] = defaultdict(list)
    for index, member in enumerate(members):
        by_department[member["department"]].append((index, member))
    for department, entries in by_department.items():
        leaders = [(index, m) for index, m in entries if m["is_responsible_leader"]]
        top_rank = min(GROUP_ROLE_RANK[m["group_role"]] for _, m in entries)
        if len(leaders) != 1:
            index, member = (leaders or entries)[-1]
            issues.append(Issue("roster.yaml", _path("members", index, member, "is_responsible_leader"),
                                f"部门 {department} 应恰有一名责任领导，现有 {len(leaders)} 名。"))
            continue
        index, leader = leaders[0]
        if GROUP_ROLE_RANK[leader["group_role"]] != top_rank:
            issues.append(Issue("roster.yaml", _path("members", index, leader, "is_responsible_leader"),
                                f"部门 {department} 的责任领导应是该部门在领导小组中职务最高的人。"))
    directors = [(i, m) for i, m in enumerate(members) if m["office_role"] == "办公室主任"]
    for index, member in directors[1:]:
        issues.append(Issue("roster.yaml", _path("members", index, member, "office_role"), "办公室主任只能有一名。"))
    return issues


def _check_global_codes(dataset: str, records: list[dict], child_keys: tuple[str, ...]) -> list[Issue]:
    """Child codes (checklist items, checks, benchmarks) are unique across the whole file."""
    issues: list[Issue] = []
    for child_key in child_keys:
        seen: dict[str, str] = {}
        for index, record in enumerate(records):
            for child_index, child in enumerate(record[child_key]):
                where = f"{_path(RECORDS_KEY[dataset], index, record, child_key)}[{child_index}]{_label(child)}.code"
                if child["code"] in seen:
                    issues.append(Issue(file_name(dataset), where, f"{child['code']} 与 {seen[child['code']]} 重复。"))
                else:
                    seen[child["code"]] = record["code"]
    return issues
