"""Forms of the material library and bulletin pages (each carries a CSRF token)."""

from __future__ import annotations

import json

from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ...errors import Invalid
from ...web.chinese_form import ChineseForm
from ..redaction import normalise_boxes


def _choices(labels: dict) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in labels.items()]


def parse_boxes(text: str) -> list:
    """The plain fallback: one box per line as `x, y, 宽, 高` (0–1), or the editor's JSON."""
    text = (text or "").strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            return json.loads(text)
        except ValueError:
            raise ValidationError("遮挡框数据格式不正确。") from None
    boxes = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.replace("，", ",").split(",")]
        try:
            boxes.append([float(part) for part in parts])
        except ValueError:
            raise ValidationError(f"第 {n} 行须为“x, y, 宽, 高”四个 0–1 之间的数。") from None
    return boxes


class BoxesForm(ChineseForm):
    boxes = TextAreaField("遮挡框（每行一个：x, y, 宽, 高，均为 0–1 的相对坐标）",
                          validators=[Length(max=5000, message="内容过长。")])

    def validate_boxes(self, field):
        # The service's own check, so that a box outside the image is reported next to the field.
        try:
            self.parsed = normalise_boxes(parse_boxes(field.data))
        except Invalid as exc:
            raise ValidationError("；".join(m for ms in (exc.errors or {}).values() for m in ms) or exc.detail) from None


class ReviewForm(ChineseForm):
    decision = SelectField("审核结论", choices=_choices({"approved": "采用", "rejected": "不采用"}),
                           validators=[DataRequired(message="请选择审核结论。")])


class VenueDisplayForm(ChineseForm):
    venue_display = SelectField("场所名称", choices=_choices({"mask": "隐去（显示为“某+类别”）", "show": "显示"}),
                                validators=[DataRequired(message="请选择。")])


class BulletinForm(ChineseForm):
    title = StringField("标题", validators=[DataRequired(message="请输入标题。"), Length(max=200)])
    period_start = DateField("统计期间自", validators=[InputRequired(message="请输入开始日期。")])
    period_end = DateField("至", validators=[InputRequired(message="请输入结束日期。")])
    editorial = TextAreaField("编者按与正文（每段一行）", validators=[Length(max=20000)])
    item_ids = SelectMultipleField("选用的典型材料（仅限已采用的）", coerce=int, widget=ListWidget(prefix_label=False),
                                   option_widget=CheckboxInput(), validators=[Optional()])
    version = HiddenField()


class BulletinTextForm(ChineseForm):
    """The issue's own text: title, period and the lead paragraphs (编者按)."""

    title = StringField("标题", validators=[DataRequired(message="请输入标题。"),
                                          Length(max=200, message="标题不超过 200 个字符。")])
    period_start = DateField("统计期间自", validators=[InputRequired(message="请输入开始日期。")])
    period_end = DateField("至", validators=[InputRequired(message="请输入结束日期。")])
    editorial = TextAreaField("导语（编者按，每段一行）", validators=[Length(max=20000, message="内容过长。")])
    version = HiddenField()

    def validate_period_end(self, field):
        if self.period_start.data and field.data and field.data < self.period_start.data:
            raise ValidationError("结束日期不能早于开始日期。")


class AddItemForm(ChineseForm):
    item_id = SelectField("从已采用的典型材料中加入", coerce=int,
                          validators=[DataRequired(message="请选择要加入的材料。")])
    version = HiddenField()


class EntryWordingForm(ChineseForm):
    """One item's wording in this issue; blank fields print the library's wording."""

    heading = StringField("本期标题", validators=[Length(max=200, message="标题不超过 200 个字符。")])
    text = TextAreaField("本期正文（每段一行）", validators=[Length(max=20000, message="内容过长。")])
    version = HiddenField()


class EntryMoveForm(ChineseForm):
    """Up, down or out: the CSRF token and the version the page showed."""

    version = HiddenField()


class ActionForm(ChineseForm):
    action = SelectField("操作", choices=_choices({"submit": "提交审核", "approve": "审核通过", "return": "退回修改"}),
                         validators=[DataRequired(message="请选择操作。")])
    confirm = BooleanField("确认审核通过：通过后可以发布，发布即分配期号")

    def validate_confirm(self, field):
        if self.action.data == "approve" and not field.data:
            raise ValidationError("审核通过前须勾选确认。")


class PublishForm(ChineseForm):
    confirm = BooleanField("确认发布：发布后期号、内容和 PDF 均不可更改",
                           validators=[DataRequired(message="发布前须勾选确认。")])

