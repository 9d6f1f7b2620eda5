"""Pages: the landing page of each role."""

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from ..models import ROLES
from ..services import assignments as assignment_service
from ..services import statistics
from ..services import viewer as viewer_service
from ..services.documents import today_in_china
from .inspections import dashboard_context
from .signed_in import signed_in_user

# Not /static: Flask's own app-level static route claims that path first (even without a folder).
bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets")

HOME_TEMPLATES = {role: f"home/{role}.html" for role in ROLES}
RECENT_FINDINGS = 5


@bp.get("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("web_auth.login"))
    user = signed_in_user()
    extra = {}
    if user.role in viewer_service.VIEWER_ROLES:
        extra = {"overview": _viewer_overview(user),
                 "categories": [c.name for c in viewer_service.categories_of(user.department_id)]}
    elif user.role == "office":
        extra = dashboard_context(user)
    elif user.role == "inspector":
        extra = {"assignments": assignment_service.open_team_assignments(user),
                 "status_labels": assignment_service.STATUS_LABELS}
    return render_template(HOME_TEMPLATES[user.role], user=user, **extra)


def _viewer_overview(user) -> dict:
    """A department's or county's landing page: the last days' summary (counted by the statistics
    module), the newest findings and the rectification orders to follow up."""
    today = today_in_china()
    date_from, date_to = viewer_service.default_period(today)
    return {
        "days": viewer_service.DEFAULT_DAYS, "date_from": date_from, "date_to": date_to,
        "summary": statistics.summary(date_from=date_from, date_to=date_to, user=user),
        "recent": viewer_service.list_violations(user, date_from=date_from, date_to=date_to,
                                                 per_page=RECENT_FINDINGS),
        "rectification": viewer_service.rectification_overview(user, today),
        "statistics_url": url_for("web_statistics.page", **{"from": date_from.isoformat(), "to": date_to.isoformat()}),
    }
