"""Response schemas of the read-only reference API (/api/v1/reference)."""

from __future__ import annotations

from marshmallow import Schema, fields


class CodeNameSchema(Schema):
    code = fields.String(metadata={"description": "稳定代码"})
    name = fields.String(metadata={"description": "名称"})


class CountySchema(Schema):
    id = fields.Integer(metadata={"description": "编号，即其他接口中 county_id / county_ids 所指"})
    code = fields.String(metadata={"description": "稳定代码，如 wucheng"})
    name = fields.String(metadata={"description": "名称，如 婺城区"})
    kind = fields.String(metadata={"description": "district | city | county | zone"})
    division_code = fields.String(allow_none=True, metadata={"description": "GB/T 2260 行政区划代码；功能区为 null"})


class DepartmentSchema(Schema):
    id = fields.Integer(metadata={"description": "编号，即其他接口中 department_id / department_ids 所指"})
    code = fields.String()
    name = fields.String()
    short_name = fields.String(allow_none=True)
    is_enforcement_authority = fields.Boolean(metadata={"description": "是否执法主体（市公安局）"})


class RosterMemberSchema(Schema):
    name = fields.String()
    group_role = fields.String(metadata={"description": "leader | executive_deputy | deputy | member"})
    title = fields.String(metadata={"description": "职务，按文件原文"})
    department = fields.Nested(CodeNameSchema)
    office_role = fields.String(allow_none=True, metadata={"description": "领导小组办公室职务"})
    is_responsible_leader = fields.Boolean(metadata={"description": "是否本部门的责任领导（问责报告点名）"})


class DutySchema(Schema):
    seq = fields.Integer()
    party = fields.String(metadata={"description": "department | others | locality"})
    department = fields.Nested(CodeNameSchema, allow_none=True)
    text = fields.String()


class CategorySchema(Schema):
    id = fields.Integer(metadata={"description": "编号，即其他接口中 category_id / category_ids 所指"})
    code = fields.String()
    name = fields.String()
    group = fields.String(allow_none=True)
    responsibility_source = fields.String(metadata={"description": "document：文件第四部分点名；default：文件未提及，按数据默认"})
    locality_responsible = fields.Boolean(metadata={"description": "属地政府是否负责"})
    departments = fields.List(fields.Nested(CodeNameSchema), metadata={"description": "责任部门"})
    rules = fields.Method("_rule_codes", metadata={"description": "适用规则代码"})

    def _rule_codes(self, category) -> list[str]:
        return [rule.code for rule in sorted(category.rules, key=lambda r: (r.sort_order, r.code))]


class ChoiceSchema(Schema):
    value = fields.String()
    label = fields.String()


class ChecklistItemSchema(Schema):
    code = fields.String(metadata={"description": "检查项代码；检查条件以 obs.<代码> 引用"})
    prompt = fields.String()
    value_type = fields.String(metadata={"description": "boolean | integer | choice | text"})
    choices = fields.List(fields.Nested(ChoiceSchema), allow_none=True)
    required = fields.Boolean()


class RuleCheckSchema(Schema):
    code = fields.String()
    description = fields.String()
    applies_when = fields.Dict(allow_none=True, metadata={"description": "适用条件（rulecheck 表达式）"})
    expression = fields.Dict(metadata={"description": "合规条件（rulecheck 表达式），为假即违规"})


class RuleSchema(Schema):
    code = fields.String()
    section = fields.String()
    title = fields.String()
    source_text = fields.String(metadata={"description": "文件原文"})
    categories = fields.Method("_category_codes", metadata={"description": "适用的场所类别代码"})
    items = fields.List(fields.Nested(ChecklistItemSchema))
    checks = fields.List(fields.Nested(RuleCheckSchema))

    def _category_codes(self, rule) -> list[str]:
        return [category.code for category in sorted(rule.categories, key=lambda c: (c.sort_order, c.code))]


class RuleBundleSchema(Schema):
    """A rule as the evaluator takes it: what the field client downloads per venue category."""

    code = fields.String()
    section = fields.String()
    title = fields.String()
    items = fields.List(fields.Nested(ChecklistItemSchema))
    checks = fields.List(fields.Nested(RuleCheckSchema))
