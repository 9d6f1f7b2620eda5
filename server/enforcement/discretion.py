"""Discretion checks for enforcement cases: the law in force on the act's date, the benchmark's
range for the circumstance, and whether a penalty gives the right to a hearing.

A penalty is checked one type at a time (a warning, a fine, a detention …): a case deciding a
warning and a fine calls `check_penalty` twice. For a fine `amount` is yuan; for a detention it
is days; other types take no amount.
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

__all__ = ["basis_in_force", "check_penalty", "describe_benchmark", "hearing_right"]


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


def describe_benchmark(benchmark: DiscretionBenchmark) -> str:
    """The benchmark's range as documents print it, e.g. 警告，或罚款500元以下."""
    parts = []
    for penalty_type in benchmark.penalty_types:
        label = PENALTY_TYPE_LABELS.get(penalty_type, penalty_type)
        if penalty_type == "fine" and benchmark.max_fine is not None:
            parts.append(f"{label}{_range_text(benchmark.min_fine, benchmark.max_fine, '元')}")
        elif penalty_type == "detention" and benchmark.max_detention_days is not None:
            parts.append(f"{label}{_range_text(benchmark.min_detention_days, benchmark.max_detention_days, '日')}")
        else:
            parts.append(label)
    text = "，或".join(parts) if parts else "不设处罚"
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
        "penalty_types": list(benchmark.penalty_types) if benchmark else [],
        "min_fine": _number(benchmark.min_fine) if benchmark else None,
        "max_fine": _number(benchmark.max_fine) if benchmark else None,
    }


def check_penalty(*, basis_code: str, circumstance: str, party_kind: str, penalty_type: str,
                  amount: int | Decimal | None, act_date: date) -> DiscretionBenchmark:
    """The benchmark that allows this penalty on the act's date, or Conflict naming the allowed range.

    The basis is resolved to the version of its provision in force on `act_date`. Invalid (422)
    for an unknown circumstance, party kind or penalty type, or an amount that does not fit the type.
    """
    errors: dict = {}
    _check_choice(errors, "circumstance", circumstance, CIRCUMSTANCES, CIRCUMSTANCE_LABELS)
    _check_choice(errors, "party_kind", party_kind, PARTY_KINDS, PARTY_KIND_LABELS)
    _check_choice(errors, "penalty_type", penalty_type, LEGAL_PENALTY_TYPES, PENALTY_TYPE_LABELS)
    try:
        value = _amount(amount)
    except ValueError:
        value = None
        errors["amount"] = ["应为数字。"]
    if not errors:
        if penalty_type in ("fine", "detention"):
            if value is None:
                errors["amount"] = ["罚款须填写金额（元）。" if penalty_type == "fine" else "行政拘留须填写日数。"]
            elif value <= 0:
                errors["amount"] = ["应大于 0。"]
            elif penalty_type == "detention" and value != value.to_integral_value():
                errors["amount"] = ["拘留日数应为整数。"]
        elif value is not None:
            errors["amount"] = [f"{PENALTY_TYPE_LABELS[penalty_type]}不填写金额或日数。"]
    if errors:
        raise Invalid("处罚内容无效，请查看 errors 中各字段的说明。", errors=errors)

    basis = basis_in_force(basis_code, act_date)
    who = f"{PARTY_KIND_LABELS[party_kind]}{CIRCUMSTANCE_LABELS[circumstance]}"
    lead = f"依据{_citation(basis)}"
    proposed = PENALTY_TYPE_LABELS[penalty_type]
    if penalty_type == "fine":
        proposed += f"{_yuan(value)}元"
    elif penalty_type == "detention":
        proposed += f"{_yuan(value)}日"

    benchmark = next((b for b in basis.benchmarks
                      if (b.circumstance, b.party_kind) == (circumstance, party_kind) and b.in_force(act_date)), None)
    if benchmark is None:
        raise Conflict(f"{lead}，没有适用于{who}的裁量基准，不能据此处以{proposed}。",
                       allowed=_allowed(basis, None))
    refusal = f"{lead}，{who}的裁量基准为：{describe_benchmark(benchmark)}；"
    if penalty_type not in benchmark.penalty_types:
        raise Conflict(refusal + f"拟处{proposed}不在该基准之内。", allowed=_allowed(basis, benchmark))
    if penalty_type == "fine":
        low, high = benchmark.min_fine, benchmark.max_fine
    elif penalty_type == "detention":
        low, high = benchmark.min_detention_days, benchmark.max_detention_days
    else:
        return benchmark
    if (low is not None and value < Decimal(str(low))) or value > Decimal(str(high)):
        raise Conflict(refusal + f"拟处{proposed}超出该范围。", allowed=_allowed(basis, benchmark))
    return benchmark


def hearing_right(*, party_kind: str, penalty_type: str, amount, on: date) -> bool:
    """Whether the penalty gives the party the right to ask for a hearing, by the thresholds in force on `on`."""
    errors: dict = {}
    _check_choice(errors, "party_kind", party_kind, PARTY_KINDS, PARTY_KIND_LABELS)
    _check_choice(errors, "penalty_type", penalty_type, LEGAL_PENALTY_TYPES, PENALTY_TYPE_LABELS)
    try:
        value = _amount(amount)
    except ValueError:
        value = None
        errors["amount"] = ["应为数字。"]
    if errors:
        raise Invalid("听证判断的参数无效，请查看 errors 中各字段的说明。", errors=errors)
    thresholds = [t for t in db.session.scalars(select(HearingThreshold)) if t.in_force(on)]
    if not thresholds:
        raise Conflict(f"没有在 {on.isoformat()} 有效的听证标准。")
    for threshold in thresholds:
        if threshold.penalty_type != penalty_type or threshold.party_kind not in (party_kind, "any"):
            continue
        if threshold.min_amount is None or (value is not None and value >= Decimal(str(threshold.min_amount))):
            return True
    return False
