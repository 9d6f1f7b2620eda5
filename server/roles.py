"""The roles of DESIGN.md §1: every domain grants and checks by them, so they belong to none."""

ROLES = ("office", "inspector", "enforcement", "propaganda", "department", "county", "auditor", "admin")

ROLE_LABELS = {
    "office": "领导小组办公室",
    "inspector": "督查人员",
    "enforcement": "执法人员",
    "propaganda": "宣传人员",
    "department": "行业部门",
    "county": "属地政府",
    "auditor": "纪检审计",
    "admin": "系统管理员",
}
