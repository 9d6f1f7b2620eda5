"""The forms of the draw pages: scope and window of a new draw, the reason for cancelling one
(each form carries a CSRF token)."""

from wtforms import (
    BooleanField,
    DateTimeLocalField,
    IntegerField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ...web.chinese_form import ChineseForm


class DrawForm(ChineseForm):
    """Scope and window of a new draw (抽查)."""

    counties = SelectMultipleField("县（市、区）", coerce=str, widget=ListWidget(prefix_label=False),
                                   option_widget=CheckboxInput(),
                                   validators=[DataRequired(message="请至少选择一个县（市、区）。")])
    categories = SelectMultipleField("场所类别", coerce=str, widget=ListWidget(prefix_label=False),
                                     option_widget=CheckboxInput(),
                                     validators=[DataRequired(message="请至少选择一个场所类别。")])
    sample_size = IntegerField("抽取场所数", validators=[
        InputRequired(message="请输入抽取场所数。"),
        NumberRange(min=1, max=5000, message="抽取场所数应在 1 到 5000 之间。"),
    ])
    window_start = DateTimeLocalField("时间窗口开始", format="%Y-%m-%dT%H:%M",
                                      validators=[DataRequired(message="请填写开始时间。")])
    window_end = DateTimeLocalField("时间窗口结束", format="%Y-%m-%dT%H:%M",
                                    validators=[DataRequired(message="请填写结束时间。")])
    team_size = IntegerField("每组人数", default=2, validators=[
        InputRequired(message="请输入每组人数。"),
        NumberRange(min=2, max=10, message="每组人数应在 2 到 10 之间。"),
    ])
    may_propose_penalties = BooleanField("督查组可提出处罚建议（每组至少一名持执法证人员）", default=True)
    meeting_point = StringField("集合地点", validators=[
        Optional(), Length(max=256, message="集合地点不超过 256 个字符。"),
    ])

    def validate_window_end(self, field):
        if self.window_start.data and field.data and field.data <= self.window_start.data:
            raise ValidationError("结束时间应晚于开始时间。")


class CancelDrawForm(ChineseForm):
    """Cancelling a draw: the reason, in words, and an explicit confirmation."""

    reason = TextAreaField("取消理由", validators=[
        DataRequired(message="请写明取消的理由。"), Length(max=500, message="取消理由不超过 500 个字。"),
    ])
    confirm = BooleanField("确认取消：种子将公开，未完成的任务一并取消，取消记录对纪检监察人员可见",
                           validators=[DataRequired(message="请勾选确认后再提交。")])
