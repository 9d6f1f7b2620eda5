"""Accountability cases (倒查责任): create for a period and scope, review, issue the numbered report."""

from flask_login import current_user
from flask_smorest import Blueprint

from ...access import api_auth_required
from ...accounts.models.user import User
from ...enforcement.documents import take_write_lock
from ...extensions import db
from .. import accountability_cases as service
from ..schemas.accountability import AccountabilityCaseSchema, AccountabilityCreateSchema, AccountabilityReviewSchema

blp = Blueprint("accountability", __name__, url_prefix="/api/v1/accountability",
                description="倒查问责：期间内问题按四方责任倒查、审核与印发报告")


def _user():
    return current_user._get_current_object()


def _dump(case):
    summary = service.case_summary(case, _user())
    return {**summary, "date_from": summary.pop("from"), "date_to": summary.pop("to")}


@blp.post("/cases")
@api_auth_required()
@blp.arguments(AccountabilityCreateSchema)
@blp.response(201, AccountabilityCaseSchema)
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
def create(data):
    """Open an accountability case (draft) for a period and optionally one county (office)."""
    case = service.create_case(_user(), date_from=data["date_from"], date_to=data["date_to"],
                               county_code=data.get("county"), channel="api")
    return _dump(case)


@blp.get("/cases/<int:case_id>")
@api_auth_required()
@blp.response(200, AccountabilityCaseSchema)
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
@blp.alt_response(404, response="NOT_FOUND", description="报告不存在")
def get(case_id):
    """One case with its findings: traced now while a draft or reviewed, as stored once issued."""
    return _dump(service.find_case(case_id, _user()))


@blp.post("/cases/<int:case_id>/review")
@api_auth_required()
@blp.arguments(AccountabilityReviewSchema)
@blp.response(200, AccountabilityCaseSchema)
@blp.alt_response(403, response="FORBIDDEN", description="起草人不能审核自己的报告")
@blp.alt_response(404, response="NOT_FOUND", description="报告不存在")
@blp.alt_response(409, response="CONFLICT", description="只有草稿才能审核")
def review(data, case_id):
    """The office has checked the findings (draft → reviewed); not by the one who drafted it."""
    case = service.find_case(case_id, _user(), "manage")
    return _dump(service.review_case(case, _user(), note=data.get("note"), channel="api"))


@blp.post("/cases/<int:case_id>/issue")
@api_auth_required()
@blp.response(200, AccountabilityCaseSchema)
@blp.alt_response(403, response="FORBIDDEN", description="起草人不能印发自己的报告")
@blp.alt_response(404, response="NOT_FOUND", description="报告不存在")
@blp.alt_response(409, response="CONFLICT", description="只有已审核的报告才能印发")
def issue(case_id):
    """Issue the numbered report PDF (reviewed → issued); download it from /api/v1/documents/{id}/pdf.

    Not by the one who drafted the case; the reviewer may issue it.
    """
    user = _user()
    service.find_case(case_id, user, "manage")
    if db.session.get_bind().dialect.name == "sqlite":
        # End the snapshot the bearer lookup opened, then wait for the write lock (take_write_lock).
        user_id = user.id
        db.session.rollback()
        take_write_lock()
        user = db.session.get(User, user_id)
    case = service.find_case(case_id, user, "manage")
    service.issue_case(case, user, channel="api")
    return _dump(case)
