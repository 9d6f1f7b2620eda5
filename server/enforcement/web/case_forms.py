"""Forms of the case pages: one form per case transition (opening and declining: open_case_form.py)."""

from __future__ import annotations

from flask import has_request_context
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

from ...columns import china_today
from ...web.chinese_form import ChineseForm
from ..case_transitions import day_text
from ..cases import OUTCOME_LABELS, SERVICE_METHOD_LABELS
from ..discretion import PRINT_ORDER, describe_benchmark, describe_combination
from ..legal_bases import legal_bases_in_force
from ..models.case import EnforcementCase


def _choices(labels: dict) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


def _penalty_fields(prefix_label: str) -> dict:
    # The choices depend on the case (its act date, circumstance and party): `fill_penalty_choices`.
    return {
        "basis_code": SelectField("法律依据", choices=[], validators=[DataRequired(message="请选择法律依据。")]),
        "penalty_types": SelectField(f"{prefix_label}种类", choices=[],
                                     validators=[DataRequired(message="请选择处罚种类。")]),
        "fine_amount": IntegerField("罚款金额（元）", validators=[Optional(), NumberRange(min=1, message="须为正整数。")]),
        "detention_days": IntegerField("行政拘留日数", validators=[Optional(), NumberRange(min=1, message="须为正整数。")]),
    }


# A combination as a select's value: its types joined in the order a case records them.
COMBINATION_SEPARATOR = "+"


def combination_value(types) -> str:
    return COMBINATION_SEPARATOR.join(t for t in PRINT_ORDER if t in types)


def _short_law(law: str) -> str:
    return law.removeprefix("中华人民共和国")


def penalty_choices(case: EnforcementCase) -> tuple[list[SelectChoice], list[SelectChoice]]:
    """The legal bases in force on the case's act date, each labelled with the range its
    benchmark allows for the case's circumstance and party, and the combinations those benchmarks allow."""
    on = case.act_date
    bases, combinations = [], {}
    for basis in legal_bases_in_force(on):
        if not basis.penalty_types:
            continue
        benchmarks = [b for b in basis.benchmarks if b.in_force(on)
                      and (b.circumstance, b.party_kind) == (case.circumstance, case.party_kind)]
        allowed = describe_benchmark(benchmarks[0]) if benchmarks else "本案情形没有裁量基准"
        bases.append(SelectChoice(basis.code, f"《{_short_law(basis.law)}》{basis.article}（{allowed}）"))
        for benchmark in benchmarks:
            for combination in benchmark.combinations:
                combinations.setdefault(combination_value(combination), describe_combination(combination))
    return bases, [SelectChoice(value, label) for value, label in combinations.items()]


def fill_penalty_choices(form: ChineseForm, to_state: str, case: EnforcementCase) -> None:
    bases, combinations = penalty_choices(case)
    form.basis_code.choices = [SelectChoice("", "请选择"), *bases]
    form.penalty_types.choices = [SelectChoice("", "请选择"), *combinations]
    if to_state == "decided" and case.proposed_penalty_types \
            and not (has_request_context() and form.is_submitted()):
        # The decision starts from what was notified (it may only be the same or lighter).
        form.basis_code.data = form.basis_code.data or case.proposed_basis_code
        form.penalty_types.data = form.penalty_types.data or combination_value(case.proposed_penalty_types)
        form.fine_amount.data = form.fine_amount.data or case.proposed_amount
        form.detention_days.data = form.detention_days.data or case.proposed_detention_days


def not_after_today(form, field) -> None:
    """A procedure date is entered when the step is taken: never a day after today (金华)."""
    if field.data is not None and field.data > china_today():
        raise ValidationError(f"{field.label.text.split('（')[0]}{day_text(field.data)}晚于今天"
                              f"（{day_text(china_today())}）；不能填写将来的日期。")


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


def transition_form(to_state: str, case: EnforcementCase, **kwargs) -> ChineseForm:
    """The form of one transition; a penalty's choices are the case's."""
    # The prefix keeps field ids unique with several forms on one page.
    form = transition_form_class(to_state)(prefix=to_state, **kwargs)
    if "basis_code" in form._fields:
        fill_penalty_choices(form, to_state, case)
    return form


# Where the service's field names (problem `errors` keys) appear on a transition form.
SERVICE_FIELD_NAMES = {"proposed_penalty.types": "penalty_types", "decided_penalty.types": "penalty_types",
                       "proposed_penalty.fine_amount": "fine_amount", "decided_penalty.fine_amount": "fine_amount",
                       "proposed_penalty.detention_days": "detention_days",
                       "decided_penalty.detention_days": "detention_days",
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
    if "penalty_types" in values:
        combination = values.pop("penalty_types") or ""
        penalty = {"types": [t for t in combination.split(COMBINATION_SEPARATOR) if t],
                   "fine_amount": values.pop("fine_amount"), "detention_days": values.pop("detention_days"),
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
