"""Forms of the case pages: one form per case transition (opening and declining: open_case_form.py)."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from ...web.chinese_form import ChineseForm
from ..case_transitions import day_text
from ..cases import OUTCOME_LABELS, PENALTY_LABELS, SERVICE_METHOD_LABELS, today


def _choices(labels: dict) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


def _penalty_fields(prefix_label: str) -> dict:
    return {
        "penalty_type": SelectField(f"{prefix_label}种类", choices=_choices(PENALTY_LABELS)),
        "amount": IntegerField("罚款金额（元）", validators=[Optional(), NumberRange(min=1, message="须为正整数。")]),
        "basis_code": StringField("法律依据代码", validators=[DataRequired(message="请填写法律依据。"),
                                                         Length(max=64)]),
    }


def not_after_today(form, field) -> None:
    """A procedure date is entered when the step is taken: never a day after today (金华)."""
    if field.data is not None and field.data > today():
        raise ValidationError(f"{field.label.text.split('（')[0]}{day_text(field.data)}晚于今天"
                              f"（{day_text(today())}）；不能填写将来的日期。")


def _day(label: str, *, required: str | None = None) -> DateField:
    first = InputRequired(message=required) if required else Optional()
    return DateField(label, validators=[first, not_after_today])


def _confirm() -> BooleanField:
    return BooleanField("我已核对，确认提交", validators=[DataRequired(message="请勾选确认后再提交。")])


# Which fields each transition's form has; every form also has the case version (hidden).
TRANSITION_FIELDS = {
    "investigating": lambda: {"note": TextAreaField("说明", validators=[Optional(), Length(max=2000)])},
    "notified": lambda: {"party_address": StringField("补充当事人地址（住址）", validators=[Optional(), Length(max=256)]),
                         "party_legal_representative": StringField("补充法定代表人（单位）",
                                                                   validators=[Optional(), Length(max=64)]),
                         **_penalty_fields("拟处罚"),
                         "notified_on": _day("告知日期（留空为今天）")},
    "decided": lambda: {**_penalty_fields("处罚"),
                        "decided_on": _day("决定日期（留空为今天）"),
                        "statement_waived": BooleanField("当事人放弃陈述、申辩"),
                        "hearing_requested": BooleanField("当事人要求听证"),
                        "hearing_held_on": _day("听证日期"),
                        "statement_note": TextAreaField("陈述、申辩意见", validators=[Optional(), Length(max=5000)]),
                        "confirm": _confirm()},
    "served": lambda: {"served_on": _day("送达日期", required="请填写送达日期。"),
                       "service_method": SelectField("送达方式", choices=_choices(SERVICE_METHOD_LABELS))},
    "executed": lambda: {"outcome": SelectField("执行结果", choices=_choices(OUTCOME_LABELS)),
                         "paid_amount": IntegerField("缴纳金额（元）", validators=[Optional()]),
                         "paid_on": _day("缴纳日期"),
                         "executed_on": _day("执行日期（留空为今天）")},
    "closed": lambda: {"closed_on": _day("结案日期（留空为今天）"),
                       "note": TextAreaField("说明", validators=[Optional(), Length(max=2000)])},
    "no_penalty": lambda: {"reason": TextAreaField("不予处罚的理由", validators=[
        DataRequired(message="请填写理由。"), Length(max=2000)])},
    "revoked": lambda: {"reason": TextAreaField("撤销的理由", validators=[
        DataRequired(message="请填写理由。"), Length(max=2000)]), "confirm": _confirm()},
}
CONFIRMED_TRANSITIONS = ("decided", "revoked")

_FORM_CLASSES: dict[str, type[ChineseForm]] = {}


def transition_form_class(to_state: str) -> type[ChineseForm]:
    if to_state not in _FORM_CLASSES:
        attributes = {"version": HiddenField(validators=[DataRequired()]), **TRANSITION_FIELDS[to_state]()}
        _FORM_CLASSES[to_state] = type(f"TransitionForm_{to_state}", (ChineseForm,), attributes)
    return _FORM_CLASSES[to_state]


def transition_form(to_state: str, **kwargs) -> ChineseForm:
    # The prefix keeps field ids unique with several forms on one page.
    return transition_form_class(to_state)(prefix=to_state, **kwargs)


# Where the service's field names (problem `errors` keys) appear on a transition form.
SERVICE_FIELD_NAMES = {"proposed_penalty.type": "penalty_type", "decided_penalty.type": "penalty_type",
                       "proposed_penalty.amount": "amount", "decided_penalty.amount": "amount",
                       "proposed_penalty.basis_code": "basis_code", "decided_penalty.basis_code": "basis_code",
                       "party.address": "party_address", "party.legal_representative": "party_legal_representative"}


def show_service_errors(form: ChineseForm, errors: dict | None) -> dict:
    """Put a refusal's field messages next to the form's fields (a date the procedure does not
    allow beside that date); returns those the form has no field for."""
    leftover = {}
    for name, messages in (errors or {}).items():
        field = form._fields.get(SERVICE_FIELD_NAMES.get(name, name))
        if field is None or name in ("csrf_token", "version"):
            leftover[name] = messages
            continue
        field.errors = [*field.errors, *(messages if isinstance(messages, list) else [str(messages)])]
    return leftover


def transition_data(to_state: str, form: ChineseForm) -> dict:
    """The service's keyword arguments from a submitted transition form."""
    values = {name: field.data for name, field in form._fields.items() if name not in ("csrf_token", "confirm")}
    data: dict = {"version": int(values.pop("version"))}
    if "penalty_type" in values:
        penalty = {"type": values.pop("penalty_type"), "amount": values.pop("amount"),
                   "basis_code": (values.pop("basis_code") or "").strip()}
        data["proposed_penalty" if to_state == "notified" else "decided_penalty"] = penalty
    party = {name.removeprefix("party_"): values.pop(name).strip() for name in list(values)
             if name.startswith("party_") and isinstance(values[name], str) and values[name].strip()}
    if party:
        data["party"] = party
    for name, value in values.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        data[name] = value
    return data
