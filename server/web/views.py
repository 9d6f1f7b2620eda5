"""Pages: the landing page of each role."""

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from ..extensions import db
from ..models import ROLES, Department, VenueCategory
from .inspections import dashboard_context

# Not /static: Flask's own app-level static route claims that path first (even without a folder).
bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets")

HOME_TEMPLATES = {role: f"home/{role}.html" for role in ROLES}


@bp.get("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("web_auth.login"))
    user = current_user
    categories = []
    if user.role == "department" and user.department is not None:
        categories = _categories_of(user.department_id)
    extra = dashboard_context(user) if user.role == "office" else {}
    return render_template(HOME_TEMPLATES[user.role], user=user, categories=categories, **extra)


def _categories_of(department_id: int) -> list[str]:
    """Names of the venue categories a department is responsible for (shown on its landing page)."""
    query = (db.select(VenueCategory.name).join(VenueCategory.departments)
             .where(Department.id == department_id).order_by(VenueCategory.sort_order, VenueCategory.id))
    return list(db.session.scalars(query))
