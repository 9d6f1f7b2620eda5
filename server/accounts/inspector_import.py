"""Import inspectors (督查人员) from a CSV or XLSX file: a dry run listing every problem of every
row, and an import that creates all of them or none.

Each row becomes a user with the role inspector, its department and county (the 回避 rules of a
draw read them) and, when held, the enforcement certificate number. Imported users get no
password: the administrator sets one as for any user (`anfang user` / the users page), so that
no password travels in a spreadsheet.
"""

from __future__ import annotations

from sqlalchemy import select

from ..audit.chain import record_event
from ..errors import Forbidden
from ..extensions import db
from ..registry.import_sheet import ImportReport, Problem, read_sheet, template_csv, template_xlsx
from ..registry.importers import Importer, register_importer
from ..registry.models.reference import County, Department
from .auth import USERNAME_PATTERN
from .models.user import User

COLUMNS = {"username": "用户名", "display_name": "姓名", "department": "部门", "county": "县（市、区）",
           "certificate_no": "执法证号", "phone": "手机号"}
REQUIRED_COLUMNS = ("username", "display_name", "department", "county")
IMPORTERS = ("office", "admin")
TEMPLATE_NOTES = [
    "督查人员导入模板：第一行为列名，请勿修改；从第二行起每行一名督查人员。",
    "用户名：2–64 位字母、数字或 _ . @ -，不能与已有用户重复。",
    "部门、县（市、区）填名称或代码，如“市市场监管局”“婺城区”；抽查时据此回避本地、本行业。",
    "执法证号：持证人员填写，不能重复；手机号可留空。",
    "导入的账号没有密码，由系统管理员设置后方可登录。",
]


def inspector_template(kind: str) -> bytes:
    headings = list(COLUMNS.values())
    return template_xlsx(headings, TEMPLATE_NOTES) if kind == "xlsx" else template_csv(headings)


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value).strip()


def import_inspectors(actor, content: bytes, filename: str, *, dry_run: bool, merge: bool = False,
                      channel: str = "web") -> ImportReport:
    """Check every row; unless `dry_run` or a problem was found, create every inspector.

    `merge` is not offered: an existing username is always a problem (accounts are edited one by
    one by the administrator)."""
    if actor.role not in IMPORTERS:
        raise Forbidden("只有领导小组办公室或系统管理员可以导入督查人员。")
    sheet = read_sheet(content, filename, COLUMNS, REQUIRED_COLUMNS)
    report = ImportReport(rows=len(sheet.rows), problems=list(sheet.problems))
    if report.problems:
        return report
    departments, counties = {}, {}
    for department in db.session.scalars(select(Department)):
        departments[department.code] = departments[department.name] = department
        if department.short_name:
            departments.setdefault(department.short_name, department)
    for county in db.session.scalars(select(County)):
        counties[county.code] = counties[county.name] = county
    usernames = set(db.session.scalars(select(User.username)))
    certificates = set(db.session.scalars(select(User.enforcement_certificate_no)
                                          .where(User.enforcement_certificate_no.is_not(None))))
    seen_usernames: dict[str, int] = {}
    seen_certificates: dict[str, int] = {}
    planned = []
    for number, raw in sheet.rows:
        row = {name: _text(raw.get(name)) for name in COLUMNS}
        problems = []

        def problem(name: str, message: str) -> None:
            problems.append(Problem(number, COLUMNS[name], message))  # noqa: B023 — used within the iteration

        username = row["username"]
        if not USERNAME_PATTERN.match(username):
            problem("username", "用户名须为 2–64 位字母、数字或 _ . @ -。")
        elif username in usernames:
            problem("username", f"用户名“{username}”已存在。")
        elif username in seen_usernames:
            problem("username", f"与第 {seen_usernames[username]} 行的用户名重复。")
        seen_usernames.setdefault(username, number)
        if not row["display_name"]:
            problem("display_name", "请填写姓名。")
        elif len(row["display_name"]) > 64:
            problem("display_name", "姓名不超过 64 个字符。")
        for name, table, label in (("department", departments, "部门"), ("county", counties, "县（市、区）")):
            if not row[name]:
                problem(name, f"请填写{label}。")
            elif row[name] not in table:
                problem(name, f"没有名称或代码为“{row[name][:40]}”的{label}。")
        certificate = row["certificate_no"]
        if certificate:
            if len(certificate) > 32:
                problem("certificate_no", "执法证号不超过 32 个字符。")
            elif certificate in certificates:
                problem("certificate_no", f"执法证号“{certificate}”已登记在其他用户名下。")
            elif certificate in seen_certificates:
                problem("certificate_no", f"与第 {seen_certificates[certificate]} 行的执法证号重复。")
            seen_certificates.setdefault(certificate, number)
        if len(row["phone"]) > 32:
            problem("phone", "手机号不超过 32 个字符。")
        report.problems.extend(problems)
        if not problems:
            planned.append(row | {"department": departments[row["department"]], "county": counties[row["county"]]})
    if report.problems or dry_run:
        report.created = len(planned)
        return report
    users = [User(username=row["username"], display_name=row["display_name"], role="inspector",
                  password_hash=None, department=row["department"], county=row["county"],
                  enforcement_certificate_no=row["certificate_no"] or None, phone=row["phone"] or None,
                  is_active=True, failed_logins=0) for row in planned]
    db.session.add_all(users)
    db.session.flush()
    for user in users:
        record_event("user.created", actor=actor, channel=channel, object_type="user", object_id=str(user.id),
                     details={"username": user.username, "role": user.role, "department": user.department.code,
                              "county": user.county.code, "imported": True})
    record_event("inspector.imported", actor=actor, channel=channel, object_type="user_import",
                 details={"file": filename[-128:], "rows": report.rows, "created": len(users)})
    report.created = len(users)
    report.written = True
    return report


register_importer("inspectors", Importer("督查人员", import_inspectors, inspector_template))
