"""Forms of opening a case (立案) and of declining violations (不予立案), the labels of the
violations offered, and where the service's refusals appear on the form."""

from __future__ import annotations

import sqlalchemy as sa
from wtforms import BooleanField, HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from ...columns import local_text
from ...extensions import db
from ...field.models.inspection import Inspection, Violation
from ...registry import credit_code
from ...registry.models.reference import CIRCUMSTANCE_LABELS, PARTY_KIND_LABELS, Rule
from ...registry.models.venue import Venue
from ...web.chinese_form import ChineseForm


def _choices(labels: dict) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


def _violations_field(label: str) -> SelectMultipleField:
    return SelectMultipleField(label, coerce=int, widget=ListWidget(prefix_label=False),
                               option_widget=CheckboxInput(),
                               validators=[DataRequired(message="请至少选择一条违规问题。")])


def valid_credit_code(form, field) -> None:
    """GB 32100-2015, check character included; a code typed in lower case is kept in capitals."""
    if field.data and field.data.strip():
        try:
            field.data = credit_code.normalise(field.data)
        except credit_code.CreditCodeError as exc:
            raise ValidationError(str(exc)) from None


class OpenCaseForm(ChineseForm):
    """立案 against one venue: its violations, the party, the circumstance and the two officers."""

    # The venue the case is opened against: the violations offered are its own, also after an error.
    venue_id = HiddenField()
    violation_ids = _violations_field("违规问题")
    party_kind = SelectField("当事人类型", choices=_choices(PARTY_KIND_LABELS))
    party_name = StringField("姓名（个人）", validators=[Optional(), Length(max=64)])
    party_id_number = StringField("身份证号码（个人）", validators=[Optional(), Length(max=32)])
    party_unit_name = StringField("单位名称", validators=[Optional(), Length(max=128)])
    party_credit_code = StringField("统一社会信用代码", validators=[Optional(), valid_credit_code])
    party_legal_representative = StringField("法定代表人", validators=[Optional(), Length(max=64)])
    party_address = StringField("地址", validators=[Optional(), Length(max=256)])
    # Shown once the address names another county than the venue's (see case_opening.other_county_named).
    party_address_confirmed = BooleanField("已核实：当事人地址确在本案属地以外")
    party_phone = StringField("联系电话", validators=[Optional(), Length(max=32)])
    circumstance = SelectField("违法情节", choices=_choices(CIRCUMSTANCE_LABELS))
    officer1 = SelectField("承办人一", coerce=int)
    officer2 = SelectField("承办人二", coerce=int)
    facts = TextAreaField("违法事实（已按检查记录拟写，可修改；留空或不修改则立案时按所填当事人重新拟写）",
                          validators=[Optional(), Length(max=5000)])
    # The text the page proposed: submitted unchanged it is composed again at 立案, so that it names
    # the party entered on the form and the violations finally ticked.
    facts_proposed = HiddenField()

    def venue_ident(self) -> int | None:
        value = (self.venue_id.data or "").strip()
        return int(value) if value.isdigit() and int(value) < 2**31 else None

    def propose_party(self, party: dict) -> None:
        """Fill the party's fields from a proposal (the venue's unit), for the officer to check."""
        self.party_kind.data = party["kind"]
        for name in self.PARTY_FIELDS:
            getattr(self, f"party_{name}").data = party.get(name) or ""

    PARTY_FIELDS = ("name", "id_number", "unit_name", "credit_code", "legal_representative", "address", "phone")

    def party(self) -> dict:
        party = {"kind": self.party_kind.data}
        for name in self.PARTY_FIELDS:
            value = getattr(self, f"party_{name}").data
            if value and value.strip():
                party[name] = value.strip()
        return party

    def officer_facts(self) -> str | None:
        """The facts the officer wrote, or None when they left the proposed text as it was."""
        def normal(text):
            return "\n".join(line.strip() for line in (text or "").strip().splitlines())

        written = normal(self.facts.data)
        return None if not written or written == normal(self.facts_proposed.data) else self.facts.data


class DeclineForm(ChineseForm):
    """不予立案 for the selected violations, with a reason."""

    violation_ids = _violations_field("违规问题")
    reason = TextAreaField("不予立案的理由", validators=[DataRequired(message="请填写理由。"), Length(max=1000)])


def violation_choices(violations: list[Violation]) -> list[SelectChoice]:
    """The violations as the officer knows them: venue, time of the inspection (Beijing) and the
    rule's title, then what was found."""
    venues = dict(db.session.execute(sa.select(Venue.id, Venue.name).where(
        Venue.id.in_({v.venue_id for v in violations}))).all())
    checked_in = dict(db.session.execute(sa.select(Inspection.id, Inspection.checked_in_at).where(
        Inspection.id.in_({v.inspection_id for v in violations}))).all())
    titles = dict(db.session.execute(sa.select(Rule.code, Rule.title).where(
        Rule.code.in_({v.rule_code for v in violations}))).all())
    return [SelectChoice(v.id, f"{venues.get(v.venue_id, '')}，{local_text(checked_in.get(v.inspection_id))} 检查"
                               f"{'，' + titles[v.rule_code] if v.rule_code in titles else ''}：{v.description}")
            for v in violations]


# What the service calls the form's fields (the keys of a refusal's `errors`), and the label
# of those the form shows nowhere.
SERVICE_FIELDS = {"officers": "officer2", "violation_ids": "violation_ids", "circumstance": "circumstance",
                  "facts": "facts", **{f"party.{name}": f"party_{name}" for name in (*OpenCaseForm.PARTY_FIELDS, "kind")}}
OTHER_LABELS = {"evidence_summary": "证据", "party": "当事人"}


def show_refusal(form: OpenCaseForm, errors: dict | None) -> dict:
    """Put the service's field messages next to the form's fields (one that already shows a
    message keeps it), a bare “必填。” worded with the field's label; returns the others keyed by
    a Chinese label."""
    leftover = {}
    for name, messages in (errors or {}).items():
        messages = messages if isinstance(messages, list) else [str(messages)]
        field = form._fields.get(SERVICE_FIELDS.get(name, ""))
        if field is None:
            leftover[OTHER_LABELS.get(name.split(".")[0], "其他")] = messages
            continue
        if field.errors:
            continue  # the form's own message about this field says enough
        label = field.label.text.split("（")[0]
        field.errors = [*field.errors, *(f"请填写{label}。" if message == "必填。" else message
                                         for message in map(str, messages))]
    return leftover
