"""discretion.check_penalty / basis_in_force / hearing_right / describe_benchmark against the
shipped legal bases (server/reference/legal_bases.yaml, hearing_thresholds.yaml)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from server.enforcement.discretion import basis_in_force, check_penalty, describe_benchmark, hearing_right
from server.errors import Conflict, Invalid, NotFound

PSAPL_2012 = "psapl2012_art50_1_1"
PSAPL_2025 = "psapl2025_art61_1_1"
IDPL_2013 = "idpl2013_art42"
IDPL_2025 = "idpl2025_art111_1_1"

# (basis given, circumstance, party, type, amount, act date, allowed?, version that applies)
PENALTIES = [
    # 治安管理处罚法: 第五十条 until 2025-12-31, 第六十一条 from 2026-01-01.
    pytest.param(PSAPL_2012, "first", "individual", "fine", 300, date(2025, 12, 31), False, PSAPL_2012,
                 id="psapl-300-before-revision-refused"),
    pytest.param(PSAPL_2012, "first", "individual", "fine", 300, date(2026, 1, 1), True, PSAPL_2025,
                 id="psapl-300-after-revision-allowed"),
    pytest.param("psapl-emergency-order", "first", "individual", "fine", 200, date(2025, 12, 31), True, PSAPL_2012,
                 id="psapl2012-max-included"),
    pytest.param("psapl-emergency-order", "first", "individual", "fine", 201, date(2025, 12, 31), False, PSAPL_2012,
                 id="psapl2012-one-over"),
    pytest.param(PSAPL_2025, "first", "individual", "fine", 500, date(2026, 1, 1), True, PSAPL_2025,
                 id="psapl2025-max-included"),
    pytest.param(PSAPL_2025, "first", "individual", "fine", 501, date(2026, 1, 1), False, PSAPL_2025,
                 id="psapl2025-one-over"),
    pytest.param(PSAPL_2025, "first", "individual", "warning", None, date(2026, 3, 1), True, PSAPL_2025,
                 id="psapl2025-warning"),
    pytest.param(PSAPL_2025, "first", "individual", "detention", 5, date(2026, 3, 1), False, PSAPL_2025,
                 id="psapl2025-first-no-detention"),
    pytest.param(PSAPL_2025, "serious", "individual", "detention", 10, date(2026, 3, 1), True, PSAPL_2025,
                 id="psapl2025-serious-10-days"),
    pytest.param(PSAPL_2025, "serious", "individual", "detention", 11, date(2026, 3, 1), False, PSAPL_2025,
                 id="psapl2025-serious-11-days"),
    pytest.param(PSAPL_2025, "serious", "individual", "detention", 4, date(2026, 3, 1), False, PSAPL_2025,
                 id="psapl2025-serious-4-days"),
    pytest.param(PSAPL_2012, "serious", "individual", "fine", 500, date(2021, 12, 20), True, PSAPL_2012,
                 id="psapl2012-serious-fine-500"),
    pytest.param(PSAPL_2012, "repeated", "individual", "fine", 99, date(2021, 12, 20), False, PSAPL_2012,
                 id="psapl2012-repeated-below-minimum"),
    pytest.param(PSAPL_2012, "first", "unit", "fine", 100, date(2021, 12, 20), False, PSAPL_2012,
                 id="psapl-no-unit-benchmark"),
    # 传染病防治法: 第四十二条 (no fine) until 2025-08-31, 第一百一十一条 from 2025-09-01.
    pytest.param(IDPL_2025, "refused", "unit", "fine", 20000, date(2025, 9, 1), True, IDPL_2025,
                 id="idpl-unit-20000-allowed"),
    pytest.param(IDPL_2025, "refused", "unit", "fine", 20001, date(2025, 9, 1), False, IDPL_2025,
                 id="idpl-unit-20001-refused"),
    pytest.param(IDPL_2025, "refused", "unit", "fine", 20000, date(2025, 8, 31), False, IDPL_2013,
                 id="idpl-unit-fine-under-2013-text-refused"),
    pytest.param(IDPL_2013, "refused", "unit", "order_correction", None, date(2021, 12, 20), True, IDPL_2013,
                 id="idpl2013-order-correction"),
    pytest.param(IDPL_2025, "refused", "individual", "fine", 1000, date(2025, 9, 1), True, IDPL_2025,
                 id="idpl-individual-1000"),
    pytest.param(IDPL_2025, "refused", "individual", "fine", Decimal("1000.01"), date(2025, 9, 1), False, IDPL_2025,
                 id="idpl-individual-1000.01"),
    pytest.param(IDPL_2025, "first", "unit", "fine", 5001, date(2025, 9, 1), False, IDPL_2025,
                 id="idpl-unit-first-over-benchmark"),
    # 突发事件应对法: 第六十六条 sets no penalty of its own; 2024 第九十八条 orders correction.
    pytest.param("erl2007_art66", "refused", "unit", "order_correction", None, date(2021, 12, 20), False,
                 "erl2007_art66", id="erl2007-no-own-penalty"),
    pytest.param("erl2007_art66", "refused", "unit", "order_correction", None, date(2025, 1, 1), True,
                 "erl2024_art98", id="erl-code-resolves-to-2024-text"),
]


@pytest.mark.parametrize(("basis", "circumstance", "party", "kind", "amount", "act_date", "allowed", "applies"),
                         PENALTIES)
def test_penalty_against_benchmark(db, basis, circumstance, party, kind, amount, act_date, allowed, applies):
    arguments = dict(basis_code=basis, circumstance=circumstance, party_kind=party, penalty_type=kind,
                     amount=amount, act_date=act_date)
    if allowed:
        benchmark = check_penalty(**arguments)
        assert benchmark.legal_basis.code == applies
        assert (benchmark.circumstance, benchmark.party_kind) == (circumstance, party)
        assert kind in benchmark.penalty_types
    else:
        with pytest.raises(Conflict) as caught:
            check_penalty(**arguments)
        assert caught.value.extra["allowed"]["basis_code"] == applies
        assert caught.value.status == 409


def test_refusal_names_law_article_validity_and_range(db):
    with pytest.raises(Conflict) as caught:
        check_penalty(basis_code=PSAPL_2025, circumstance="first", party_kind="individual", penalty_type="fine",
                      amount=800, act_date=date(2026, 2, 1))
    assert caught.value.detail == (
        "依据《中华人民共和国治安管理处罚法》第六十一条第一款第（一）项（2026年1月1日起施行），"
        "个人初次违法的裁量基准为：警告，或罚款500元以下；拟处罚款800元超出该范围。")
    assert caught.value.extra["allowed"] == {"basis_code": PSAPL_2025, "penalty_types": ["warning", "fine"],
                                             "min_fine": None, "max_fine": 500}


def test_refusal_under_old_text_names_its_end(db):
    with pytest.raises(Conflict) as caught:
        check_penalty(basis_code=IDPL_2025, circumstance="refused", party_kind="unit", penalty_type="fine",
                      amount=20000, act_date=date(2025, 8, 31))
    assert "《中华人民共和国传染病防治法》第四十二条（2004年12月1日起施行，2025年8月31日止）" in caught.value.detail
    assert "单位拒不配合的裁量基准为：责令改正" in caught.value.detail
    assert caught.value.extra["allowed"] == {"basis_code": IDPL_2013, "penalty_types": ["order_correction"],
                                             "min_fine": None, "max_fine": None}


@pytest.mark.parametrize(("field", "overrides"), [
    ("circumstance", {"circumstance": "drunk"}),
    ("party_kind", {"party_kind": "company"}),
    ("penalty_type", {"penalty_type": "confiscation"}),
    ("amount", {"amount": None}),
    ("amount", {"amount": -5}),
    ("amount", {"penalty_type": "warning", "amount": 100}),
    ("amount", {"penalty_type": "detention", "amount": Decimal("5.5")}),
])
def test_unknown_values_are_invalid(db, field, overrides):
    arguments = dict(basis_code=PSAPL_2025, circumstance="first", party_kind="individual", penalty_type="fine",
                     amount=100, act_date=date(2026, 2, 1))
    arguments.update(overrides)
    with pytest.raises(Invalid) as caught:
        check_penalty(**arguments)
    assert caught.value.status == 422
    assert field in caught.value.errors


@pytest.mark.parametrize(("key", "on", "expected"), [
    ("psapl-emergency-order", date(2021, 12, 14), PSAPL_2012),
    ("psapl-emergency-order", date(2025, 12, 31), PSAPL_2012),
    ("psapl-emergency-order", date(2026, 1, 1), PSAPL_2025),
    (PSAPL_2012, date(2026, 6, 1), PSAPL_2025),
    (PSAPL_2025, date(2021, 12, 14), PSAPL_2012),
    ("idpl-epidemic-control-measures", date(2025, 8, 31), IDPL_2013),
    ("idpl-epidemic-control-measures", date(2025, 9, 1), IDPL_2025),
    ("erl-disobedience", date(2024, 10, 31), "erl2007_art66"),
    ("erl-disobedience", date(2024, 11, 1), "erl2024_art98"),
])
def test_basis_in_force(db, key, on, expected):
    assert basis_in_force(key, on).code == expected


def test_basis_unknown_is_not_found(db):
    with pytest.raises(NotFound):
        basis_in_force("no-such-provision", date(2026, 1, 1))


def test_basis_before_any_version_names_the_validity(db):
    with pytest.raises(Conflict) as caught:
        basis_in_force(PSAPL_2025, date(2005, 6, 1))
    assert "2005-06-01 没有生效的版本" in caught.value.detail
    assert "第五十条第一款第（一）项（2006年3月1日起施行，2025年12月31日止）" in caught.value.detail
    assert [v["code"] for v in caught.value.extra["versions"]] == [PSAPL_2012, PSAPL_2025]


@pytest.mark.parametrize(("party", "kind", "amount", "expected"), [
    ("individual", "fine", 1999, False),
    ("individual", "fine", 2000, True),
    ("individual", "fine", Decimal("1999.99"), False),
    ("unit", "fine", 9999, False),
    ("unit", "fine", 10000, True),
    ("unit", "fine", 2000, False),
    ("unit", "suspend", None, True),
    ("individual", "suspend", None, True),
    ("individual", "warning", None, False),
    ("individual", "detention", 10, False),
])
def test_hearing_thresholds(db, party, kind, amount, expected):
    assert hearing_right(party_kind=party, penalty_type=kind, amount=amount, on=date(2026, 3, 1)) is expected


def test_hearing_threshold_validity_period(db):
    from server.registry.models.reference import HearingThreshold

    db.session.add(HearingThreshold(code="test_hearing_detention", party_kind="individual", penalty_type="detention",
                                    min_amount=None, source="测试", valid_from=date(2030, 1, 1),
                                    valid_to=date(2030, 12, 31)))
    db.session.flush()
    assert hearing_right(party_kind="individual", penalty_type="detention", amount=5, on=date(2030, 6, 1))
    assert not hearing_right(party_kind="individual", penalty_type="detention", amount=5, on=date(2031, 1, 1))
    with pytest.raises(Conflict, match="没有在 1990-01-01 有效的听证标准"):
        hearing_right(party_kind="individual", penalty_type="fine", amount=5000, on=date(1990, 1, 1))
    with pytest.raises(Invalid):
        hearing_right(party_kind="company", penalty_type="fine", amount=5000, on=date(2026, 1, 1))


@pytest.mark.parametrize(("code", "text"), [
    ("psapl2025_art61_first_individual", "警告，或罚款500元以下"),
    ("psapl2012_art50_repeated_individual", "罚款100元以上200元以下（从重处罚（第二十条第（四）项：六个月内曾受过治安管理处罚））"),
    ("psapl2025_art61_serious_individual", "行政拘留5日以上10日以下，或罚款1000元以下（罚款可以与拘留并处）"),
    ("idpl2025_art111_refused_unit", "责令改正，或警告，或罚款10000元以上20000元以下"),
])
def test_describe_benchmark(db, code, text):
    from sqlalchemy import select

    from server.registry.models.reference import DiscretionBenchmark

    assert describe_benchmark(db.session.scalar(select(DiscretionBenchmark).filter_by(code=code))) == text
