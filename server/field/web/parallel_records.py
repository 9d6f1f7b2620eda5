"""The 组内记录 section of the inspection and assignment pages, and the office's form to decide
which of an assignment's records stands (server.field.parallel_records)."""

from __future__ import annotations

from wtforms import SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from ...draws.models.draw import Assignment
from ...web.chinese_form import ChineseForm
from .. import parallel_records as service

DECIDERS = ("office", "admin")


class AdoptRecordForm(ChineseForm):
    """以哪份记录为准: the record that stands, and the reason (required, audited)."""

    inspection_id = SelectField("以此记录为准", coerce=int)
    reason = TextAreaField("核定理由", validators=[DataRequired(message="请填写核定理由。"),
                                                 Length(max=service.REASON_MAX,
                                                        message=f"核定理由至多 {service.REASON_MAX} 字。")])


def adopt_form(comparison: service.Comparison | None) -> AdoptRecordForm:
    """The form (filled from the request, if posted) offering every record not standing now."""
    form = AdoptRecordForm()
    records = comparison.records if comparison is not None else []
    form.inspection_id.choices = [(record["id"], f"{record['name']}（第 {record['id']} 号，"
                                                 f"{record['inspector'] or '记录人不详'}，{record['standing']}）")
                                  for record in records if not record["is_primary"]]
    return form


def parallel_section(assignment: Assignment, user) -> dict | None:
    """The section's context for the office and admins when the assignment has several records."""
    if user.role not in DECIDERS:
        return None
    comparison = service.compare_records(assignment)
    if comparison is None:
        return None
    return {"assignment_id": assignment.id, "comparison": comparison, "form": adopt_form(comparison)}
