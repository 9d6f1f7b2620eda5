"""Import venues from a filled-in template (CSV or XLSX): a dry run that lists every problem of
every row, and an import that writes all rows or none.

Each row is checked as a venue created on a page would be (server.registry.venue_values), and
against the register and the other rows of the file for duplicates (the same 统一社会信用代码,
or the same name at the same address). With `merge`, a row duplicating one registered venue
updates it instead; a duplicate inside the file is always a problem.
"""

from __future__ import annotations

from sqlalchemy import select

from ..access import authorize
from ..audit.chain import record_event
from ..extensions import db
from .import_sheet import ImportReport, Problem, read_sheet, template_csv, template_xlsx
from .importers import Importer, register_importer
from .models.venue import Venue
from .venue_changes import audited_values, change_venue, record_version
from .venue_register import RegisterReference
from .venue_values import FIELD_LABELS, apply_values, check_values

# The template's columns, in order (联系电话 is accepted too but not offered: personal data).
TEMPLATE_FIELDS = ("name", "category", "county", "town", "address", "operator_name", "credit_code",
                   "approved_capacity", "rooms", "longitude", "latitude")
COLUMNS = {name: FIELD_LABELS[name] for name in (*TEMPLATE_FIELDS, "contact_phone")}
REQUIRED_COLUMNS = ("name", "category", "county", "town", "address")
TEMPLATE_NOTES = [
    "场所台账导入模板：第一行为列名，请勿修改；从第二行起每行一个场所。",
    "名称、类别、县（市、区）、乡镇（街道）、地址为必填项。",
    "类别、县（市、区）填名称或代码，如“KTV”“餐饮场所”“婺城区”。",
    "统一社会信用代码：18 位，按 GB 32100 校验（不含 I、O、S、V、Z）；没有的可留空。",
    "核定人数：整数；景区、影剧院、体育馆等按核定人数比例检查的类别必填。",
    "包厢座位数：仅餐饮场所、KTV 填写，格式“包厢名:座位数”，多个包厢用分号分隔，如 包厢A:12;包厢B:8。",
    "经度、纬度：十进制度数（WGS 84），须在金华市范围内，如 经度 119.6478、纬度 29.0790；可同时留空。",
    "同一统一社会信用代码、或同名同地址的场所视为重复：与已登记场所重复的行默认拒绝，导入时可选择合并（以文件内容更新已登记场所）。",
]


def venue_template(kind: str) -> bytes:
    headings = [COLUMNS[name] for name in TEMPLATE_FIELDS]
    return template_xlsx(headings, TEMPLATE_NOTES) if kind == "xlsx" else template_csv(headings)


def _key(values: dict) -> tuple[str, str]:
    return values["name"], values["address"]


def import_venues(actor, content: bytes, filename: str, *, dry_run: bool, merge: bool = False,
                  channel: str = "web") -> ImportReport:
    """Check every row; unless `dry_run` or a problem was found, register them all. Flushes,
    never commits: the caller commits only a report with `written`."""
    authorize(actor, "manage", Venue)
    sheet = read_sheet(content, filename, COLUMNS, REQUIRED_COLUMNS)
    report = ImportReport(rows=len(sheet.rows), problems=list(sheet.problems))
    if report.problems:
        return report
    reference = RegisterReference.load()
    open_venues = list(db.session.scalars(select(Venue).where(Venue.closed_at.is_(None))))
    by_code = {venue.credit_code: venue for venue in open_venues if venue.credit_code}
    by_place = {(venue.name, venue.address): venue for venue in open_venues}
    seen_codes: dict[str, int] = {}
    seen_places: dict[tuple, int] = {}
    planned: list[tuple[dict, Venue | None]] = []
    for number, raw in sheet.rows:
        values, errors = check_values(raw, reference)
        for name, messages in errors.items():
            report.problems.extend(Problem(number, COLUMNS[name], message) for message in messages)
        if errors:
            continue
        code, place = values["credit_code"], _key(values)
        row_problems = []
        if code and code in seen_codes:
            row_problems.append(Problem(number, COLUMNS["credit_code"],
                                        f"与第 {seen_codes[code]} 行的统一社会信用代码重复。"))
        if place in seen_places:
            row_problems.append(Problem(number, COLUMNS["address"], f"与第 {seen_places[place]} 行同名同地址，重复。"))
        if code:
            seen_codes.setdefault(code, number)
        seen_places.setdefault(place, number)
        registered = {venue.id: venue for venue in (by_code.get(code) if code else None, by_place.get(place))
                      if venue is not None}
        if registered and not merge:
            for venue in registered.values():
                column = "credit_code" if code and venue.credit_code == code else "address"
                reason = ("该统一社会信用代码已登记在" if column == "credit_code" else "与已登记的")
                row_problems.append(Problem(
                    number, COLUMNS[column],
                    f"{reason}场所“{venue.name}”（编号 {venue.id}）重复；如需更新该场所，请选择合并导入。"))
        elif len(registered) > 1:
            row_problems.append(Problem(number, COLUMNS["credit_code"],
                                        "统一社会信用代码与名称地址分别对应不同的已登记场所，无法合并，请核对。"))
        report.problems.extend(row_problems)
        if not row_problems:
            planned.append((values, next(iter(registered.values()), None)))
    if report.problems or dry_run:
        report.created = sum(1 for _, existing in planned if existing is None)
        report.merged = len(planned) - report.created
        return report
    _write(actor, planned, reference, channel, report, filename)
    return report


def _write(actor, planned, reference, channel: str, report: ImportReport, filename: str) -> None:
    created: list[tuple[Venue, dict]] = []
    for values, existing in planned:
        if existing is not None:
            change_venue(existing, values, "merged", actor, channel, reference)
            report.merged += 1
            continue
        venue = Venue()
        apply_values(venue, values, reference)
        db.session.add(venue)
        created.append((venue, values))
    db.session.flush()
    for venue, values in created:
        record_version(venue, "created", actor, channel, values | {"closed_at": None, "closed_reason": None})
    db.session.flush()
    for venue, values in created:
        record_event("venue.created", actor=actor, channel=channel, object_type="venue", object_id=venue.id,
                     details={"before": None, "after": audited_values(values), "version": 1})
    report.created = len(created)
    record_event("venue.imported", actor=actor, channel=channel, object_type="venue_import",
                 details={"file": filename[-128:], "rows": report.rows, "created": report.created,
                          "merged": report.merged, "venue_ids": [venue.id for venue, _ in created]})
    report.written = True


register_importer("venues", Importer("场所", import_venues, venue_template))
