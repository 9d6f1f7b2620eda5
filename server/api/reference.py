"""Reference data read API: counties, departments, categories, rules."""

from flask_smorest import Blueprint

from ..extensions import db
from ..models import County

blp = Blueprint("reference", __name__, url_prefix="/api/v1/reference", description="参考数据")


@blp.get("/counties")
def list_counties():
    """List counties and functional zones."""
    return [{"code": c.code, "name": c.name} for c in db.session.scalars(db.select(County).order_by(County.sort_order))]
