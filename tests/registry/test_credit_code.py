"""The 统一社会信用代码 check (GB 32100-2015): format, check character, every single-character slip caught."""

from __future__ import annotations

import marshmallow as ma
import pytest

from server.registry import credit_code
from server.registry.credit_code import CHECK_MESSAGE, DIVISION_MESSAGE, FORMAT_MESSAGE, CreditCodeError, normalise

# The worked example published with the standard (its check character 3), and codes of the
# shapes the registry holds, their check characters computed by hand from the weights.
VALID = [
    "91350100M000100Y43",  # the standard's example
    "91330782MA2ABCDE1H",  # 企业, 义乌市
    "123307004700000009",  # 事业单位, 金华市
    "52330702MA28C12349",  # 民办非企业单位, 婺城区
    "11330783002512345U",  # 机关, 东阳市
    "71330781MA29XY123M",  # 宗教活动场所, 兰溪市
    "91330702MA2B0000A0",  # 31 − (sum mod 31) = 31 counts as 0
]


def test_weights_are_the_standards():
    assert credit_code.WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


@pytest.mark.parametrize("code", VALID)
def test_valid_codes_pass(code):
    assert normalise(code) == code and credit_code.is_valid(code)


def test_lower_case_and_spaces_are_accepted_and_kept_in_capitals():
    assert normalise(" 91330782ma2abcde1h ") == "91330782MA2ABCDE1H"


@pytest.mark.parametrize(("code", "message"), [
    ("91330782MA2ABCDE1X", CHECK_MESSAGE),  # the example: check character H, not X
    ("91330701MA2D123456", CHECK_MESSAGE),
    ("91330782MA2ABCDEZH", FORMAT_MESSAGE),  # Z is not in the character set
    ("91330782MA2ABCDEIH", FORMAT_MESSAGE),
    ("91330782MA2ABCDE1", FORMAT_MESSAGE),  # 17 characters
    ("91330782MA2ABCDE1HH", FORMAT_MESSAGE),
    ("", FORMAT_MESSAGE),
    ("9133078-MA2ABCDE1H", FORMAT_MESSAGE),
    ("91A30782MA2ABCDE1H", DIVISION_MESSAGE),  # positions 3–8 are a division code
])
def test_invalid_codes_are_refused_in_chinese(code, message):
    with pytest.raises(CreditCodeError) as caught:
        normalise(code)
    assert str(caught.value) == message
    assert not credit_code.is_valid(code)


@pytest.mark.parametrize("code", VALID)
def test_every_single_character_change_is_caught(code):
    # 31 is prime and no weight is 0 mod 31, so changing any one character changes the check.
    for position in range(18):
        for char in credit_code.ALPHABET:
            if char != code[position]:
                changed = code[:position] + char + code[position + 1:]
                assert not credit_code.is_valid(changed), changed


def test_the_schema_field_loads_capitals_and_refuses_in_chinese():
    class Schema(ma.Schema):
        code = credit_code.CreditCodeField()

    assert Schema().load({"code": "91330782ma2abcde1h"}) == {"code": "91330782MA2ABCDE1H"}
    with pytest.raises(ma.ValidationError) as caught:
        Schema().load({"code": "91330782MA2ABCDE1X"})
    assert caught.value.messages == {"code": [CHECK_MESSAGE]}
