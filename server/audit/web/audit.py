"""The audit log for auditors and administrators: the events (filtered, sorted, paginated), one
event with the exact text its hash covers, and the chain verification behind `anfang audit verify`."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user
from wtforms import DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from ...access import policy_for, web_role_required
from ...web.chinese_form import ChineseForm
from ...web.forms import check_period
from ...web.navigation import add_nav_item
from ...web.query_args import page_number
from .. import chain as service
from .. import labels
from ..models.audit import AuditEvent

bp = Blueprint("web_audit", __name__, url_prefix="/audit", template_folder="templates")


def _readers() -> tuple[str, ...]:
    return tuple(policy_for(AuditEvent).grants["read"])


READERS = _readers()
ALL = SelectChoice("", "全部")
add_nav_item("审计日志", "web_audit.list_events", READERS)


@bp.context_processor
def audit_labels() -> dict:
    """The Chinese for the log's codes, for every page of this blueprint (checkpoints too)."""
    return {"action_label": labels.action_label, "object_label": labels.object_label,
            "actor_label": labels.actor_label}


class EventFilterForm(ChineseForm):
    """The list's filters, read from the query string (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    action = SelectField("操作", validate_choice=False)
    actor = StringField("操作者（用户名或“系统”）",
                        validators=[Optional(), Length(max=64, message="不超过 64 个字符。")])
    object_type = SelectField("对象类型", validate_choice=False)
    date_from = DateField("开始日期", validators=[Optional()])
    date_to = DateField("结束日期", validators=[Optional()])
    sort = SelectField("排序", choices=[SelectChoice(key, label) for key, label in service.EVENT_SORT_LABELS.items()],
                       default="-seq")

    def validate_date_to(self, field):
        check_period(self.date_from.data, field.data)


@bp.get("")
@web_role_required(*READERS)
def list_events():
    form = EventFilterForm(request.args)
    choices = service.event_filter_choices()
    # In code order, which keeps each domain's actions together.
    form.action.choices = [ALL] + [SelectChoice(action, labels.action_label(action)) for action in choices["actions"]]
    form.object_type.choices = [ALL] + [SelectChoice(kind, labels.object_type_label(kind))
                                        for kind in choices["object_types"]]
    page = None
    if form.validate():
        page = service.list_events(current_user, action=form.action.data or None,
                                   actor=labels.actor_filter_value(form.actor.data),
                                   object_type=form.object_type.data or None, date_from=form.date_from.data,
                                   date_to=form.date_to.data, sort=form.sort.data, page=page_number())
    return render_template("audit/list.html", form=form, page=page,
                           channels=service.CHANNEL_LABELS), 200 if page is not None else 422


@bp.get("/<int:seq>")
@web_role_required(*READERS)
def show_event(seq: int):
    event = service.find_event(seq, current_user)
    computed = service.event_hash(event)
    return render_template("audit/event.html", event=event, canonical=service.event_canonical_text(event),
                           computed=computed, channels=service.CHANNEL_LABELS,
                           has_next=event.seq < service.last_seq())


@bp.get("/verification")
@web_role_required(*READERS)
def verification():
    """Walks the whole chain (read-only) each time it is opened, like `anfang audit verify`."""
    return render_template("audit/verification.html", report=service.verify_chain())


# The checkpoint pages share this blueprint; importing them registers their routes on it.
from . import checkpoints  # noqa: F401
