"""The 违法事实 of a case written from the record, for when the officer writes none.

A decision that names only the requirement ("包厢聚餐人数不超过核定人数的50%") asserts that the
venue complied. The facts composed here say, per inspection behind the case:

- when: the inspection's check-in, Beijing time (2026年12月3日21时15分);
- where and who: the venue's name and address, and the party (or, before the party is entered,
  the operator in the venue register);
- what was found, with its numbers: one sentence per violated check, from the check's template
  in server/reference/fact_templates.yaml filled with the inspection's observations
  (包厢内聚餐7人，超过核定12座的50%（6人）);
- which requirement it breaks: 金市疫情防指办〔2021〕51号, the rule's section in words
  (第三条第5项) and its text;
- the evidence: the inspection records and the received photos, named by time and caption.

A check without a usable template (a rule added to the database by hand, a record whose
observations no longer show the violation) gets a plain sentence naming the requirement as
unmet, never a sentence asserting numbers the record does not hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
import yaml
from flask import current_app
from marshmallow import ValidationError

import rulecheck
from rulecheck.explain import format_number

from ..columns import as_utc
from ..extensions import db
from ..field.models.inspection import Inspection, Photo, Violation
from ..field.violations import effective_observations
from ..pdf.chinese_numbers import chinese_datetime
from ..registry.loader import venue_facts
from ..registry.models.reference import Rule, RuleCheck
from ..registry.models.venue import Venue
from ..registry.schemas.fact_template_records import PLACEHOLDER, check_kind, ratio_factor
from ..registry.schemas.reference import FILE_SCHEMAS

TEMPLATES_FILE = "fact_templates.yaml"
DOCUMENT = "金市疫情防指办〔2021〕51号"

_DIGITS = "零一二三四五六七八九"


# --- the templates ------------------------------------------------------------------------------


@lru_cache(maxsize=4)
def _load_templates(path: str, mtime_ns: int) -> dict[str, dict]:
    raw = yaml.safe_load(Path(path).read_text("utf-8"))
    try:
        document = FILE_SCHEMAS["fact_templates"]().load(raw)
    except ValidationError:
        # `anfang reference load` names what is wrong; composing facts falls back to plain sentences
        # rather than refusing to open a case over a wording file.
        current_app.logger.exception("%s is invalid; facts use plain sentences", TEMPLATES_FILE)
        return {}
    return {record["check"]: record for record in document["templates"]}


def templates() -> dict[str, dict]:
    """The validated templates by check code (cached per file modification time)."""
    path = Path(current_app.config["REFERENCE_DIR"]) / TEMPLATES_FILE
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        current_app.logger.warning("%s is missing; facts use plain sentences", path)
        return {}
    return _load_templates(str(path), mtime)


# --- words ----------------------------------------------------------------------------------------


def _chinese_number(value: int) -> str:
    """1–99 in Chinese numerals, as sections are numbered (三、十一)."""
    if value < 10:
        return _DIGITS[value]
    tens, ones = divmod(value, 10)
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


def section_words(section: str) -> str:
    """A rule's section as the document cites it: 三.3 → 第三条第3项, 三 → 第三条."""
    part, _, item = section.partition(".")
    if part.isdigit():
        part = _chinese_number(int(part))
    return f"第{part}条" + (f"第{item}项" if item else "")


def beijing_minute(moment: datetime) -> str:
    """A stored moment (UTC, naive when SQLite hands it back) as the documents print it:
    Beijing time, 2026年12月3日21时15分."""
    return chinese_datetime(as_utc(moment))


def _quoted(text: str) -> str:
    # Quotes inside a quotation nest as ‘’ inside the “” around it.
    return "“" + text.strip().replace("“", "‘").replace("”", "’") + "”"


def party_label(party: Mapping | None) -> str | None:
    """How the facts name the party: 当事单位… / 当事人…, None when not known yet."""
    if not party:
        return None
    if party.get("kind") == "unit" and party.get("unit_name"):
        return f"当事单位{party['unit_name']}"
    if party.get("kind") == "individual" and party.get("name"):
        return f"当事人{party['name']}"
    return None


# --- one violated check ---------------------------------------------------------------------------


def _value_text(name: str, context: Mapping, items: Iterable[Mapping]) -> str:
    value = rulecheck.evaluate({"var": name}, context)
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Fraction):
        return format_number(value)
    if name.startswith("obs."):
        item = next((i for i in items if i.get("code") == name[len("obs."):]), None)
        for choice in (item or {}).get("choices") or []:
            if choice.get("value") == value:
                return choice["label"]
    return str(value)


