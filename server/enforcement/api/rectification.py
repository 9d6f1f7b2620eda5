"""Rectification orders (责令限期整改): issue, list (overdue for the office), read, withdraw.

The rules are in `server.enforcement.rectification` and `rectification_issuing`; the views parse,
call the services and dump.
"""

import marshmallow as ma
from flask_login import current_user
from flask_smorest import Blueprint

from ...access import api_auth_required, authorize
from .. import rectification as service
from .. import rectification_issuing as issuing
from .. import reinspection  # noqa: F401  (connects the receiver that decides orders on their re-inspection)
from ..schemas.rectification import OrderCreateSchema, OrderListArgsSchema, OrderSchema, WithdrawRequestSchema

blp = Blueprint("rectification", __name__, url_prefix="/api/v1", description="责令限期整改与复查")


def _user():
    return current_user._get_current_object()


@blp.post("/rectification-orders")
@api_auth_required()
@blp.arguments(OrderCreateSchema)
@blp.response(201, OrderSchema)
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
def list_orders(args):
    """List rectification orders by deadline, filtered by state, overdue, county or case."""
    user = _user()
    orders = service.list_orders(user, state=args.get("state"), overdue=args.get("overdue"),
                                 county=args.get("county"), case_id=args.get("case_id"))
    return [service.detail(order, user) for order in orders]


@blp.get("/rectification-orders/<int:order_id>")
@api_auth_required()
@blp.response(200, OrderSchema)
@blp.alt_response(404, response="NOT_FOUND", description="整改通知不存在")
def get_order(order_id):
    """One rectification order with its violations, re-inspection state and result."""
    user = _user()
    return service.detail(service.find_order(order_id, user), user)


@blp.post("/rectification-orders/<int:order_id>/withdraw")
@api_auth_required()
@blp.arguments(WithdrawRequestSchema)
@blp.response(200, OrderSchema)
@blp.alt_response(404, response="NOT_FOUND", description="整改通知不存在")
@blp.alt_response(409, response="CONFLICT", description="整改通知已有结果，或复查已提交")
def withdraw(data, order_id):
    """Withdraw an order not yet decided, with a reason; a pending re-inspection is cancelled (office)."""
    user = _user()
    order = issuing.withdraw_order(service.find_order(order_id, user, "act"), reason=data["reason"], actor=user,
                                   channel="api")
    return service.detail(order, user)
