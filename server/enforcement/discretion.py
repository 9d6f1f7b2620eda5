"""Discretion checks for enforcement cases: the law in force on the act's date, the benchmark's
range for the circumstance, and whether a penalty gives the right to a hearing.

A penalty is a combination: the types decided together (警告; 行政拘留 并处 罚款; 责令改正、警告
并处罚款), with the fine in yuan and the detention in days. The benchmark lists the combinations
the article allows for the circumstance and party kind; anything else is refused (409) with the
article and what it allows named.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..registry.models.reference import (
    CIRCUMSTANCE_LABELS,
    CIRCUMSTANCES,
    LEGAL_PENALTY_TYPES,
    PARTY_KIND_LABELS,
    PARTY_KINDS,
    PENALTY_TYPE_LABELS,
    DiscretionBenchmark,
    HearingThreshold,
    LegalBasis,
)

__all__ = ["basis_in_force", "check_penalty", "describe_benchmark", "describe_combination", "hearing_right"]


def _date_text(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _validity_text(basis: LegalBasis) -> str:
    text = f"{_date_text(basis.valid_from)}起施行"
    if basis.valid_to is not None:
        text += f"，{_date_text(basis.valid_to)}止"
    return text


def _citation(basis: LegalBasis) -> str:
    """《法》第…条（2026年1月1日起施行）."""
    return f"《{basis.law}》{basis.article}（{_validity_text(basis)}）"


def _yuan(value) -> str:
    value = Decimal(str(value))
    return f"{value:.0f}" if value == value.to_integral_value() else f"{value:.2f}"


def _range_text(minimum, maximum, unit: str) -> str:
    if minimum is not None and Decimal(str(minimum)) > 0:
        if Decimal(str(minimum)) == Decimal(str(maximum)):
            return f"{_yuan(maximum)}{unit}"
        return f"{_yuan(minimum)}{unit}以上{_yuan(maximum)}{unit}以下"
    return f"{_yuan(maximum)}{unit}以下"


# The order in which a combination is printed: measures first, then the penalties, a fine last
# ("行政拘留5日并处罚款500元", "责令改正、警告并处罚款200元").
PRINT_ORDER = ("order_correction", "suspend", "warning", "detention", "fine")


def _ordered(types) -> list[str]:
    return sorted(types, key=lambda t: PRINT_ORDER.index(t) if t in PRINT_ORDER else len(PRINT_ORDER))


def _join(parts: dict[str, str]) -> str:
    """Parts by type joined as a combination: 、 between the others, 并处 before a fine."""
    others = [text for penalty_type, text in parts.items() if penalty_type != "fine"]
    text = "、".join(others)
    if "fine" in parts:
        text = f"{text}并处{parts['fine']}" if others else parts["fine"]
    return text


def describe_combination(penalty_types, *, fine_amount=None, detention_days=None) -> str:
    """One combination with its amounts as messages name it, e.g. 行政拘留5日并处罚款500元."""
    parts = {}
    for penalty_type in _ordered(penalty_types):
        label = PENALTY_TYPE_LABELS.get(penalty_type, penalty_type)
        if penalty_type == "fine" and fine_amount is not None:
            label += f"{_yuan(fine_amount)}元"
        elif penalty_type == "detention" and detention_days is not None:
            label += f"{_yuan(detention_days)}日"
        parts[penalty_type] = label
    return _join(parts)


def describe_benchmark(benchmark: DiscretionBenchmark) -> str:
    """The benchmark's combinations with their ranges as documents print them, e.g.
    警告；或罚款500元以下 — or 行政拘留5日以上10日以下；或行政拘留5日以上10日以下并处罚款1000元以下."""
    texts = []
    for combination in benchmark.combinations or []:
        parts = {}
        for penalty_type in _ordered(combination):
            label = PENALTY_TYPE_LABELS.get(penalty_type, penalty_type)
            if penalty_type == "fine" and benchmark.max_fine is not None:
                label += _range_text(benchmark.min_fine, benchmark.max_fine, "元")
            elif penalty_type == "detention" and benchmark.max_detention_days is not None:
                label += _range_text(benchmark.min_detention_days, benchmark.max_detention_days, "日")
            parts[penalty_type] = label
        texts.append(_join(parts))
    text = "；或".join(texts) if texts else "不设处罚"
    if benchmark.note:
        text += f"（{benchmark.note}）"
    return text


def _versions(provision: str) -> list[LegalBasis]:
    query = select(LegalBasis).options(selectinload(LegalBasis.benchmarks)).where(LegalBasis.provision == provision)
    return list(db.session.scalars(query.order_by(LegalBasis.valid_from)))


def basis_in_force(provision_or_code: str, on: date) -> LegalBasis:
    """The version in force on `on`, given a provision key or the code of any of its versions.

    NotFound for an unknown key; Conflict (409) naming the versions' validity when none is in force.
    """
    basis = db.session.scalar(select(LegalBasis).options(selectinload(LegalBasis.benchmarks))
                              .where(LegalBasis.code == provision_or_code))
    if basis is not None and basis.in_force(on):
        return basis
    provision = basis.provision if basis is not None else provision_or_code
    versions = _versions(provision)
    if not versions:
        raise NotFound(f"没有代码或条款键为 {provision_or_code} 的法律依据。")
    for version in versions:
        if version.in_force(on):
            return version
    periods = "；".join(_citation(version) for version in versions)
    raise Conflict(f"{on.isoformat()} 没有生效的版本：{periods}。", provision=provision,
                   versions=[{"code": v.code, "valid_from": v.valid_from.isoformat(),
                              "valid_to": v.valid_to.isoformat() if v.valid_to else None} for v in versions])


def _check_choice(errors: dict, name: str, value: str, options, labels: dict) -> None:
    if value not in options:
        errors[name] = [f"应为以下之一：{', '.join(options)}（{'、'.join(labels[o] for o in options)}）。"]


def _check_types(errors: dict, penalty_types) -> list[str]:
    if not isinstance(penalty_types, (list, tuple)) or not penalty_types:
        errors["penalty_types"] = ["至少选择一种处罚。"]
        return []
    unknown = [t for t in penalty_types if t not in LEGAL_PENALTY_TYPES]
    if unknown:
        errors["penalty_types"] = [f"未知处罚种类：{'、'.join(map(str, unknown))}；应为以下之一："
                                   + "、".join(f"{t}（{PENALTY_TYPE_LABELS[t]}）" for t in LEGAL_PENALTY_TYPES) + "。"]
    elif len(set(penalty_types)) != len(penalty_types):
        errors["penalty_types"] = ["同一处罚种类不能重复。"]
    return list(penalty_types)


def _amount(value) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError from None
    if not amount.is_finite():
        raise ValueError
    return amount


def _number(value):
    if value is None:
        return None
    value = Decimal(str(value))
    return int(value) if value == value.to_integral_value() else float(value)


def _allowed(basis: LegalBasis, benchmark: DiscretionBenchmark | None) -> dict:
    return {
        "basis_code": basis.code,
        "combinations": [list(c) for c in benchmark.combinations] if benchmark else [],
        "min_fine": _number(benchmark.min_fine) if benchmark else None,
        "max_fine": _number(benchmark.max_fine) if benchmark else None,
        "min_detention_days": benchmark.min_detention_days if benchmark else None,
        "max_detention_days": benchmark.max_detention_days if benchmark else None,
    }


def _check_amounts(errors: dict, types: list[str], fine_amount,
                   detention_days) -> tuple[Decimal | None, Decimal | None]:
    """The fine (yuan) and detention (days) as numbers; given exactly when their type is chosen."""
    values = {}
    for name, penalty_type, value, missing in (
            ("fine_amount", "fine", fine_amount, "罚款须填写金额（元）。"),
            ("detention_days", "detention", detention_days, "行政拘留须填写日数。")):
        try:
            number = _amount(value)
        except ValueError:
            errors[name] = ["应为数字。"]
            values[name] = None
            continue
        values[name] = number
        if penalty_type not in types:
            if number is not None:
                what = "金额" if penalty_type == "fine" else "日数"
                errors[name] = [f"未选择{PENALTY_TYPE_LABELS[penalty_type]}，不填写{what}。"]
        elif number is None:
            errors[name] = [missing]
        elif number <= 0:
            errors[name] = ["应大于 0。"]
        elif penalty_type == "detention" and number != number.to_integral_value():
            errors[name] = ["拘留日数应为整数。"]
    return values["fine_amount"], values["detention_days"]


def _combination_reason(types: list[str], benchmark: DiscretionBenchmark) -> str:
    """Why a combination is not among the benchmark's, in the words of the refusal."""
    allowed = [set(c) for c in benchmark.combinations]
    chosen = set(types)
    mandatory = set.intersection(*allowed) - chosen if allowed else set()
    if mandatory:
        return f"缺少必须同时给予的{'、'.join(PENALTY_TYPE_LABELS[t] for t in _ordered(mandatory))}"
    for penalty_type in _ordered(chosen):
        partners = [c - {penalty_type} for c in allowed if penalty_type in c]
        if partners and all(partners) and not any(p <= chosen for p in partners):
            needed = "或".join("、".join(PENALTY_TYPE_LABELS[t] for t in _ordered(p)) for p in partners)
            return f"{PENALTY_TYPE_LABELS[penalty_type]}只能与{needed}并处，不能单独适用"
    return "该组合不是允许的处罚组合之一"


