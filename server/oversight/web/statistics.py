"""The statistics page: violation counts of a period by county, department, category, rule and
day, each as a table with a bar chart drawn on the server, filters, and CSV/XLSX downloads.
Numbers come from server/oversight/statistics.py, as for the API and the accountability report."""

from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, render_template, request

from ...access import web_role_required
from ...columns import china_today
from ...errors import Invalid
from ...pdf.charts import bar_chart, day_chart
from ...web.navigation import add_nav_item
from ...web.signed_in import signed_in_user
from .. import statistics as service

bp = Blueprint("web_statistics", __name__, template_folder="templates")

add_nav_item("违规统计", "web_statistics.page", service.READER_ROLES)

FILTERS = ("county", "department", "category", "rule")


def _period() -> tuple[date, date]:
    yesterday = china_today() - timedelta(days=1)
    try:
        date_to = date.fromisoformat(request.args["to"]) if request.args.get("to") else yesterday
        date_from = (date.fromisoformat(request.args["from"]) if request.args.get("from")
                     else date_to - timedelta(days=6))
    except ValueError:
        abort(400)
    return date_from, date_to


@bp.get("/statistics")
@web_role_required(*service.READER_ROLES)
def page():
    date_from, date_to = _period()
    user = signed_in_user()
    selected = {name: request.args.get(name, "").strip() or None for name in FILTERS}
    error = None
    field_errors: dict = {}
    summary = None
    try:
        filters = service.resolve_filters(**selected)
        summary = service.summary(date_from=date_from, date_to=date_to, user=user, **filters)
    except Invalid as exc:
        error = exc.detail
        field_errors = exc.errors or {}
    charts = {}
    if summary is not None:
        for by in service.DIMENSIONS:
            title = f"违规问题数（按{service.DIMENSION_LABELS[by]}，{'日期顺序' if by == 'day' else '从多到少'}）"
            charts[by] = day_chart(summary[by], title) if by == "day" else bar_chart(summary[by], title)
    query = {"from": date_from.isoformat(), "to": date_to.isoformat(),
             **{name: value for name, value in selected.items() if value}}
    return render_template("statistics/page.html", date_from=date_from, date_to=date_to, selected=selected,
                           summary=summary, charts=charts, error=error, field_errors=field_errors,
                           labels=service.DIMENSION_LABELS, dimensions=service.DIMENSIONS, query=query,
                           **service.filter_choices(user))


@bp.get("/statistics/export.<any(csv, xlsx):fmt>")
@web_role_required(*service.READER_ROLES)
def export(fmt: str):
    from ..api.statistics import export_response

    date_from, date_to = _period()
    by = request.args.get("by", "")
    if by not in service.DIMENSIONS:
        abort(400)
    filters = service.resolve_filters(**{name: request.args.get(name, "").strip() or None for name in FILTERS})
    rows = service.violation_counts(date_from=date_from, date_to=date_to, by=by,
                                    user=signed_in_user(), **filters)
    return export_response({"by": by, "date_from": date_from, "date_to": date_to, "format": fmt}, rows)
