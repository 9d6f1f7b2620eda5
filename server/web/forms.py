"""Flask-WTF forms (each carries a CSRF token)."""

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class LoginForm(FlaskForm):
    username = StringField("用户名", validators=[
        DataRequired(message="请输入用户名。"),
        Length(max=64, message="用户名不超过 64 个字符。"),
    ])
    password = PasswordField("密码", validators=[
        DataRequired(message="请输入密码。"),
        Length(max=256, message="密码不超过 256 个字符。"),
    ])