def check_penalty(*, basis_code: str, circumstance: str, party_kind: str, penalty_types, fine_amount=None,
                  detention_days=None, act_date: date) -> DiscretionBenchmark:
    """The benchmark that allows this penalty combination on the act's date, or Conflict (409)
    naming the article and what it allows.

    A combination is the types decided together (["detention", "fine"]) with the fine in yuan and
    the detention in days. The basis is resolved to the version of its provision in force on
    `act_date`; the combination must be one the benchmark for the circumstance and party kind
    lists, and its fine and days inside the benchmark's ranges. Invalid (422) for an unknown
    circumstance, party kind or type, or an amount missing for (or given without) its type.
    """
    errors: dict = {}
    _check_choice(errors, "circumstance", circumstance, CIRCUMSTANCES, CIRCUMSTANCE_LABELS)
    _check_choice(errors, "party_kind", party_kind, PARTY_KINDS, PARTY_KIND_LABELS)
    types = _check_types(errors, penalty_types)
    fine, days = (None, None) if "penalty_types" in errors else _check_amounts(errors, types, fine_amount,
                                                                                detention_days)
    if errors:
        raise Invalid("处罚内容无效，请查看 errors 中各字段的说明。", errors=errors)

    basis = basis_in_force(basis_code, act_date)
    who = f"{PARTY_KIND_LABELS[party_kind]}{CIRCUMSTANCE_LABELS[circumstance]}"
    lead = f"依据{_citation(basis)}"
    proposed = describe_combination(types, fine_amount=fine, detention_days=days)
    benchmark = next((b for b in basis.benchmarks
                      if (b.circumstance, b.party_kind) == (circumstance, party_kind) and b.in_force(act_date)), None)
    if "detention" in types and party_kind != "individual":
        raise Conflict(f"{lead}，行政拘留只能对个人适用，不能对单位处以行政拘留；拟处{proposed}不能作出。",
                       allowed=_allowed(basis, benchmark))
    outside = [t for t in types if t not in (basis.penalty_types or [])]
    if outside:
        statutory = "、".join(PENALTY_TYPE_LABELS[t] for t in _ordered(basis.penalty_types or [])) or "无"
        raise Conflict(f"{lead}规定的处罚种类为：{statutory}，没有{'、'.join(PENALTY_TYPE_LABELS[t] for t in outside)}；"
                       f"不能据此处以{proposed}。", allowed=_allowed(basis, benchmark))
    if benchmark is None:
        raise Conflict(f"{lead}，没有适用于{who}的裁量基准，不能据此处以{proposed}。",
                       allowed=_allowed(basis, None))
    refusal = f"{lead}，{who}的裁量基准为：{describe_benchmark(benchmark)}；"
    if set(types) not in [set(c) for c in benchmark.combinations]:
        raise Conflict(refusal + f"拟处{proposed}不在允许的处罚组合之内（{_combination_reason(types, benchmark)}）。",
                       allowed=_allowed(basis, benchmark))
    for value, low, high, label in ((fine, benchmark.min_fine, benchmark.max_fine, "罚款"),
                                    (days, benchmark.min_detention_days, benchmark.max_detention_days, "拘留日数")):
        if value is None:
            continue
        if (low is not None and value < Decimal(str(low))) or (high is not None and value > Decimal(str(high))):
            raise Conflict(refusal + f"拟处{proposed}，{label}超出该范围。", allowed=_allowed(basis, benchmark))
    return benchmark


