"""The reference data files (server/reference/*.yaml) as a whole, checked before anything loads.

Every file is `{version: "...", <records>: [...]}`, its records checked by the schemas of the
*_records modules beside this one. Unknown fields are refused, every expression is validated by
the rule evaluator, and codes that point into other files are cross-checked here, so a bad file
is refused whole with an error naming the file and the field.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from marshmallow import Schema, ValidationError

from .checklist_records import RuleRecord
from .draw_policy_records import DrawPolicyRecord
from .fact_template_records import FactTemplateRecord, check_kind, template_problems
from .legal_records import HearingThresholdRecord, LegalBasisRecord
from .legal_rules import hearing_threshold_problems, legal_basis_problems
from .organisation_records import (
    GROUP_ROLE_RANK,
    CategoryRecord,
    CountyRecord,
    DepartmentRecord,
    DutyRecord,
    RosterRecord,
)
from .reference_fields import StrictSchema, _records, _version

# The order files load in: each refers only to files before it.
DATASETS = ("counties", "departments", "roster", "duties", "categories", "rules", "legal_bases",
            "hearing_thresholds", "draw_policy", "fact_templates")

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
    "fact_templates": "templates",
}


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
    "fact_templates": _file_schema("templates", FactTemplateRecord),
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
        for key in ("code", "name", "seq", "check"):
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
                         ("legal_bases", "code"), ("hearing_thresholds", "code"), ("draw_policy", "code"),
                         ("fact_templates", "check")):
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
    category_groups = {c["group"] for c in records["categories"]}
    for index, rule in enumerate(records["rules"]):
        unknown("rules", index, rule, "categories", rule["categories"], category_codes, "场所类别")
        for group in rule["category_groups"]:
            if group not in category_groups:
                issues.append(Issue(file_name("rules"), _path("rules", index, rule, "category_groups"),
                                    f"categories.yaml 中没有分组为“{group}”的场所类别。"))

    rule_codes = {r["code"] for r in records["rules"]}
    for index, policy in enumerate(records["draw_policy"]):
        weights = policy["weights"]
        unknown("draw_policy", index, policy, "weights.rules", sorted(weights["rules"]), rule_codes, "规则")
        unknown("draw_policy", index, policy, "weights.categories", sorted(weights["categories"]), category_codes,
                "场所类别")
    if "default" not in {policy["code"] for policy in records["draw_policy"]}:
        issues.append(Issue(file_name("draw_policy"), "policies", "缺少代码为 default 的抽查策略（抽查时使用）。"))

    issues.extend(_check_roster(records["roster"]))
    issues.extend(_check_category_basis(records["categories"], records["duties"]))
    issues.extend(_check_global_codes("rules", records["rules"], ("items", "checks")))
    issues.extend(_check_global_codes("legal_bases", records["legal_bases"], ("benchmarks",)))
    issues.extend(_check_legal_rules(records["legal_bases"], records["hearing_thresholds"]))
    issues.extend(_check_fact_templates(records["rules"], records["fact_templates"]))
    return issues


def _check_fact_templates(rules: list[dict], templates: list[dict]) -> list[Issue]:
    """Every check has a template of its kind, using only what the check reads; none is stray."""
    checks = {check["code"]: (check, rule["code"]) for rule in rules for check in rule["checks"]}
    issues = []
    for index, template in enumerate(templates):
        if template["check"] not in checks:
            issues.append(Issue(file_name("fact_templates"), _path("templates", index, template, "check"),
                                f"未知检查条件代码 {template['check']}。"))
            continue
        check, rule_code = checks[template["check"]]
        issues.extend(Issue(file_name("fact_templates"), _path("templates", index, template, field), message)
                      for field, message in template_problems(template, check, rule_code))
    covered = {template["check"] for template in templates}
    # A new comparison check must come with the sentence its violations will be written in; a check
    # of another shape (e.g. `present`) has no numbers or answer to state and gets a plain sentence.
    issues.extend(Issue(file_name("fact_templates"), "templates", f"缺少检查条件 {code}（规则 {rule_code}）的违法事实模板。")
                  for code, (check, rule_code) in checks.items()
                  if code not in covered and check_kind(check["expression"]) is not None)
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


def _check_category_basis(categories: list[dict], duties: list[dict]) -> list[Issue]:
    """Responsibility follows 四: a category's basis quotes the item of 四 it rests on; a department
    is responsible only where its own item names the kind (document), and where 四 names none
    (default) the 属地 government alone answers for it, on 四.18."""
    by_seq = {duty["seq"]: duty for duty in duties}
    issues: list[Issue] = []
    for index, category in enumerate(categories):
        def issue(message: str, field: str = "basis", index=index, category=category) -> None:
            issues.append(Issue("categories.yaml", _path("categories", index, category, field), message))

        reference, _, quote = category["basis"].partition(" ")
        party, _, words = quote.partition("：")
        duty = by_seq.get(int(reference.removeprefix("四.")))
        if duty is None:
            issue(f"四、职责分工中没有第 {reference.removeprefix('四.')} 项。")
            continue
        head, _, text = duty["text"].partition("：")
        if party != head or words not in text:
            issue(f"所引文字不见于{reference}（{head}）原文。")
        if category["responsibility_source"] == "document":
            if duty["party"] != "department":
                issue("责任来源为文件时应引用点名该类场所的部门职责。")
            elif category["departments"] != [duty["department"]]:
                issue(f"{reference}点名的责任部门是 {duty['department']}，与所填部门不一致。", "departments")
        else:
            if duty["party"] != "locality":
                issue("四、职责分工未点名的场所类别由属地政府负责，应引用四.18。")
            if category["departments"]:
                issue("四、职责分工未点名的场所类别不应填写责任部门。", "departments")
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
