"""Masking personal data in text that propaganda sees (DESIGN.md §6): a pure function.

What is masked, and how (decisions):

- 18-digit resident ID numbers keep only the 6-digit region code: 330702************. The
  birth date and sequence identify a person; the region says no more than the county does.
- Mainland mobile numbers keep the operator prefix and the last four digits, as Chinese
  services print them: 138****5678 (also with +86, spaces or hyphens in between).
- Plate numbers keep the province, the issuing-authority letter and the last two characters:
  浙G·12345 → 浙G·***45 (new-energy plates likewise: 浙GD12345 → 浙G****45).
- Names of individuals taken from the record's person fields (the venue's operator, a case's
  party and legal representative, the inspection team) keep the surname: 张三 → 张某. Team
  members are officials, but a bulletin speaks for the office, not for the inspectors who were
  there; naming them in a negative example invites exactly the secondary public opinion 五(五)
  warns about.
- Other literal values from person fields (the venue's contact phone, a case party's phone,
  which may be a landline) are masked to their last two characters.
- The venue's name, when the item's decision is `mask`, becomes 某 + its category (某KTV).

Names are replaced longest first, so 张三丰 is not left as 张某丰 by the name 张三.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}\d{3}[\dXx](?![0-9A-Za-z])")
MOBILE = re.compile(r"(?<!\d)(?:(?:\+|00)?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")
PLATE = re.compile(
    r"([京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼])([A-HJ-NP-Z])([·•．.\-\s]?)"
    r"([A-HJ-NP-Z0-9]{5,6})(?![A-Za-z0-9])")
MASK = "*"


def _mask_plate(match: re.Match) -> str:
    rest = match[4]
    return f"{match[1]}{match[2]}{match[3]}{MASK * (len(rest) - 2)}{rest[-2:]}"


def mask_name(name: str) -> str:
    """张三 → 张某; a one-character string is left as it is (it is not a name to find)."""
    return f"{name[0]}某" if len(name) >= 2 else name


def mask_text(text: str, *, person_names: Iterable[str] = (), literals: Iterable[str] = (),
              venue_name: str | None = None, venue_label: str | None = None) -> str:
    """`text` with personal data masked.

    `person_names`: names of individuals from the record; `literals`: other personal values to
    hide (phones from person fields); `venue_name` is replaced by `venue_label` (e.g. 某KTV) when
    the label is given, else left as written.
    """
    if not text:
        return text or ""
    replacements: dict[str, str] = {}
    if venue_name and venue_label:
        replacements[venue_name.strip()] = venue_label
    for name in person_names:
        name = (name or "").strip()
        if len(name) >= 2:
            replacements.setdefault(name, mask_name(name))
    for key in sorted(replacements, key=len, reverse=True):
        text = text.replace(key, replacements[key])
    text = ID_NUMBER.sub(lambda m: m[1] + MASK * 12, text)
    text = MOBILE.sub(lambda m: f"{m[1]}{MASK * 4}{m[3]}", text)
    text = PLATE.sub(_mask_plate, text)
    # After the patterns: a mobile number in a person field is then masked like any other.
    for value in sorted({(value or "").strip() for value in literals}, key=len, reverse=True):
        if len(value) >= 5:
            text = text.replace(value, MASK * (len(value) - 2) + value[-2:])
    return text


PHONE_LIKE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")

# Bulletins print no telephone number at all, masked or not (decision): a published issue speaks
# for the office, and 138****5678 still invites calls to guess the rest and pins the example on
# one person; readers need no number to learn from it. What is removed, after masking: mobile
# numbers whole or masked (138****5678, +86 138 1234 5678), landlines with an area code
# (0579-82345678), and runs of stars a person-field value was masked to (*******78).
PHONE_NUMBER = re.compile(
    r"(?<![0-9A-Za-z*])(?:"
    r"(?:(?:\+|00)?86[\s-]?)?1[3-9]\d[\s-]?[\d*]{4}[\s-]?\d{4}"
    r"|0\d{2,3}[\s-]?\d{7,8}"
    r"|(?<![A-Z][·•．.\-\s])\*{3,}[0-9A-Za-z]{2}"  # not a masked plate: 浙G·***45 stays
    r")(?![0-9A-Za-z*])")
PHONE_WORDS = r"(?:联系|公示的|防疫|值班|举报|办公)*(?:电话|手机号码|手机号|手机|联系方式)"
# "（手机138****5678）", "(电话：0579-82345678)": the aside goes, the sentence stays whole.
PHONE_ASIDE = re.compile(rf"[（(]\s*(?:{PHONE_WORDS})?\s*[:：为是]?\s*{PHONE_NUMBER.pattern}\s*[）)]")
CLAUSE_END = re.compile(r"([，,；;。！？!?\n])")
SENTENCE_ENDS = "。！？!?\n"


def strip_phone_numbers(text: str) -> str:
    """`text` with every telephone number removed, with the words that carried it.

    An aside in brackets is dropped; otherwise the clause (between commas or semicolons) that
    holds a number is dropped, and a sentence keeps its full stop: "登记台账完整，联系电话
    138****5678。" → "登记台账完整。" A clause cannot be mended word by word ("电话为" would be
    left hanging); the clauses that carry a number in these notes say nothing else.
    """
    if not text:
        return text or ""
    text = PHONE_ASIDE.sub("", text)
    if not PHONE_NUMBER.search(text):
        return text
    parts = CLAUSE_END.split(text)
    kept = ""
    for clause, end in zip(parts[0::2], parts[1::2] + [""], strict=True):
        if not PHONE_NUMBER.search(clause):
            kept += clause + end
        elif end and end in SENTENCE_ENDS and kept and kept[-1] in "，,；;":
            kept = kept[:-1] + end  # the sentence ended with the dropped clause
        elif end in SENTENCE_ENDS and end == "\n":
            kept += end
    return kept


def contains_mobile_number(text: str) -> bool:
    """Whether an unmasked mainland mobile number is left in `text` (used by tests and checks)."""
    return bool(PHONE_LIKE.search(re.sub(r"[\s-]", "", text)))
