"""Forms every domain's pages share: the confirmation of an irreversible action and the period
check (each carries a CSRF token)."""

from wtforms import BooleanField, ValidationError
from wtforms.validators import DataRequired

from .chinese_form import ChineseForm


def check_period(date_from, date_to, max_days: int | None = None) -> None:
    """The end-date check of a form's period (call it from the form's validate_date_to)."""
    if date_from and date_to:
        if date_to < date_from:
            raise ValidationError("结束日期不能早于开始日期。")
        if max_days is not None and (date_to - date_from).days >= max_days:
            raise ValidationError(f"期间至多 {max_days} 天。")


class ConfirmForm(ChineseForm):
    """An irreversible action (dispatch, close): the CSRF token and an explicit confirmation."""

    confirm = BooleanField("我已确认", validators=[DataRequired(message="请勾选确认后再提交。")])