def hearing_right(*, party_kind: str, penalty_types, fine_amount=None, on: date, minor: bool = False) -> bool:
    """Whether the combination gives the party the right to ask for a hearing, by the thresholds
    in force on `on`: any of its types that carries the right (a fine from its threshold amount;
    a row for minors only when `minor`, the party being under 18 on the date of the act)."""
    errors: dict = {}
    _check_choice(errors, "party_kind", party_kind, PARTY_KINDS, PARTY_KIND_LABELS)
    types = _check_types(errors, penalty_types)
    try:
        value = _amount(fine_amount)
    except ValueError:
        value = None
        errors["fine_amount"] = ["应为数字。"]
    if errors:
        raise Invalid("听证判断的参数无效，请查看 errors 中各字段的说明。", errors=errors)
    thresholds = [t for t in db.session.scalars(select(HearingThreshold)) if t.in_force(on)]
    if not thresholds:
        raise Conflict(f"没有在 {on.isoformat()} 有效的听证标准。")
    for threshold in thresholds:
        if threshold.penalty_type not in types or threshold.party_kind not in (party_kind, "any"):
            continue
        if threshold.minors_only and not minor:
            continue
        if threshold.min_amount is None or (threshold.penalty_type == "fine" and value is not None
                                            and value >= Decimal(str(threshold.min_amount))):
            return True
    return False
