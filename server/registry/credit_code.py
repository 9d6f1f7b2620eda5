"""The 统一社会信用代码 of a unit (GB 32100-2015, 法人和其他组织统一社会信用代码编码规则).

Eighteen characters from the standard's character set (digits and capital letters without
I, O, S, V, Z): 登记管理部门码 (1), 机构类别码 (1), 登记管理机关行政区划码 (6 digits),
主体标识码 (9) and the check character. The check character's value is
31 − (Σ value(cᵢ) × wᵢ mod 31), 31 counting as 0, with wᵢ = 3^(i−1) mod 31 for i = 1 … 17
(worked example published with the standard: 91350100M000100Y4 has the check character 3).

A few codes issued by pilot regions before the standard (Fujian, 2015) are known to fail the
check; the message asks the officer to compare the code with the licence rather than calling it
false.
"""

from __future__ import annotations

import re

import marshmallow as ma
from marshmallow import fields

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28
LENGTH = 18

FORMAT_MESSAGE = "统一社会信用代码应为 18 位数字或大写字母（不含 I、O、S、V、Z）。"
DIVISION_MESSAGE = "统一社会信用代码第 3–8 位应为登记管理机关的行政区划代码（6 位数字）。"
CHECK_MESSAGE = "统一社会信用代码校验位不符，请核对。"

_FORMAT = re.compile(f"[{ALPHABET}]{{{LENGTH}}}")
_VALUES = {char: value for value, char in enumerate(ALPHABET)}


class CreditCodeError(ValueError):
    """A code that is not a 统一社会信用代码; str() is the Chinese message."""


def check_character(first17: str) -> str:
    """The check character (18th) of the code whose first 17 characters are `first17`."""
    total = sum(_VALUES[char] * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def format_problem(code: str) -> str | None:
    """What is wrong with the code's characters (the check character aside), or None."""
    if not _FORMAT.fullmatch(code):
        return FORMAT_MESSAGE
    if not code[2:8].isdigit():
        return DIVISION_MESSAGE
    return None


def normalise(value: str) -> str:
    """The code in capitals without surrounding spaces, checked against GB 32100-2015.

    Lower-case letters are accepted (typed from a licence on a phone keyboard) and stored in capitals.
    Raises CreditCodeError with the Chinese message otherwise."""
    code = (value or "").strip().upper()
    problem = format_problem(code)
    if problem is None and check_character(code[:17]) != code[17]:
        problem = CHECK_MESSAGE
    if problem is not None:
        raise CreditCodeError(problem)
    return code


def is_valid(value: str) -> bool:
    try:
        normalise(value)
    except CreditCodeError:
        return False
    return True


class CreditCodeField(fields.String):
    """A schema field holding a 统一社会信用代码: loaded in capitals, refused with the Chinese message."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text.strip():
            return text  # left blank: the party's schema decides whether a code is needed
        try:
            return normalise(text)
        except CreditCodeError as exc:
            raise ma.ValidationError(str(exc)) from None
