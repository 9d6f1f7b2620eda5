"""Spreadsheets for the register's imports: reading a CSV or XLSX file into rows keyed by field,
with the spreadsheet's own row numbers, and writing the blank template people fill in.

A CSV may come as UTF-8 (with or without the BOM Excel writes) or as GB 18030, which Excel on
a Chinese Windows uses when it saves "CSV". Headings are matched after trimming and with either
kind of brackets, so that 县(市、区) typed with ASCII brackets is recognised.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

MAX_ROWS = 10_000
MAX_BYTES = 10 * 1024 * 1024
XLSX_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an import: spreadsheet row (None for the file), column heading, reason."""

    row: int | None
    column: str | None
    message: str

    def line(self) -> str:
        where = "文件" if self.row is None else f"第 {self.row} 行"
        return f"{where}{'“' + self.column + '”列' if self.column else ''}：{self.message}"


@dataclass
class ImportReport:
    """The outcome of an import or its dry run: rows read, what was (or would be) written, problems."""

    rows: int = 0
    created: int = 0
    merged: int = 0
    problems: list[Problem] = field(default_factory=list)
    written: bool = False


@dataclass
class Sheet:
    rows: list[tuple[int, dict]] = field(default_factory=list)  # (row number, field → cell)
    problems: list[Problem] = field(default_factory=list)


def _heading_key(text) -> str:
    return str(text or "").strip().replace("(", "（").replace(")", "）").replace(" ", "")


def _cells(content: bytes, filename: str) -> list[list]:
    if content.startswith(XLSX_MAGIC) or filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        try:
            return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
        finally:
            workbook.close()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValueError("文件既不是 UTF-8 也不是 GB18030 编码的 CSV。")
    return [list(row) for row in csv.reader(io.StringIO(text))]


def read_sheet(content: bytes, filename: str, columns: dict[str, str], required: tuple[str, ...]) -> Sheet:
    """The rows of the file's first sheet; `columns` maps field → heading, `required` lists the
    fields whose column must be present. Blank rows are skipped; row numbers are the sheet's."""
    sheet = Sheet()
    if len(content) > MAX_BYTES:
        sheet.problems.append(Problem(None, None, f"文件超过 {MAX_BYTES // 1024 // 1024} MB。"))
        return sheet
    try:
        cells = _cells(content, filename)
    except ValueError as exc:
        sheet.problems.append(Problem(None, None, str(exc)))
        return sheet
    except Exception:  # noqa: BLE001 — openpyxl raises many kinds of errors for a damaged file
        sheet.problems.append(Problem(None, None, "无法读取该文件，请上传模板格式的 XLSX 或 CSV 文件。"))
        return sheet
    if not cells:
        sheet.problems.append(Problem(None, None, "文件是空的。"))
        return sheet
    by_heading = {_heading_key(heading): name for name, heading in columns.items()}
    positions: dict[str, int] = {}
    for index, heading in enumerate(cells[0]):
        key = _heading_key(heading)
        if not key:
            continue
        if key not in by_heading:
            sheet.problems.append(Problem(1, str(heading).strip(), "不是模板中的列，请删除或改正列名。"))
        elif by_heading[key] in positions:
            sheet.problems.append(Problem(1, columns[by_heading[key]], "该列重复。"))
        else:
            positions[by_heading[key]] = index
    for name in required:
        if name not in positions:
            sheet.problems.append(Problem(1, columns[name], "缺少该列（请使用下载的模板）。"))
    if sheet.problems:
        return sheet
    for number, row in enumerate(cells[1:], start=2):
        values = {name: (row[index] if index < len(row) else None) for name, index in positions.items()}
        if all(value is None or str(value).strip() == "" for value in values.values()):
            continue
        sheet.rows.append((number, values))
        if len(sheet.rows) > MAX_ROWS:
            sheet.problems.append(Problem(None, None, f"一次最多导入 {MAX_ROWS} 行，请分批导入。"))
            sheet.rows = []
            break
    if not sheet.rows and not sheet.problems:
        sheet.problems.append(Problem(None, None, "文件中没有数据行。"))
    return sheet


def template_xlsx(headings: list[str], notes: list[str]) -> bytes:
    """A workbook: the headings (no example row, which would be imported if left in) and a
    second sheet explaining each column with an example."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "导入"
    sheet.append(headings)
    for index, heading in enumerate(headings):
        sheet.column_dimensions[sheet.cell(1, index + 1).column_letter].width = max(12, 2 * len(heading) + 4)
    help_sheet = workbook.create_sheet("填写说明")
    for line in notes:
        help_sheet.append([line])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def template_csv(headings: list[str]) -> bytes:
    """The headings as CSV, UTF-8 with the BOM Excel needs to read Chinese correctly."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(headings)
    return buffer.getvalue().encode("utf-8-sig")
