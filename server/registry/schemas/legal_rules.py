"""The consistency rules of legal bases, discretion benchmarks and hearing thresholds.

Pure functions over file records (dicts) or rows (objects with the same attributes), so that the
reference loader and the admin API refuse exactly the same things. See
server/enforcement/legal_bases.py for what they guard.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from ..models.reference import LEGAL_PENALTY_TYPES, PARTY_KIND_LABELS, PENALTY_TYPE_LABELS, combined_types

PERIOD_OPEN = "长期有效"


def _get(obj, name, default=None):
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def period_text(valid_from: date, valid_to: date | None) -> str:
    """A validity period as people read it: 2026-01-01 至 长期有效."""
    return f"{valid_from.isoformat()} 至 {valid_to.isoformat() if valid_to else PERIOD_OPEN}"


def _overlap(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    return (a_to is None or b_from <= a_to) and (b_to is None or a_from <= b_to)


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def legal_basis_problems(bases) -> list[tuple[str, str | None, str, str]]:
    """Every broken rule among `bases` (ORM rows or file records as dicts).

    Returns (basis code, benchmark code or None, field, Chinese message) tuples.
    """
    problems: list[tuple[str, str | None, str, str]] = []
    by_provision: dict[str, list] = defaultdict(list)
    for basis in bases:
        code = _get(basis, "code")
        by_provision[_get(basis, "provision")].append(basis)
        problems.extend((code, None, field, message) for field, message in _basis_problems(basis))
        problems.extend(_benchmark_problems(basis))
    for provision, versions in by_provision.items():
        versions = sorted(versions, key=lambda b: (_get(b, "valid_from"), _get(b, "code")))
        for index, earlier in enumerate(versions):
            for later in versions[index + 1:]:
                if _overlap(_get(earlier, "valid_from"), _get(earlier, "valid_to"),
                            _get(later, "valid_from"), _get(later, "valid_to")):
                    problems.append((_get(later, "code"), None, "valid_from",
                                     f"与同一条款（{provision}）的版本 {_get(earlier, 'code')}"
                                     f"（{period_text(_get(earlier, 'valid_from'), _get(earlier, 'valid_to'))}）"
                                     f"的有效期重叠；新版本生效前，请先为旧版本设置失效日期。"))
    return problems


def _basis_problems(basis) -> list[tuple[str, str]]:
    problems = []
    valid_from, valid_to = _get(basis, "valid_from"), _get(basis, "valid_to")
    if valid_to is not None and valid_to < valid_from:
        problems.append(("valid_to", "失效日期不能早于生效日期。"))
    unknown = [t for t in _get(basis, "penalty_types") or [] if t not in LEGAL_PENALTY_TYPES]
    if unknown:
        problems.append(("penalty_types", f"未知处罚种类：{'、'.join(unknown)}。"))
    return problems


def _benchmark_problems(basis) -> list[tuple[str, str | None, str, str]]:
    code = _get(basis, "code")
    statutory = set(_get(basis, "penalty_types") or [])
    basis_from, basis_to = _get(basis, "valid_from"), _get(basis, "valid_to")
    problems = []
    seen: list = []
    for benchmark in _get(basis, "benchmarks") or []:
        bcode = _get(benchmark, "code")

        def add(field: str, message: str, bcode=bcode) -> None:
            problems.append((code, bcode, field, message))

        valid_from, valid_to = _get(benchmark, "valid_from"), _get(benchmark, "valid_to")
        if valid_to is not None and valid_to < valid_from:
            add("valid_to", "失效日期不能早于生效日期。")
        if valid_from < basis_from or (basis_to is not None and (valid_to is None or valid_to > basis_to)):
            add("valid_from", f"裁量基准的有效期应在条款版本的有效期（{period_text(basis_from, basis_to)}）之内。")
        combinations = [list(c) for c in _get(benchmark, "combinations") or []]
        types = combined_types(combinations)
        unknown = [t for t in types if t not in LEGAL_PENALTY_TYPES]
        if unknown:
            add("combinations", f"未知处罚种类：{'、'.join(unknown)}。")
        outside = [PENALTY_TYPE_LABELS[t] for t in types if t in LEGAL_PENALTY_TYPES and t not in statutory]
        if outside:
            add("combinations", f"{'、'.join(outside)}不在该条款规定的处罚种类之内。")
        if not combinations:
            add("combinations", "至少一种处罚组合。")
        if any(not c or len(set(c)) != len(c) for c in combinations):
            add("combinations", "每种处罚组合须至少一种处罚，且同一种类不重复。")
        if len({frozenset(c) for c in combinations}) != len(combinations):
            add("combinations", "处罚组合重复。")
        party = _get(benchmark, "party_kind")
        if party == "unit" and "detention" in types:
            add("combinations", "行政拘留只能对个人适用，单位的裁量基准不能含行政拘留。")
        statutory_max = _decimal(_get(basis, "max_fine_unit" if party == "unit" else "max_fine_individual"))
        problems.extend((code, bcode, field, message) for field, message in _range_problems(
            "fine", types, _decimal(_get(benchmark, "min_fine")), _decimal(_get(benchmark, "max_fine")),
            statutory_max, f"该条款对{PARTY_KIND_LABELS.get(party, party)}的最高罚款", "元"))
        problems.extend((code, bcode, field, message) for field, message in _range_problems(
            "detention", types, _get(benchmark, "min_detention_days"), _get(benchmark, "max_detention_days"),
            _get(basis, "max_detention_days"), "该条款的最长拘留日数", "日"))
        for other in seen:
            if (_get(other, "circumstance"), _get(other, "party_kind")) == (_get(benchmark, "circumstance"), party) \
                    and _overlap(_get(other, "valid_from"), _get(other, "valid_to"), valid_from, valid_to):
                add("valid_from", f"与裁量基准 {_get(other, 'code')} 的情形、当事人类别相同且有效期重叠。")
        seen.append(benchmark)
    return problems


def _range_problems(kind: str, types, minimum, maximum, statutory, statutory_label: str,
                    unit: str) -> list[tuple[str, str]]:
    low, high = ("min_fine", "max_fine") if kind == "fine" else ("min_detention_days", "max_detention_days")
    label = PENALTY_TYPE_LABELS[kind]
    if kind not in types:
        if minimum is not None or maximum is not None:
            return [(high, f"处罚种类不含{label}，不应填写{label}幅度。")]
        return []
    if maximum is None:
        return [(high, f"处罚种类含{label}，须填写上限。")]
    problems = []
    if minimum is not None and minimum > maximum:
        problems.append((high, f"{label}下限不能高于上限。"))
    if statutory is None:
        problems.append((high, f"{statutory_label}未规定：该条款不能对此类当事人处以{label}。"))
    elif maximum > statutory:
        problems.append((high, f"{label}上限 {number_text(maximum)}{unit} 超过{statutory_label} {number_text(statutory)}{unit}。"))
    return problems


def number_text(value) -> str:
    value = Decimal(str(value))
    return f"{value:,.0f}".replace(",", "") if value == value.to_integral_value() else f"{value:.2f}"


def hearing_threshold_problems(rows) -> list[tuple[str, str, str]]:
    """Broken rules among hearing thresholds: (code, field, message)."""
    problems = []
    for index, row in enumerate(rows):
        valid_from, valid_to = _get(row, "valid_from"), _get(row, "valid_to")
        if valid_to is not None and valid_to < valid_from:
            problems.append((_get(row, "code"), "valid_to", "失效日期不能早于生效日期。"))
        for other in rows[:index]:
            if (_get(other, "party_kind"), _get(other, "penalty_type")) == (_get(row, "party_kind"),
                                                                            _get(row, "penalty_type")) \
                    and _overlap(_get(other, "valid_from"), _get(other, "valid_to"), valid_from, valid_to):
                problems.append((_get(row, "code"), "valid_from",
                                 f"与听证标准 {_get(other, 'code')} 的当事人类别、处罚种类相同且有效期重叠。"))
    return problems


def problem_lines(problems) -> list[str]:
    return [f"{code}{'/' + bcode if bcode else ''} · {field}：{message}" for code, bcode, field, message in problems]
