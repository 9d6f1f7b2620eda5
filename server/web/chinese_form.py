"""The base class of every form of the pages: a FlaskForm whose built-in WTForms messages ("Not a
valid date value.", "Not a valid choice.") come in Chinese, worded the same way on every page.

Flask-WTF translates only through Flask-Babel, which anfang does not use, so the form reads
WTForms' own zh catalogue, with the messages users meet most worded more plainly
(`PLAIN_MESSAGES`); everything else comes from the catalogue.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms.meta import DefaultMeta

# Plainer wording than the catalogue's for what users meet most: a date that does not parse, a
# choice that is not offered, a missing value.
PLAIN_MESSAGES = {
    "Not a valid choice.": "不是可选的值。",
    "Not a valid date value.": "日期格式不正确，请按 年-月-日 填写。",
    "Not a valid integer value.": "须为整数。",
    "Not a valid decimal value.": "须为数字。",
    "Not a valid float value.": "须为数字。",
    "This field is required.": "此项为必填项。",
    "Invalid Choice: could not coerce.": "不是可选的值。",
    "'%(value)s' is not a valid choice for this field.": "“%(value)s”不是可选的值。",
    "'%(value)s' are not valid choices for this field.": "“%(value)s”不是可选的值。",
}


class _Translations:
    def __init__(self, catalogue, messages: dict):
        self.catalogue = catalogue
        self.messages = messages

    def gettext(self, string: str) -> str:
        return self.messages.get(string) or self.catalogue.gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        chosen = singular if n == 1 else plural
        return self.messages.get(chosen) or self.catalogue.ngettext(singular, plural, n)


class ChineseForm(FlaskForm):
    class Meta:
        locales = ("zh",)
        messages: dict = PLAIN_MESSAGES

        def get_translations(self, form):
            return _Translations(DefaultMeta.get_translations(self, form), self.messages)
