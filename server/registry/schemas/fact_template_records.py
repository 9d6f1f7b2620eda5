"""Record schema of fact_templates.yaml: the sentence each rule check's violation gets in a case's
违法事实, and the checks that hold a template to its check.

A template phrases what was *found* (该场所在暂时关停期间仍在营业; 包厢内聚餐{observed}人…), never the
requirement, so a decision cannot read as if the venue complied. Its placeholders are filled from
the record behind the violation:

- `{observed}` and `{limit}` (numeric checks): the two compared sides of the check's comparison;
- `{ratio}` (numeric checks whose limit is a fact times a number, e.g. 核定人数 × 1/2): that number
  as a percentage (50%), so the sentence follows the rule data if the share ever changes;
- `{obs.<item>}`, `{venue.approved_capacity}`: a value the check itself reads,
  which is therefore known whenever the check was violated.

The kind of a check is read from its expression: a comparison with true/false is `yes_no`, a
comparison of numbers `numeric`, a membership test or a comparison with a word `choice`. A
template declares the kind it was written for; when a rule's check changes shape, its template is
refused until it is rewritten.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from rulecheck import variables_of

from .reference_fields import StrictSchema, _choice, _code, _text

FACT_KINDS = ("numeric", "yes_no", "choice")
KIND_LABELS = {"numeric": "数值比较", "yes_no": "是否判断", "choice": "选项判断"}

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_COMPARISONS = frozenset({"<", "<=", ">", ">=", "==", "!="})
_ORDERING = frozenset({"<", "<=", ">", ">="})
# Facts that are codes, not words: a sentence never prints them.
_CODE_FACTS = frozenset({"venue.category", "venue.county"})


class FactTemplateRecord(StrictSchema):
    check = _code(64)
    rule = _code(16, pattern=r"^K[1-9][0-9]*$")
    kind = _choice(FACT_KINDS)
    violation = _text(300)


def _arguments(node) -> list:
    return node if isinstance(node, list) else [node]


def _is_number(node) -> bool:
    return (isinstance(node, (int, float)) and not isinstance(node, bool)) or (
        isinstance(node, str) and re.fullmatch(r"-?\d+(\.\d+)?(/\d+)?", node) is not None)


def check_kind(expression) -> str | None:
    """`numeric`, `yes_no` or `choice` for the shape of a check's expression, None for any other."""
    if not isinstance(expression, Mapping) or len(expression) != 1:
        return None
    operator, raw_args = next(iter(expression.items()))
    args = _arguments(raw_args)
    if operator == "in":
        return "choice"
    if operator not in _COMPARISONS or len(args) != 2:
        return None
    if operator in _ORDERING:
        return "numeric"
    if any(isinstance(arg, bool) for arg in args):
        return "yes_no"
    if any(isinstance(arg, str) and not _is_number(arg) for arg in args):
        return "choice"
    return "numeric"


def ratio_factor(expression) -> list | None:
    """The number literals of a limit written as one fact times numbers (`venue.approved_capacity * "1/2"`)."""
    if check_kind(expression) != "numeric":
        return None
    limit = _arguments(next(iter(expression.values())))[1]
    if not isinstance(limit, Mapping) or list(limit) != ["*"]:
        return None
    factors = _arguments(limit["*"])
    variables = [f for f in factors if isinstance(f, Mapping) and list(f) == ["var"]]
    literals = [f for f in factors if f not in variables]
    if len(variables) != 1 or not literals or not all(_is_number(f) for f in literals):
        return None
    return literals


def allowed_placeholders(check: Mapping) -> set[str]:
    """The placeholders a template of `check` may use (see the module docstring)."""
    names = set()
    for tree in (check.get("expression"), check.get("applies_when")):
        if tree is not None:
            names |= variables_of(tree)
    names -= _CODE_FACTS
    if check_kind(check.get("expression")) == "numeric":
        names |= {"observed", "limit"}
        if ratio_factor(check.get("expression")) is not None:
            names.add("ratio")
    return names


def template_problems(template: Mapping, check: Mapping, rule_code: str) -> list[tuple[str, str]]:
    """What is wrong with `template` for `check` of rule `rule_code`, as (field, message)."""
    problems = []
    if template["rule"] != rule_code:
        problems.append(("rule", f"检查条件 {check['code']} 属于规则 {rule_code}，不是 {template['rule']}。"))
    kind = check_kind(check.get("expression"))
    if kind is None:
        problems.append(("kind", f"检查条件 {check['code']} 的表达式不是比较或选项判断，无法按模板生成违法事实。"))
    elif kind != template["kind"]:
        problems.append(("kind", f"检查条件 {check['code']} 是{KIND_LABELS[kind]}（{kind}），"
                                 f"模板写的是 {template['kind']}。"))
    allowed = allowed_placeholders(check)
    for name in PLACEHOLDER.findall(template["violation"]):
        if name not in allowed:
            problems.append(("violation", f"占位符 {{{name}}} 不可用；可用：{'、'.join(sorted(allowed)) or '无'}。"))
    stray = PLACEHOLDER.sub("", template["violation"])
    if "{" in stray or "}" in stray:
        problems.append(("violation", "花括号不成对。"))
    return problems
