"""Numbers, amounts and dates as a Chinese official document writes them.

- Amounts in capitals with the figure: 人民币壹万零叁佰元整（¥10300.00）. The capitals follow the
  rules for 中文大写金额 of 中国人民银行《支付结算办法》附件一《正确填写票据和结算凭证的基本规定》:
  壹 before every 拾 (壹拾万元整), one 零 for a run of zeros inside the number (壹仟零伍元整,
  壹万零叁佰元整), 整 after 元, nothing after 分, and 零 after 元 when the 角 is zero but the 分 is
  not (壹拾元零伍分). Where the rules allow either, the shorter form is written (壹拾万柒仟元,
  壹佰元伍角). The figure has no thousands separator, as the house style asks of running text.
- Percentages in words: 百分之三, 百分之五十, 百分之一百零五.
- Dates in Arabic numerals (GB/T 9704-2012 §7.3.5.4) on the Beijing calendar: 2026年12月3日.

Written here rather than taken from a library (cn2an does amounts in an "rmb" mode) because the
whole of it is a few lines against the rules above, tested at their edges, and a document must not
change its wording when a dependency's output does. This module imports no domain.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation

# China Standard Time has had no daylight saving since 1991: a fixed offset needs no tz database.
BEIJING = timezone(timedelta(hours=8))

_LOWER_DIGITS = "零一二三四五六七八九"
_UPPER_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_LOWER_UNITS = ("", "十", "百", "千")
_UPPER_UNITS = ("", "拾", "佰", "仟")
_GROUP_UNITS = ("", "万", "亿", "万亿")


def _group(value: int, digits: str, units: tuple[str, ...]) -> str:
    """0 < value < 10000 in words; one 零 for the zeros between two digits, none at the end."""
    text, zero = [], False
    for position in range(3, -1, -1):
        digit = value // 10 ** position % 10
        if digit == 0:
            zero = bool(text)
            continue
        if zero:
            text.append(digits[0])
            zero = False
        text.append(digits[digit] + units[position])
    return "".join(text)


def _integer(value: int, digits: str, units: tuple[str, ...]) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"an integer is required, not {value!r}")
    if value < 0:
        raise ValueError(f"a negative number has no reading here: {value}")
    if value == 0:
        return digits[0]
    groups = []
    while value:
        value, rest = divmod(value, 10000)
        groups.append(rest)
    if len(groups) > len(_GROUP_UNITS):
        raise ValueError("too large for a document")
    text, zero = [], False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            zero = bool(text)  # 壹亿零壹仟: an empty 万 group between two others reads as 零
            continue
        if text and (zero or group < 1000):
            text.append(digits[0])  # 壹万零叁佰: the group's 仟 is empty
        text.append(_group(group, digits, units) + _GROUP_UNITS[index])
        zero = False
    return "".join(text)


def chinese_integer(value: int) -> str:
    """An integer in everyday numerals: 3 → 三, 10 → 十, 15 → 十五, 105 → 一百零五, 110 → 一百一十."""
    text = _integer(value, _LOWER_DIGITS, _LOWER_UNITS)
    # Spoken and written Chinese drops the 一 of a leading 十 (十五, 十万), never of an inner one.
    return text[1:] if text.startswith("一十") else text


def capital_integer(value: int) -> str:
    """An integer in 大写 numerals: 10 → 壹拾, 1005 → 壹仟零伍, 100000 → 壹拾万 (壹 always kept)."""
    return _integer(value, _UPPER_DIGITS, _UPPER_UNITS)


def _amount(value) -> Decimal:
    if isinstance(value, bool):
        raise TypeError(f"an amount is required, not {value!r}")
    try:
        # A float goes through its shortest repr: 0.1 is 0.1, not 0.1000000000000000055….
        amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"not an amount: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"not an amount: {value!r}")
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"an amount in yuan has at most two decimal places (角, 分): {value!r}")
    return amount.quantize(Decimal("0.01"))


def capital_amount(value) -> str:
    """The amount's 中文大写金额: 300 → 叁佰元整, 1234.56 → 壹仟贰佰叁拾肆元伍角陆分, 0.5 → 伍角."""
    amount = _amount(value)
    cents = int(amount * 100)
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    if jiao == 0 and fen == 0:
        return f"{capital_integer(yuan)}元整"
    text = f"{capital_integer(yuan)}元" if yuan else ""
    if jiao:
        text += f"{_UPPER_DIGITS[jiao]}角"
    elif yuan:
        text += _UPPER_DIGITS[0]  # 壹拾元零伍分: the empty 角 between 元 and 分 is written
    if fen:
        text += f"{_UPPER_DIGITS[fen]}分"
    return text


def amount_figure(value) -> str:
    """The amount in figures after ¥, two decimals, no thousands separator: ¥10000.00."""
    return f"¥{_amount(value):.2f}"


def rmb(value) -> str:
    """An amount as a document states it: 人民币叁佰元整（¥300.00）."""
    return f"人民币{capital_amount(value)}（{amount_figure(value)}）"


def percent_in_words(value) -> str:
    """A percentage in words: 3 → 百分之三, 50 → 百分之五十, 2.5 → 百分之二点五."""
    number = _amount(value) if not isinstance(value, int) or isinstance(value, bool) else Decimal(value)
    whole, _, fraction = format(number.normalize(), "f").partition(".")
    text = chinese_integer(int(whole))
    if fraction:
        text += "点" + "".join(_LOWER_DIGITS[int(digit)] for digit in fraction)
    return f"百分之{text}"


def _beijing(value) -> date | datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if ("T" in value or " " in value) else date.fromisoformat(value)
    if isinstance(value, datetime):
        # A stored moment is UTC; the calendar a party reads is Beijing's. A naive value is
        # taken as already local (what a form or a sample file holds).
        return value.astimezone(BEIJING) if value.tzinfo is not None else value
    if isinstance(value, date):
        return value
    raise TypeError(f"a date is required, not {value!r}")


def chinese_date(value) -> str:
    """A date as GB/T 9704-2012 writes 成文日期: 2026年12月3日 (no leading zeros)."""
    moment = _beijing(value)
    return f"{moment.year}年{moment.month}月{moment.day}日"


def chinese_datetime(value) -> str:
    """A moment to the minute in Beijing time: 2026年3月10日9时30分 (9时 for a full hour)."""
    moment = _beijing(value)
    if not isinstance(moment, datetime):
        return chinese_date(moment)
    text = f"{chinese_date(moment)}{moment.hour}时"
    return text + (f"{moment.minute}分" if moment.minute else "")


FILTERS = {"rmb": rmb, "capital_amount": capital_amount, "percent": percent_in_words,
           "chinese_integer": chinese_integer, "cn_datetime": chinese_datetime}
