"""Record schemas of rules.yaml: each rule with its checklist items and the checks over their answers."""

from __future__ import annotations

from collections import Counter

from marshmallow import ValidationError, fields, validate, validates_schema

from rulecheck import FACT_NAMESPACES, variables_of

from .reference_fields import (
    Expression,
    StrictSchema,
    _choice,
    _code,
    _code_list,
    _errors,
    _flag,
    _integer,
    _records,
    _text,
)

VALUE_TYPES = ("boolean", "integer", "choice", "text")


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
    # Whole groups of categories.yaml: where the document's list of venue kinds is open ("……等"),
    # a kind added to the group later falls under the rule with no change here.
    category_groups = fields.List(_text(64), load_default=list, error_messages=_errors(invalid="应为列表。"))
    # A task with nothing to observe at a venue says why it is in no checklist, instead of being
    # turned into a check it does not contain.
    off_checklist_reason = _text(500, required=False)
    items = _records(ItemRecord)
    checks = _records(CheckRecord)
    sort_order = _integer(required=False)

    @validates_schema
    def _on_a_checklist_or_said_why(self, data, **kwargs):
        applies = data.get("categories") or data.get("category_groups")
        if data.get("off_checklist_reason"):
            for name in ("categories", "category_groups", "items", "checks"):
                if data.get(name):
                    raise ValidationError("写明不列入场所检查表的原因的规则不能再有场所类别、检查项或检查条件。", name)
        elif not applies or not data.get("checks"):
            raise ValidationError("规则应适用于场所类别并有检查条件，否则须写明不列入场所检查表的原因"
                                  "（off_checklist_reason）。", "off_checklist_reason")

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
