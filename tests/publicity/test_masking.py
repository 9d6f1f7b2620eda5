"""The PII-masking table: ID numbers, mobile numbers, plates, names from person fields, venues."""

from __future__ import annotations

import pytest

from server.publicity.masking import contains_mobile_number, mask_name, mask_text

NAMES = ("张三", "欧阳娜娜", "李四光")


@pytest.mark.parametrize(("text", "expected"), [
    # 18-digit ID numbers keep the region code only
    ("身份证330702199001011234。", "身份证330702************。"),
    ("证号33070219900101123X", "证号330702************"),
    ("号码33070219900101123x结束", "号码330702************结束"),
    ("19位1330702199001011234不是身份证号", "19位1330702199001011234不是身份证号"),
    # mobile numbers: prefix and last four
    ("电话13812345678", "电话138****5678"),
    ("电话 138 1234 5678", "电话 138****5678"),
    ("电话138-1234-5678。", "电话138****5678。"),
    ("+86 13812345678", "138****5678"),
    ("座机0579-82345678不是手机", "座机0579-82345678不是手机"),
    ("12812345678不是手机号", "12812345678不是手机号"),
    ("订单138123456789过长", "订单138123456789过长"),
    # plates: province, authority letter, last two
    ("车牌浙G·12345停放", "车牌浙G·***45停放"),
    ("浙G12345", "浙G***45"),
    ("浙GD12345新能源", "浙G****45新能源"),
    ("沪A·B1234", "沪A·***34"),
    # names of individuals from the record keep the surname; longest first
    ("店主张三在场", "店主张某在场"),
    ("欧阳娜娜负责登记", "欧某负责登记"),
    ("李四光和张三", "李某和张某"),
    ("张三丰不是记录中的人", "张某丰不是记录中的人"),
    # nothing personal: unchanged
    ("入口处设置了测温点，查验健康码。", "入口处设置了测温点，查验健康码。"),
    ("", ""),
])
def test_masking_table(text, expected):
    assert mask_text(text, person_names=NAMES) == expected


def test_a_longer_name_wins_over_a_shorter_one_inside_it():
    assert mask_text("张三丰到场", person_names=("张三", "张三丰")) == "张某到场"


def test_venue_name_is_masked_only_when_a_label_is_given():
    text = "金华欢乐KTV超员"
    assert mask_text(text, venue_name="金华欢乐KTV", venue_label="某KTV") == "某KTV超员"
    assert mask_text(text, venue_name="金华欢乐KTV") == text


def test_literal_values_from_person_fields_are_masked():
    assert mask_text("联系 0579-82345678", literals=("0579-82345678",)) == "联系 ***********78"
    # a mobile number from a person field is masked like any mobile number
    assert mask_text("联系13900001111", literals=("13900001111",)) == "联系139****1111"


@pytest.mark.parametrize(("name", "masked"), [("张三", "张某"), ("司马相如", "司某"), ("张", "张")])
def test_mask_name(name, masked):
    assert mask_name(name) == masked


def test_contains_mobile_number():
    assert contains_mobile_number("电话 138 1234 5678")
    assert not contains_mobile_number("电话138****5678")


@pytest.mark.parametrize(("text", "title"), [
    ("店主主动登记顾客健康码。其他内容", "店主主动登记顾客健康码"),
    ("某某某某某某某某某某某某某某某某某某某某某某某某某某某某某某某某某某某某联系电话13812345678", "某" * 36 + "联系电话…"),
    ("", "正面典型"),
])
def test_titles_never_end_in_half_a_number(text, title):
    from server.publicity.materials import _title

    assert _title(text, "positive") == title
