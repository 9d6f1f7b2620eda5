"""Rectification orders (责令限期整改): issue, list (overdue for the office), read, withdraw.

The rules are in `server.enforcement.rectification` and `rectification_issuing`; the views parse,
call the services and dump.
"""

import marshmallow as ma
from flask import send_file, url_for
from flask_login import current_user
from flask_smorest import Blueprint
from webargs.flaskparser import FlaskParser
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import CombinedMultiDict

from ...access import api_auth_required, authorize
from .. import rectification as service
from .. import rectification_issuing as issuing
from .. import rectification_reports as reports
from .. import reinspection  # noqa: F401  (connects the receiver that decides orders on their re-inspection)
from ..schemas.rectification import (
    OrderCreateSchema,
    OrderListArgsSchema,
    OrderSchema,
    ReportFormSchema,
    ReportReturnSchema,
    ReportSchema,
    WithdrawRequestSchema,
)



class _MultipartParser(FlaskParser):
    """webargs with a `multipart` location: the form's fields and its files read as one body, so
    that a report's note and photos are one schema and one documented request body (flask-smorest
    documents one body per operation)."""

    __location_map__ = dict(multipart="load_multipart", **FlaskParser.__location_map__)

    def load_multipart(self, req, schema):
        return MultiDictProxy(CombinedMultiDict([req.form, req.files]), schema)


class _Blueprint(Blueprint):
    ARGUMENTS_PARSER = _MultipartParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {**Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
                                             "multipart": "multipart/form-data"}


blp = _Blueprint("rectification", __name__, url_prefix="/api/v1", description="责令限期整改与复查")


def _user():
    return current_user._get_current_object()


@blp.post("/rectification-orders")
@api_auth_required()
@blp.arguments(OrderCreateSchema)
@blp.response(201, OrderSchema)
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
@blp.alt_response(409, response="CONFLICT", description="违规问题已有未结束的整改通知，或已被更正撤回")
def issue(data):
    """Issue a rectification order for violations of one venue, optionally within a case (enforcement, office)."""
    user = _user()
    authorize(user, "act", service.RectificationOrder)
    case = issuing.case_for_order(data.get("case_id"))
    order = issuing.issue_order(data.get("violation_ids") or [], deadline=data["deadline"],
                                requirements=data["requirements"], legal_basis=data.get("legal_basis"),
                                case=case, actor=user, channel="api")
    return service.detail(order, user)


@blp.get("/rectification-orders")
@api_auth_required()
@blp.arguments(OrderListArgsSchema, location="query", unknown=ma.RAISE)
@blp.response(200, OrderSchema(many=True))
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
def list_orders(args):
    """List rectification orders by deadline, filtered by state, overdue, county or case."""
    user = _user()
    orders = service.list_orders(user, state=args.get("state"), overdue=args.get("overdue"),
                                 county=args.get("county"), case_id=args.get("case_id"))
    return [service.detail(order, user) for order in orders]


@blp.get("/rectification-orders/<int:order_id>")
@api_auth_required()
@blp.response(200, OrderSchema)
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
@blp.alt_response(404, response="NOT_FOUND", description="整改通知不存在")
def get_order(order_id):
    """One rectification order with its violations, re-inspection state and result."""
    user = _user()
    return service.detail(service.find_order(order_id, user), user)


@blp.post("/rectification-orders/<int:order_id>/withdraw")
@api_auth_required()
@blp.arguments(WithdrawRequestSchema)
@blp.response(200, OrderSchema)
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
@blp.alt_response(404, response="NOT_FOUND", description="整改通知不存在")
@blp.alt_response(409, response="CONFLICT", description="整改通知已有结果，或复查已提交")
def withdraw(data, order_id):
    """Withdraw an order not yet decided, with a reason; a pending re-inspection is cancelled (office)."""
    user = _user()
    order = issuing.withdraw_order(service.find_order(order_id, user, "act"), reason=data["reason"], actor=user,
                                   channel="api")
    return service.detail(order, user)


# --- reports that the rectification is done ----------------------------------------------------------


def _photo_url(report, position, variant):
    return url_for("rectification.report_photo", order_id=report.order_id, report_id=report.id, position=position,
                   variant=variant)


def _report(report):
    return reports.report_summary(report, _photo_url)


@blp.get("/rectification-orders/<int:order_id>/reports")
@api_auth_required()
@blp.response(200, ReportSchema(many=True))
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
@blp.alt_response(404, response="NOT_FOUND", description="整改通知不存在")
def list_reports(order_id):
    """The order's reports that it is put right (整改完成报告), oldest first."""
    order = service.find_order(order_id, _user())
    return [_report(report) for report in reports.reports_of(order)]


@blp.post("/rectification-orders/<int:order_id>/reports")
@api_auth_required()
@blp.arguments(ReportFormSchema, location="multipart")
@blp.response(201, ReportSchema)
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
@blp.alt_response(404, response="NOT_FOUND", description="整改通知不存在")
@blp.alt_response(409, response="CONFLICT", description="已有待确认的报告、已确认，或整改通知已有结果")
def submit_report(form, order_id):
    """Report the order put right, with a note and 1–6 photos (the venue's county or responsible department).

    multipart/form-data: `note`, and `photos` once per file.
    """
    user = _user()
    order = service.find_order(order_id, user, "report")
    photos = [reports.PhotoUpload(upload.filename, upload.read(reports.MAX_PHOTO_BYTES + 1))
              for upload in form["photos"]]
    return _report(reports.submit_report(order, note=form["note"], photos=photos, actor=user, channel="api"))


@blp.post("/rectification-orders/<int:order_id>/reports/<int:report_id>/confirm")
@api_auth_required()
@blp.response(200, ReportSchema)
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
@blp.alt_response(404, response="NOT_FOUND", description="整改通知或报告不存在")
@blp.alt_response(409, response="CONFLICT", description="报告已处理过，或整改通知已有结果")
def confirm_report(order_id, report_id):
    """Confirm a report: the order is due for its re-inspection from now (office)."""
    user = _user()
    order = service.find_order(order_id, user, "review_report")
    return _report(reports.confirm_report(reports.find_report(order, report_id), actor=user, channel="api"))


@blp.post("/rectification-orders/<int:order_id>/reports/<int:report_id>/return")
@api_auth_required()
@blp.arguments(ReportReturnSchema)
@blp.response(200, ReportSchema)
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
@blp.alt_response(404, response="NOT_FOUND", description="整改通知或报告不存在")
@blp.alt_response(409, response="CONFLICT", description="报告已处理过")
def return_report(data, order_id, report_id):
    """Send a report back with a reason; the county or department may report again (office)."""
    user = _user()
    order = service.find_order(order_id, user, "review_report")
    return _report(reports.return_report(reports.find_report(order, report_id), reason=data["reason"], actor=user,
                                         channel="api"))


@blp.get("/rectification-orders/<int:order_id>/reports/<int:report_id>/photos/<int:position>/<variant>")
@api_auth_required()
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
@blp.alt_response(404, response="NOT_FOUND", description="照片不存在")
def report_photo(order_id, report_id, position, variant):
    """A report's photo as a re-encoded JPEG without EXIF or GPS: `thumbnail` or `public`."""
    order = service.find_order(order_id, _user())
    evidence, path = reports.report_photo_file(reports.find_report(order, report_id), position, variant)
    return send_file(path, mimetype="image/jpeg", etag=f"{evidence.sha256}-{variant}", conditional=True,
                     download_name=f"{evidence.sha256}-{variant}.jpg")
