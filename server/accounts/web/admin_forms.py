"""Forms of the administration pages: users (create, edit, password) and device tokens."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from ...roles import ROLE_LABELS
from ...web.chinese_form import ChineseForm

NO_CHOICE = SelectChoice("", "（无）")


def role_choices() -> list[SelectChoice]:
    return [SelectChoice(code, label) for code, label in ROLE_LABELS.items()]


class UserProfileForm(ChineseForm):
    """What an administrator may change on an account (the role rules are the service's)."""

    display_name = StringField("姓名", validators=[Optional(), Length(max=64, message="姓名不超过 64 个字符。")])
    role = SelectField("角色", choices=role_choices(), validate_choice=False,
                       validators=[DataRequired(message="请选择角色。")])
    department = SelectField("所属部门（行业部门用户必填）", validate_choice=False)
    county = SelectField("所属县（市、区）（属地政府用户必填）", validate_choice=False)
    certificate_no = StringField("执法证号（仅督查人员、执法人员）", validators=[
        Optional(), Length(max=32, message="执法证号不超过 32 个字符。")])
    phone = StringField("联系电话", validators=[Optional(), Length(max=32, message="联系电话不超过 32 个字符。")])


class PasswordResetForm(ChineseForm):
    password = PasswordField("密码（至少 8 个字符）", validators=[
        DataRequired(message="请输入密码。"), Length(max=256, message="密码不超过 256 个字符。")])
    password_again = PasswordField("再次输入密码", validators=[
        DataRequired(message="请再次输入密码。"), EqualTo("password", message="两次输入的密码不一致。")])


class AdminPasswordResetForm(PasswordResetForm):
    """A reset by an administrator: the user's device tokens go with the old password unless kept."""

    keep_device_tokens = BooleanField("保留该用户的设备令牌（不勾选则全部吊销，现场设备须重新签发令牌）")


class UserCreateForm(UserProfileForm, PasswordResetForm):
    username = StringField("用户名（2–64 位字母、数字或 _ . @ -）", validators=[
        DataRequired(message="请输入用户名。"), Length(max=64, message="用户名不超过 64 个字符。")])

    # Username first, as people fill it in.
    FIELD_ORDER = ("username", "display_name", "role", "department", "county", "certificate_no", "phone",
                   "password", "password_again")


class TokenIssueForm(ChineseForm):
    user_id = SelectField("用户", coerce=int, validate_choice=True)
    label = StringField("设备名称（便于日后辨认和吊销）", validators=[
        DataRequired(message="请填写设备名称。"), Length(max=64, message="设备名称不超过 64 个字符。")])


class ActionForm(ChineseForm):
    """A reversible one-click action (reactivate an account): the CSRF token only."""


def show_problem_at_fields(form: FlaskForm, problem) -> None:
    """Put a service's refusal next to the fields it names (the page also shows it above the form)."""
    for name in (problem.errors or {}):
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, problem.detail]
