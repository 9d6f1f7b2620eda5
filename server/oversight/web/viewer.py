"""Pages for department and county viewers: the violations of their sector or territory (with
filters, sorting and pages), one violation's page with its photos (re-encoded variants only), and
the rectification orders that concern them (整改跟踪), each linking to the order's page where
they report it put right. What is in scope is decided by server/oversight/viewer.py, which takes
it from the statistics module; the filters offer only what is in scope."""

from __future__ import annotations

from flask import Blueprint, render_template, request, send_file
from wtforms import DateField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from ...access import web_role_required
from ...columns import china_today
from ...errors import Problem
from ...pagination import signed_sort
from ...web.chinese_form import ChineseForm
from ...web.forms import check_period
from ...web.navigation import add_nav_item
from ...web.query_args import page_number, sort_links
from ...web.signed_in import signed_in_user
from .. import viewer as service
from ..statistics import MAX_PERIOD_DAYS

bp = Blueprint("web_viewer", __name__, template_folder="templates")

add_nav_item("督查发现", "web_viewer.list_findings", service.VIEWER_ROLES)
add_nav_item("整改跟踪", "web_viewer.list_orders", service.VIEWER_ROLES)


def _int_or_none(value):
    return int(value) if value not in (None, "") and str(value).isdigit() and int(value) < 2**31 else None


def _choices(labels: dict) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


class FindingsFilterForm(ChineseForm):
    """Filters in the query string: no CSRF (a GET changes nothing), errors next to the fields."""

    class Meta:
        csrf = False

    date_from = DateField("日期自", validators=[Optional()])
    date_to = DateField("至", validators=[Optional()])
    county_id = SelectField("属地", coerce=_int_or_none, validators=[Optional()])
    category_id = SelectField("场所类别", coerce=_int_or_none, validators=[Optional()])
    handling = SelectField("处理情况", choices=_choices({"": "全部", **service.HANDLING_LABELS}),
                           validators=[Optional()])
    # As every list sorts: "-key" descending, "key" ascending.
    sort = SelectField("排序", choices=_choices({f"{sign}{key}": f"{label}（{'降序' if sign else '升序'}）"
                                                 for key, label in service.SORTS.items() for sign in ("-", "")}),
                       validators=[Optional()])

    def validate_date_to(self, field):
        check_period(self.date_from.data, field.data, MAX_PERIOD_DAYS)


class OrdersFilterForm(ChineseForm):
    class Meta:
        csrf = False

    county_id = SelectField("属地", coerce=_int_or_none, validators=[Optional()])
    category_id = SelectField("场所类别", coerce=_int_or_none, validators=[Optional()])
    state = SelectField("状态", choices=_choices({"": "全部", **service.ORDER_STATE_FILTERS}), validators=[Optional()])


def filter_form(user, form_class=None):
    """The filter form with only the counties and categories within the viewer's scope: a value
    outside them (typed into the address) is "不是可选的值" next to its field."""
    form = (form_class or FindingsFilterForm)(request.args)
    choices = service.filter_choices(user)
    form.county_id.choices = _choices({None: "全部", **{c.id: c.name for c in choices["counties"]}})
    form.category_id.choices = _choices({None: "全部", **{c.id: c.name for c in choices["categories"]}})
    return form


@bp.get("/findings")
@web_role_required(*service.VIEWER_ROLES)
def list_findings():
    user = signed_in_user()
    form = filter_form(user)
    default_from, default_to = service.default_period(china_today())
    page = None
    sort, descending = signed_sort(form.sort.data, service.SORTS, "-date", {})
    if form.validate():
        page = service.list_violations(
            user, date_from=form.date_from.data or default_from, date_to=form.date_to.data or default_to,
            county_id=form.county_id.data, category_id=form.category_id.data, handling=form.handling.data or None,
            sort=sort, descending=descending, page=page_number())
    status = 200 if page is not None else 422
    return render_template("viewer/findings.html", form=form, page=page, scope=service.scope_label(user),
                           default_from=default_from, default_to=default_to,
                           sort_links=sort_links("web_viewer.list_findings", service.SORTS, sort, descending)), status


@bp.get("/findings/<int:violation_id>")
@web_role_required(*service.VIEWER_ROLES)
def show_finding(violation_id):
    user = signed_in_user()
    violation = service.find_violation(violation_id, user)
    return render_template("viewer/finding.html", finding=service.violation_detail(violation, user),
                           scope=service.scope_label(user))


@bp.get("/findings/<int:violation_id>/photos/<int:photo_id>/<variant>")
@web_role_required(*service.VIEWER_ROLES)
def finding_photo(violation_id, photo_id, variant):
    """A photo of a finding in the viewer's scope, re-encoded without EXIF or GPS."""
    violation = service.find_violation(violation_id, signed_in_user())
    evidence, path = service.finding_photo_file(violation, photo_id, variant)
    return send_file(path, mimetype="image/jpeg", etag=f"{evidence.sha256}-{variant}", conditional=True,
                     download_name=f"{evidence.sha256}-{variant}.jpg")


@bp.get("/rectification-tracking")
@web_role_required(*service.VIEWER_ROLES)
def list_orders():
    """The rectification orders that concern the viewer, filtered within its scope."""
    user = signed_in_user()
    form = filter_form(user, OrdersFilterForm)
    today = china_today()
    orders = None
    if form.validate():
        try:
            orders = service.list_orders(user, county_id=form.county_id.data, category_id=form.category_id.data,
                                         state=form.state.data or None, today=today)
        except Problem as exc:  # a value outside the scope: next to its field
            for name, messages in (exc.errors or {}).items():
                getattr(form, name).errors = [*getattr(form, name).errors, *messages]
    labels = {order.id: service.rectification.shown_state(order, user, today)[1] for order in orders or []}
    overdue = {order.id for order in orders or [] if service.rectification.shown_overdue(order, user, today)}
    return render_template("viewer/orders.html", form=form, orders=orders, labels=labels, overdue=overdue,
                           scope=service.scope_label(user)), 200 if orders is not None else 422
