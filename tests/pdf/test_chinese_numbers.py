"""Amounts in 大写 with the figure, percentages in words, dates in 年月日 (Beijing): the rules of
中文大写金额 at their edges — zeros inside a number, 壹 before 拾, 整 after 元, 角 and 分."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from server.pdf.chinese_numbers import (
    capital_amount,
    chinese_date,
    chinese_datetime,
    chinese_integer,
    percent_in_words,
    rmb,
)


@pytest.mark.parametrize(("amount", "capitals"), [
    (0, "零元整"),
    (10, "壹拾元整"),  # 壹 is written before 拾
    (105, "壹佰零伍元整"),
    (300, "叁佰元整"),
    (1005, "壹仟零伍元整"),  # a run of zeros is one 零
    (10000, "壹万元整"),
    (10300, "壹万零叁佰元整"),  # the 仟 of the lower group is empty
    (100000, "壹拾万元整"),
    (107000, "壹拾万柒仟元整"),
    (100300, "壹拾万零叁佰元整"),
    (1000000, "壹佰万元整"),
    (100001000, "壹亿零壹仟元整"),  # an empty 万 group between two others
    (110, "壹佰壹拾元整"),
    (Decimal("0.5"), "伍角"),
    (0.05, "伍分"),
    (Decimal("1234.56"), "壹仟贰佰叁拾肆元伍角陆分"),
    (Decimal("16409.02"), "壹万陆仟肆佰零玖元零贰分"),  # 零 for the empty 角 before 分
    (Decimal("1680.30"), "壹仟陆佰捌拾元叁角"),
    ("200", "贰佰元整"),
])
def test_capital_amounts_follow_the_rules(amount, capitals):
    assert capital_amount(amount) == capitals


@pytest.mark.parametrize(("amount", "printed"), [
    (300, "人民币叁佰元整（¥300.00）"),
    (10000, "人民币壹万元整（¥10000.00）"),  # no thousands separator
    (0.5, "人民币伍角（¥0.50）"),
    (Decimal("1234.56"), "人民币壹仟贰佰叁拾肆元伍角陆分（¥1234.56）"),
])
def test_an_amount_is_printed_in_capitals_with_its_figure(amount, printed):
    assert rmb(amount) == printed


@pytest.mark.parametrize("bad", [-1, Decimal("0.005"), "abc", float("nan"), True, None])
def test_what_is_not_an_amount_is_refused(bad):
    with pytest.raises((ValueError, TypeError)):
        capital_amount(bad)


@pytest.mark.parametrize(("number", "words"), [
    (0, "零"), (3, "三"), (10, "十"), (15, "十五"), (50, "五十"), (105, "一百零五"), (110, "一百一十"),
    (1005, "一千零五"), (10000, "一万"), (10300, "一万零三百"), (100000, "十万"),
])
def test_integers_in_everyday_numerals(number, words):
    assert chinese_integer(number) == words


@pytest.mark.parametrize(("percent", "words"), [
    (3, "百分之三"), (50, "百分之五十"), (100, "百分之一百"), (Decimal("0.5"), "百分之零点五"), (Decimal("2.5"), "百分之二点五"),
])
def test_percentages_in_words(percent, words):
    assert percent_in_words(percent) == words


def test_dates_in_nian_yue_ri_on_the_beijing_calendar():
    assert chinese_date(date(2026, 12, 3)) == "2026年12月3日"
    assert chinese_date("2026-01-05") == "2026年1月5日"
    # 16:30 UTC on 2 December is already 3 December in 金华.
    late = datetime(2026, 12, 2, 16, 30, tzinfo=timezone.utc)
    assert chinese_date(late) == "2026年12月3日"
    assert chinese_datetime(late) == "2026年12月3日0时30分"
    assert chinese_datetime(datetime(2026, 3, 10, 1, 0, tzinfo=timezone.utc)) == "2026年3月10日9时"
