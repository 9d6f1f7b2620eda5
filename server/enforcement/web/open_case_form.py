"""Forms of opening a case (立案) and of declining violations (不予立案)."""

from __future__ import annotations

from wtforms import HiddenField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ...registry.models.reference import CIRCUMSTANCE_LABELS, PARTY_KIND_LABELS
from ...web.chinese_form import ChineseForm


def _choices(labels: dict) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


def _violations_field(label: str) -> SelectMultipleField:
    return SelectMultipleField(label, coerce=int, widget=ListWidget(prefix_label=False),
                               option_widget=CheckboxInput(),
                               validators=[DataRequired(message="请至少选择一条违规问题。")])


class OpenCaseForm(ChineseForm):
    """立案: the violations, the party, the circumstance and the two officers."""

    violation_ids = _violations_field("违规问题")
    party_kind = SelectField("当事人类型", choices=_choices(PARTY_KIND_LABELS))
    party_name = StringField("姓名（个人）", validators=[Optional(), Length(max=64)])
    party_id_number = StringField("身份证号码（个人）", validators=[Optional(), Length(max=32)])
    party_unit_name = StringField("单位名称", validators=[Optional(), Length(max=128)])
    party_credit_code = StringField("统一社会信用代码", validators=[Optional(), Length(max=18)])
    party_legal_representative = StringField("法定代表人", validators=[Optional(), Length(max=64)])
    party_address = StringField("地址", validators=[Optional(), Length(max=256)])
    party_phone = StringField("联系电话", validators=[Optional(), Length(max=32)])
    circumstance = SelectField("违法情节", choices=_choices(CIRCUMSTANCE_LABELS))
    officer1 = SelectField("承办人一", coerce=int)
    officer2 = SelectField("承办人二", coerce=int)
    facts = TextAreaField("违法事实（已按检查记录拟写，可修改；留空或不修改则立案时按所填当事人重新拟写）",
                          validators=[Optional(), Length(max=5000)])
    # The text the page proposed: submitted unchanged it is composed again at 立案, so that it names
    # the party entered on the form and the violations finally ticked.
    facts_proposed = HiddenField()

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