def violation_sentence(check: Mapping, template: Mapping | None, context: Mapping,
                       items: Iterable[Mapping] = ()) -> str | None:
    """The template of `check` filled from `context` ({venue, obs, …}), or None when it cannot
    truthfully be: no template, a template of another kind, a value missing, or the check not
    violated under these facts."""
    if template is None or check_kind(check.get("expression")) != template["kind"]:
        return None
    items = list(items)
    try:
        if rulecheck.evaluate_check(check, context).outcome != rulecheck.VIOLATION:
            return None
        values = {}
        if template["kind"] == "numeric":
            left, right = (rulecheck.evaluate(side, context)
                           for side in check["expression"][next(iter(check["expression"]))])
            if not isinstance(left, Fraction) or not isinstance(right, Fraction):
                return None
            values["observed"], values["limit"] = format_number(left), format_number(right)
            literals = ratio_factor(check["expression"])
            if literals is not None:
                ratio = Fraction(1)
                for literal in literals:
                    ratio *= Fraction(str(literal))  # "1/2", 0.5 or 2: exact, as the evaluator reads them
                values["ratio"] = format_number(ratio * 100) + "%"
        for name in PLACEHOLDER.findall(template["violation"]):
            if name not in values:
                values[name] = _value_text(name, context, items)
    except (rulecheck.MissingValue, rulecheck.ExpressionError, TypeError, ValueError):
        return None
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], template["violation"])


def _plain_sentence(violation: Violation) -> str:
    return f"未落实{_quoted(violation.description)}的要求"


# --- the case's facts -----------------------------------------------------------------------------


def _photos_text(photos: list[Photo]) -> str | None:
    if not photos:
        return None
    first = photos[0]
    named = beijing_minute(first.taken_at) + (_quoted(first.caption) if first.caption and first.caption.strip()
                                              else "拍摄")
    more = "等" if len(photos) > 1 else ""
    return f"现场照片{len(photos)}张（{named}{more}）"


def compose_facts(violations: list[Violation], party: Mapping | None = None) -> str:
    """The 违法事实 of a case of these violations (one venue), with `party` as entered at 立案
    (PartySchema data) or None before it is known."""
    if not violations:
        return ""
    inspections = list(db.session.scalars(sa.select(Inspection).where(
        Inspection.id.in_({v.inspection_id for v in violations})).order_by(Inspection.checked_in_at, Inspection.id)))
    venue = db.session.get(Venue, violations[0].venue_id)
    checks = {row.code: row for row in db.session.scalars(sa.select(RuleCheck).where(
        RuleCheck.code.in_({v.check_code for v in violations})))}
    rules = {row.code: row for row in db.session.scalars(sa.select(Rule).where(
        Rule.code.in_({v.rule_code for v in violations})))}
    wording = templates()

    def order(violation: Violation):
        rule, check = rules.get(violation.rule_code), checks.get(violation.check_code)
        return (rule.sort_order if rule else 1 << 30, violation.rule_code,
                check.sort_order if check else 1 << 30, violation.check_code)

    who = party_label(party) or (venue.operator_name and f"经营者{venue.operator_name}")
    place = f"{venue.name}（地址：{venue.address}）"
    paragraphs = []
    for inspection in inspections:
        context = {"venue": venue_facts(venue), "obs": effective_observations(inspection)}
        found = []
        for violation in sorted((v for v in violations if v.inspection_id == inspection.id), key=order):
            row = checks.get(violation.check_code)
            sentence = None
            if row is not None and row.rule.code == violation.rule_code:
                check = {"code": row.code, "description": row.description, "applies_when": row.applies_when,
                         "expression": row.expression}
                items = [{"code": i.code, "choices": i.choices} for i in row.rule.items]
                sentence = violation_sentence(check, wording.get(row.code), context, items)
            found.append(sentence or _plain_sentence(violation))
        # A unit trading under the venue's own name is named once: 对当事单位某某饭店（地址：…）.
        if party and party.get("kind") == "unit" and party.get("unit_name") == venue.name:
            target = f"{who.removesuffix(venue.name)}{place}"
        else:
            target = f"{who}经营的{place}" if who else place
        paragraphs.append(f"{beijing_minute(inspection.checked_in_at)}，暗访督查组对{target}进行检查，"
                          f"发现：{'；'.join(found)}。")

    cited = [rules[code] for code in dict.fromkeys(v.rule_code for v in sorted(violations, key=order))
             if code in rules]
    if cited:
        requirements = "、".join(section_words(rule.section) + _quoted(rule.source_text.rstrip("。"))
                                for rule in cited)
        paragraphs.append(f"上述行为违反了{DOCUMENT}{requirements}的规定。")

    photos = list(db.session.scalars(sa.select(Photo).where(
        Photo.inspection_id.in_([i.id for i in inspections]), Photo.received_at.is_not(None))
        .order_by(Photo.taken_at, Photo.id)))
    evidence = "、".join(part for part in (f"现场检查记录{len(inspections)}份", _photos_text(photos)) if part)
    paragraphs.append(f"以上事实有{evidence}为证。")
    return "\n".join(paragraphs)
