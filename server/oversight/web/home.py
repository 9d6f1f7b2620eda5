"""The landing page of each role — its headline numbers with their last seven days first — and the
office's dashboard of dispatches, progress, overdue orders and teams out of touch (the office lands
on it; admins reach it from the bar)."""

from flask import redirect, render_template, url_for
from flask_login import current_user

from ...access import web_role_required
from ...columns import china_today
from ...draws import assignment_reading
from ...draws import assignments as assignment_service
from ...draws.seeding import awaiting_contribution
from ...pdf.charts import trend_strip
from ...roles import ROLES
from ...web.navigation import add_nav_item
from ...web.signed_in import signed_in_user
from ...web.site import bp
from .. import dashboard as dashboard_service
from .. import headlines as headline_service
from .. import statistics
from .. import viewer as viewer_service

DASHBOARD_ROLES = ("office", "admin")

add_nav_item("督查进度", "web.dashboard", ("admin",))

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
    elif user.role == "auditor":
        extra = {"awaiting": awaiting_contribution(user)}
    elif user.role == "inspector":
        extra = {"assignments": assignment_reading.open_team_assignments(user),
                 "status_labels": assignment_service.STATUS_LABELS}
    return render_template(HOME_TEMPLATES[user.role], user=user, headlines=headline_service.headlines(user),
                           headline_days=headline_service.TREND_DAYS, **extra)


@bp.app_template_filter("trend_strip")
def trend_strip_filter(days, unit: str = ""):
    """A headline's last days as the small bar strip (server.pdf.charts, as the reports draw)."""
    return trend_strip(days, unit=unit)


def dashboard_context(user) -> dict:
    """What the office's landing page shows (also on /dashboard)."""
    return {"dashboard": dashboard_service.office_dashboard(user)}


@bp.get("/dashboard")
@web_role_required(*DASHBOARD_ROLES)
def dashboard():
    return render_template("home/dashboard.html", **dashboard_context(signed_in_user()))


def _viewer_overview(user) -> dict:
    """A department's or county's landing page: the last days' summary (counted by the statistics
    module), the newest findings and the rectification orders to follow up."""
    today = china_today()
    date_from, date_to = viewer_service.default_period(today)
    return {
        "days": viewer_service.DEFAULT_DAYS, "date_from": date_from, "date_to": date_to,
        "summary": statistics.summary(date_from=date_from, date_to=date_to, user=user),
        "recent": viewer_service.list_violations(user, date_from=date_from, date_to=date_to,
                                                 per_page=RECENT_FINDINGS),
        "rectification": viewer_service.rectification_overview(user, today),
        "statistics_url": url_for("web_statistics.page", **{"from": date_from.isoformat(), "to": date_to.isoformat()}),
    }
