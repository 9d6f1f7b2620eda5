"""A FlaskForm whose built-in WTForms messages ("Not a valid date value.", "Not a valid choice.")
come in Chinese: Flask-WTF translates only through Flask-Babel, which anfang does not use, so the
form reads WTForms' own zh catalogue instead."""

from flask_wtf import FlaskForm
from wtforms.meta import DefaultMeta


class ChineseForm(FlaskForm):
    class Meta:
        locales = ("zh",)

        def get_translations(self, form):
            return DefaultMeta.get_translations(self, form)
