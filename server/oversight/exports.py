"""Tables as CSV and XLSX files (statistics exports)."""

from __future__ import annotations

import csv
import io


def csv_bytes(table: list[list]) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel opens the Chinese text correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(table)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def xlsx_bytes(table: list[list], sheet_title: str) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = sheet_title[:31]
    for row in table:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
