"""Violation statistics by county, department, category, rule or day, with CSV and XLSX export."""

import marshmallow as ma
from flask import Response
from flask_login import current_user
from flask_smorest import Blueprint

from ...access import api_auth_required
from .. import statistics as service
from ..exports import csv_bytes, xlsx_bytes
from ..schemas.statistics import StatisticsArgsSchema, StatisticsSchema

blp = Blueprint("statistics", __name__, url_prefix="/api/v1/statistics", description="违规统计")

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_response(args: dict, rows: list[service.Row]) -> Response:
    table = service.rows_as_table(args["by"], rows)
    name = f"violations-{args['by']}-{args['date_from'].isoformat()}-{args['date_to'].isoformat()}"
    if args["format"] == "csv":
        body, mimetype, suffix = csv_bytes(table), "text/csv; charset=utf-8", "csv"
    else:
        body, mimetype, suffix = xlsx_bytes(table, f"按{service.DIMENSION_LABELS[args['by']]}"), XLSX_TYPE, "xlsx"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{suffix}"'
    return response


def query(args: dict, user):
    service.check_reader(user)
    filters = service.resolve_filters(county=args.get("county"), department=args.get("department"),
                                      category=args.get("category"), rule=args.get("rule"))
    facts = service.violation_facts(date_from=args["date_from"], date_to=args["date_to"], user=user, **filters)
    rows = service.count_facts(facts, args["by"], date_from=args["date_from"], date_to=args["date_to"])
    return facts, rows


@blp.get("/violations")
@api_auth_required()
@blp.arguments(StatisticsArgsSchema, location="query", unknown=ma.RAISE)
@blp.response(200, StatisticsSchema, description="format=csv 或 xlsx 时返回文件")
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
def violations(args):
    """Count live violations of a period by one dimension (office, enforcement, auditors; departments and counties within their scope)."""
    user = current_user._get_current_object()
    facts, rows = query(args, user)
    if args["format"] != "json":
        return export_response(args, rows)
    totals = service.totals(facts)
    return {"by": args["by"], "date_from": args["date_from"], "date_to": args["date_to"], "total": totals.violations,
            "inspections": totals.inspections, "venues": totals.venues, "rows": rows}
