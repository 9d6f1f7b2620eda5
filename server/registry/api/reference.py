"""Reference data read API: counties, departments, roster, duties, categories, rules.

Read-only: the rows come from the reference files (`anfang reference load`). The views only
select and dump; access control is added per blueprint by the auth layer, not here.
"""

from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ...errors import NotFound
from ...extensions import db
from ..loader import rules_bundle_for_category
from ..models.reference import County, Department, Duty, RosterMember, Rule, VenueCategory
from ..schemas.reference_api import (
    CategorySchema,
    CountySchema,
    DepartmentSchema,
    DutySchema,
    RosterMemberSchema,
    RuleBundleSchema,
    RuleSchema,
)

blp = Blueprint("reference", __name__, url_prefix="/api/v1/reference", description="参考数据（只读）")


@blp.get("/counties")
@blp.response(200, CountySchema(many=True))
def list_counties():
    """List the counties and the functional zone of 金华.

    In display order: 婺城区 … 磐安县, then 金华开发区.
    """
    return db.session.scalars(select(County).order_by(County.sort_order, County.code)).all()


@blp.get("/departments")
@blp.response(200, DepartmentSchema(many=True))
def list_departments():
    """List the municipal departments and units named in the document."""
    return db.session.scalars(select(Department).order_by(Department.sort_order, Department.code)).all()


@blp.get("/roster")
@blp.response(200, RosterMemberSchema(many=True))
def list_roster():
    """List the leading group (二、组织分工) with titles, departments and office roles."""
    query = select(RosterMember).options(selectinload(RosterMember.department))
    return db.session.scalars(query.order_by(RosterMember.sort_order, RosterMember.id)).all()


@blp.get("/duties")
@blp.response(200, DutySchema(many=True))
def list_duties():
    """List the duty entries of 四、职责分工 in document order."""
    return db.session.scalars(select(Duty).options(selectinload(Duty.department)).order_by(Duty.seq)).all()


@blp.get("/categories")
@blp.response(200, CategorySchema(many=True))
def list_categories():
    """List venue categories with their responsible departments and rule codes."""
    query = select(VenueCategory).options(selectinload(VenueCategory.departments),
                                          selectinload(VenueCategory.rules))
    return db.session.scalars(query.order_by(VenueCategory.sort_order, VenueCategory.code)).all()


@blp.get("/categories/<string:code>/rules")
@blp.response(200, RuleBundleSchema(many=True))
@blp.alt_response(404, description="没有该代码的场所类别")
def category_rules(code: str):
    """Get the rule bundle of a venue category: the items to record and the checks to evaluate.

    The same data the server evaluates; the field client evaluates it offline with `rulecheck`.
    """
    return rules_bundle_for_category(code)


def _rules_query():
    return select(Rule).options(selectinload(Rule.categories), selectinload(Rule.items),
                                selectinload(Rule.checks))


@blp.get("/rules")
@blp.response(200, RuleSchema(many=True))
def list_rules():
    """List the rules K1–K11 with their checklist items and checks."""
    return db.session.scalars(_rules_query().order_by(Rule.sort_order, Rule.code)).all()


@blp.get("/rules/<string:code>")
@blp.response(200, RuleSchema)
@blp.alt_response(404, description="没有该代码的规则")
def get_rule(code: str):
    """Get one rule with its checklist items and checks."""
    rule = db.session.scalar(_rules_query().where(Rule.code == code))
    if rule is None:
        raise NotFound(f"没有代码为 {code} 的规则。")
    return rule
