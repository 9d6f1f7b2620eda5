"""WTForms' built-in messages in Chinese, for forms whose fields can fail before any validator of
ours runs (a date that does not parse, a choice that is not offered)."""

from __future__ import annotations

MESSAGES = {
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


class ChineseMessages:
    def gettext(self, string: str) -> str:
        return MESSAGES.get(string, string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


class ChineseMeta:
    """Mix into a form's Meta: `class Meta(ChineseMeta): ...`."""

    def get_translations(self, form):
        return ChineseMessages()
