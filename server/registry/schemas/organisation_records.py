"""Record schemas of the organisation files: counties, departments, the leading group's roster,
department duties and venue categories."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from .reference_fields import PersonName, StrictSchema, _choice, _code, _code_list, _errors, _flag, _integer, _text

GROUP_ROLE_RANK = {"leader": 0, "executive_deputy": 1, "deputy": 2, "member": 3}
OFFICE_ROLES = ("办公室主任", "常务副主任", "副主任")
COUNTY_KINDS = ("district", "city", "county", "zone")
DUTY_PARTIES = ("department", "others", "locality")
RESPONSIBILITY_SOURCES = ("document", "default")


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
    # "四.N <party>：<words of 四.N>": the item of 四 the mapping rests on (checked against duties).
    basis = fields.String(required=True, validate=validate.Regexp(
        r"^四\.\d{1,2} [^：]+：.+$", error="应为“四.N 责任方：原文”，引用四、职责分工中的一项。"),
        error_messages=_errors(required="缺少依据（basis）。", invalid="应为字符串。"))
    locality_responsible = _flag(True)
    sort_order = _integer(required=False)

    @validates_schema
    def _document_names_a_department(self, data, **kwargs):
        if data.get("responsibility_source") == "document" and not data.get("departments"):
            raise ValidationError("责任来源为文件（document）时至少应有一个责任部门。", "departments")
