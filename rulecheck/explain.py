"""The numbers behind a check's outcome, as one line of Chinese an inspector can read on site.

A verdict alone ("违反") invites the question "by how much?"; for a check whose expression is a
comparison, `explain_check` states the compared values with their units and the true relation
between them, e.g. for K3 (`obs.k3_visitors <= venue.approved_capacity * "1/2"`) with 7 visitors
and a capacity of 12::

    7 人 > 6 人（核定人数 12 人的 50%）

The text is computed from the expression tree, not written per rule, so new rule data gets it for
free. The phone app's evaluator (field_app/src/evaluator.js) builds the same text character for
character; the conformance vectors hold both to it, so any change here must be made there too.

Rules of the text:

* only a top-level comparison (<, <=, >, >=, ==, !=) between numbers gives a text; booleans,
  strings, a check that is not applicable, incomplete or malformed give None;
* the relation shown is the one that holds between the numbers (<, =, > for ordering checks;
  = or ≠ for equality checks), whatever the check required;
* a side that is `{"var": name}` shows its value and unit; facts that are not the inspector's own
  observations (venue.*) are named by `FACT_LABELS`;
* a side that is one variable times number literals shows the product, then in brackets the
  variable's label and value and the factor as a percentage;
* a unit comes from the checklist item's prompt ending in a bracketed unit such as "（人）", or
  from `FACT_LABELS`; a side without one (a literal, a computed value) borrows the first unit of
  the other sides;
* numbers are exact when they are short decimals (13 × 1/2 → 6.5), otherwise rounded half away
  from zero to two places and marked 约.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from fractions import Fraction

from .evaluator import _NUMBER_TEXT, ExpressionError, MissingValue, _to_fraction, evaluate, validate_expression

# Facts that are not checklist items: how to name them and their unit.
FACT_LABELS: dict[str, tuple[str, str]] = {
    "venue.approved_capacity": ("核定人数", "人"),
}

_ORDERING = frozenset({"<", "<=", ">", ">="})
_EQUALITY = frozenset({"==", "!="})
# A prompt that ends in a short bracketed unit: "现场接待人数（人）" → 人.
_PROMPT_UNIT = re.compile(r"（([^（）]{1,4})）\Z")
_MAX_EXACT_PLACES = 4


def explain_check(check: Mapping, context: Mapping, items: Sequence[Mapping] | None = None) -> str | None:
    """The compared numbers of `check` under `context` as text, or None when there are none to show."""
    expression = check.get("expression")
    if not isinstance(expression, dict) or len(expression) != 1:
        return None
    operator, raw_args = next(iter(expression.items()))
    if operator not in _ORDERING and operator not in _EQUALITY:
        return None
    try:
        applies_when = check.get("applies_when")
        if applies_when is not None and evaluate(applies_when, context) is not True:
            return None
        validate_expression(expression)
        args = raw_args if isinstance(raw_args, list) else [raw_args]
        values = [evaluate(arg, context) for arg in args]
    except (MissingValue, ExpressionError):
        return None
    if operator in _EQUALITY:
        # == compares numerically only when one side is a number (two number-like strings
        # compare as text); show nothing where the comparison was not between numbers.
        if not any(isinstance(value, Fraction) for value in values):
            return None
    numbers = [_as_number(value) for value in values]
    if any(number is None for number in numbers):
        return None
    sides = [_side(arg, number, context, items) for arg, number in zip(args, numbers)]
    fallback = next((unit for _, unit, _ in sides if unit), "")
    parts = [_quantity(text, unit or fallback) + note for text, unit, note in sides]
    relations = [_relation(operator, a, b) for a, b in zip(numbers, numbers[1:])]
    out = parts[0]
    for relation, part in zip(relations, parts[1:]):
        out += f" {relation} {part}"
    return out


def _as_number(value) -> Fraction | None:
    """The value as the evaluator reads a number: a Fraction, or a number-like string ("1/2")."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, str) and _NUMBER_TEXT.match(value):
        try:
            return _to_fraction(value)
        except ExpressionError:
            return None
    return None


def _relation(operator: str, left: Fraction, right: Fraction) -> str:
    if operator in _EQUALITY:
        return "=" if left == right else "≠"
    return "<" if left < right else ">" if left > right else "="


def _side(node, value: Fraction, context: Mapping, items) -> tuple[str, str, str]:
    """(the value's text with any label, its unit or "", a bracketed note or "")."""
    name = _var_name(node)
    if name is not None:
        label, unit = _label_and_unit(name, items)
        text = format_number(value)
        if label and not name.startswith("obs."):
            text = f"{label} {text}"
        return text, unit, ""
    if isinstance(node, dict) and len(node) == 1 and "*" in node:
        factors = node["*"] if isinstance(node["*"], list) else [node["*"]]
        names = [_var_name(factor) for factor in factors]
        variables = [name for name in names if name is not None]
        literals = [factor for factor, name in zip(factors, names) if name is None]
        if len(variables) == 1 and literals and all(_is_number_literal(factor) for factor in literals):
            label, unit = _label_and_unit(variables[0], items)
            base_node = factors[names.index(variables[0])]
            base = _as_number(evaluate(base_node, context))
            ratio = Fraction(1)
            for factor in literals:
                ratio *= _as_number(evaluate(factor, {}))
            lead = f"{label} " if label else ""
            note = f"（{lead}{_quantity(format_number(base), unit)}的 {format_number(ratio * 100)}%）"
            return format_number(value), unit, note
    return format_number(value), "", ""


def _var_name(node) -> str | None:
    if isinstance(node, dict) and len(node) == 1 and "var" in node:
        args = node["var"] if isinstance(node["var"], list) else [node["var"]]
        return args[0]
    return None


def _is_number_literal(node) -> bool:
    if isinstance(node, bool):
        return False
    if isinstance(node, (int, float)):
        return True
    return isinstance(node, str) and _as_number(node) is not None


def _label_and_unit(name: str, items) -> tuple[str, str]:
    if name in FACT_LABELS:
        return FACT_LABELS[name]
    if name.startswith("obs.") and items:
        code = name[len("obs."):]
        for item in items:
            if isinstance(item, Mapping) and item.get("code") == code:
                prompt = item.get("prompt")
                if isinstance(prompt, str):
                    match = _PROMPT_UNIT.search(prompt)
                    if match:
                        return prompt[:match.start()], match.group(1)
                break
    return "", ""


def _quantity(text: str, unit: str) -> str:
    return f"{text} {unit}" if unit else text


def format_number(value: Fraction) -> str:
    """A number for people: integers and short decimals exactly, anything else 约 two places."""
    if value.denominator == 1:
        return str(value.numerator)
    denominator, twos, fives = value.denominator, 0, 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    sign = "-" if value < 0 else ""
    if denominator == 1 and max(twos, fives) <= _MAX_EXACT_PLACES:
        places = max(twos, fives)
        return sign + _decimal(abs(value.numerator) * 10**places // value.denominator, places)
    scaled = abs(value) * 100
    quotient, remainder = divmod(scaled.numerator, scaled.denominator)
    if 2 * remainder >= scaled.denominator:
        quotient += 1
    text = _decimal(quotient, 2)
    return "约" + (sign if text != "0" else "") + text


def _decimal(scaled: int, places: int) -> str:
    """`scaled` / 10**places written out, without trailing zeros."""
    if places == 0:
        return str(scaled)
    digits = str(scaled).rjust(places + 1, "0")
    whole, fraction = digits[:-places], digits[-places:].rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole
