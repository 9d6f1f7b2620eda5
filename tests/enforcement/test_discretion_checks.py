"""discretion.check_penalty / basis_in_force / hearing_right / describe_benchmark against the
shipped legal bases (server/reference/legal_bases.yaml, hearing_thresholds.yaml)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from itertools import combinations

import pytest

from server.enforcement.discretion import basis_in_force, check_penalty, describe_benchmark, hearing_right
from server.errors import Conflict, Invalid, NotFound
from server.registry.models.reference import LEGAL_PENALTY_TYPES

PSAPL_2012 = "psapl2012_art50_1_1"
PSAPL_2025 = "psapl2025_art61_1_1"
IDPL_2013 = "idpl2013_art42"
IDPL_2025 = "idpl2025_art111_1_1"

# (basis given, circumstance, party, combination, fine, days, act date, allowed?, version that applies)
PENALTIES = [
    # 治安管理处罚法: 第五十条 until 2025-12-31, 第六十一条 from 2026-01-01.
    pytest.param(PSAPL_2012, "first", "individual", ["fine"], 300, None, date(2025, 12, 31), False, PSAPL_2012,
                 id="psapl-300-before-revision-refused"),
    pytest.param(PSAPL_2012, "first", "individual", ["fine"], 300, None, date(2026, 1, 1), True, PSAPL_2025,
                 id="psapl-300-after-revision-allowed"),
    pytest.param("psapl-emergency-order", "first", "individual", ["fine"], 200, None, date(2025, 12, 31), True,
                 PSAPL_2012, id="psapl2012-max-included"),
    pytest.param("psapl-emergency-order", "first", "individual", ["fine"], 201, None, date(2025, 12, 31), False,
                 PSAPL_2012, id="psapl2012-one-over"),
    pytest.param(PSAPL_2025, "first", "individual", ["fine"], 500, None, date(2026, 1, 1), True, PSAPL_2025,
                 id="psapl2025-max-included"),
    pytest.param(PSAPL_2025, "first", "individual", ["fine"], 501, None, date(2026, 1, 1), False, PSAPL_2025,
                 id="psapl2025-one-over"),
    pytest.param(PSAPL_2025, "first", "individual", ["warning"], None, None, date(2026, 3, 1), True, PSAPL_2025,
                 id="psapl2025-warning"),
    pytest.param(PSAPL_2025, "first", "individual", ["warning", "fine"], 100, None, date(2026, 3, 1), False,
                 PSAPL_2025, id="psapl2025-warning-and-fine-refused"),
    pytest.param(PSAPL_2025, "first", "individual", ["detention"], None, 5, date(2026, 3, 1), False, PSAPL_2025,
                 id="psapl2025-first-no-detention"),
    pytest.param(PSAPL_2025, "serious", "individual", ["detention"], None, 10, date(2026, 3, 1), True, PSAPL_2025,
                 id="psapl2025-serious-10-days"),
    pytest.param(PSAPL_2025, "serious", "individual", ["detention", "fine"], 1000, 10, date(2026, 3, 1), True,
                 PSAPL_2025, id="psapl2025-serious-detention-and-fine-1000"),
    pytest.param(PSAPL_2025, "serious", "individual", ["detention", "fine"], 1001, 10, date(2026, 3, 1), False,
                 PSAPL_2025, id="psapl2025-serious-fine-1001"),
    pytest.param(PSAPL_2025, "serious", "individual", ["detention"], None, 11, date(2026, 3, 1), False, PSAPL_2025,
                 id="psapl2025-serious-11-days"),
    pytest.param(PSAPL_2025, "serious", "individual", ["detention"], None, 4, date(2026, 3, 1), False, PSAPL_2025,
                 id="psapl2025-serious-4-days"),
    pytest.param(PSAPL_2025, "serious", "individual", ["fine"], 800, None, date(2026, 3, 1), False, PSAPL_2025,
                 id="psapl2025-serious-fine-without-detention-refused"),
    pytest.param(PSAPL_2012, "serious", "individual", ["fine"], 500, None, date(2021, 12, 20), False, PSAPL_2012,
                 id="psapl2012-serious-fine-without-detention-refused"),
    pytest.param(PSAPL_2012, "serious", "individual", ["detention", "fine"], 500, 5, date(2021, 12, 20), True,
                 PSAPL_2012, id="psapl2012-serious-detention-and-fine-500"),
    pytest.param(PSAPL_2012, "repeated", "individual", ["fine"], 99, None, date(2021, 12, 20), False, PSAPL_2012,
                 id="psapl2012-repeated-below-minimum"),
    pytest.param(PSAPL_2012, "first", "unit", ["fine"], 100, None, date(2021, 12, 20), False, PSAPL_2012,
                 id="psapl-no-unit-benchmark"),
    # 传染病防治法: 第四十二条 (no fine) until 2025-08-31, 第一百一十一条 from 2025-09-01.
    pytest.param(IDPL_2025, "refused", "unit", ["order_correction", "warning", "fine"], 20000, None, date(2025, 9, 1),
                 True, IDPL_2025, id="idpl-unit-20000-allowed"),
    pytest.param(IDPL_2025, "refused", "unit", ["order_correction", "warning", "fine"], 20001, None, date(2025, 9, 1),
                 False, IDPL_2025, id="idpl-unit-20001-refused"),
    pytest.param(IDPL_2025, "refused", "unit", ["order_correction", "warning"], None, None, date(2025, 9, 1),
                 True, IDPL_2025, id="idpl-unit-without-fine-allowed"),
    pytest.param(IDPL_2025, "refused", "unit", ["fine"], 20000, None, date(2025, 9, 1), False, IDPL_2025,
                 id="idpl-fine-alone-refused"),
    pytest.param(IDPL_2025, "refused", "unit", ["order_correction", "warning", "fine"], 20000, None,
                 date(2025, 8, 31), False, IDPL_2013, id="idpl-unit-fine-under-2013-text-refused"),
    pytest.param(IDPL_2013, "refused", "unit", ["order_correction"], None, None, date(2021, 12, 20), True, IDPL_2013,
                 id="idpl2013-order-correction"),
    pytest.param(IDPL_2025, "refused", "individual", ["order_correction", "warning", "fine"], 1000, None,
                 date(2025, 9, 1), True, IDPL_2025, id="idpl-individual-1000"),
    pytest.param(IDPL_2025, "refused", "individual", ["order_correction", "warning", "fine"], Decimal("1000.01"),
                 None, date(2025, 9, 1), False, IDPL_2025, id="idpl-individual-1000.01"),
    pytest.param(IDPL_2025, "first", "unit", ["order_correction", "warning", "fine"], 5001, None, date(2025, 9, 1),
                 False, IDPL_2025, id="idpl-unit-first-over-benchmark"),
    # 突发事件应对法: 第六十六条 sets no penalty of its own; 2024 第九十八条 orders correction.
    pytest.param("erl2007_art66", "refused", "unit", ["order_correction"], None, None, date(2021, 12, 20), False,
                 "erl2007_art66", id="erl2007-no-own-penalty"),
    pytest.param("erl2007_art66", "refused", "unit", ["order_correction"], None, None, date(2025, 1, 1), True,
                 "erl2024_art98", id="erl-code-resolves-to-2024-text"),
]


@pytest.mark.parametrize(("basis", "circumstance", "party", "types", "fine", "days", "act_date", "allowed",
                          "applies"), PENALTIES)
def test_penalty_against_benchmark(db, basis, circumstance, party, types, fine, days, act_date, allowed, applies):
    arguments = dict(basis_code=basis, circumstance=circumstance, party_kind=party, penalty_types=types,
                     fine_amount=fine, detention_days=days, act_date=act_date)
    if allowed:
        benchmark = check_penalty(**arguments)
        assert benchmark.legal_basis.code == applies
        assert (benchmark.circumstance, benchmark.party_kind) == (circumstance, party)
        assert set(types) in [set(c) for c in benchmark.combinations]
    else:
        with pytest.raises(Conflict) as caught:
            check_penalty(**arguments)
        assert caught.value.extra["allowed"]["basis_code"] == applies
        assert caught.value.status == 409


# What each article allows per circumstance and party, read from the law (not from the file):
# 治安管理处罚法 "处警告或者…罚款；情节严重的，处五日以上十日以下拘留，可以并处…罚款" (the system's
# default benchmark treats 拒不配合 as 情节严重 and 再次违法 as a heavier fine); 传染病防治法 2025
# "责令改正，给予警告，…可以并处…罚款"; 传染病防治法 2013 第四十二条 and 突发事件应对法 2024
# 第九十八条 only an order to correct.
PSAPL = {"first": [{"warning"}, {"fine"}], "repeated": [{"fine"}],
         "refused": [{"detention"}, {"detention", "fine"}], "serious": [{"detention"}, {"detention", "fine"}]}
IDPL_2025_ALLOWED = [{"order_correction", "warning"}, {"order_correction", "warning", "fine"}]
ALLOWED_BY_LAW = [
    *[(PSAPL_2012, date(2025, 6, 1), c, "individual", allowed) for c, allowed in PSAPL.items()],
    *[(PSAPL_2025, date(2026, 3, 1), c, "individual", allowed) for c, allowed in PSAPL.items()],
    *[(IDPL_2025, date(2025, 10, 1), c, p, IDPL_2025_ALLOWED)
      for c in ("first", "repeated", "refused", "serious") for p in ("individual", "unit")],
    *[(IDPL_2013, date(2021, 12, 20), c, p, [{"order_correction"}])
      for c in ("first", "repeated", "refused") for p in ("individual", "unit")],
    *[("erl2024_art98", date(2025, 1, 1), c, p, [{"order_correction"}])
      for c in ("first", "repeated", "refused") for p in ("individual", "unit")],
]
ALL_COMBINATIONS = [set(c) for n in range(1, len(LEGAL_PENALTY_TYPES) + 1)
                    for c in combinations(LEGAL_PENALTY_TYPES, n)]


@pytest.mark.parametrize(("basis", "act_date", "circumstance", "party", "allowed"), ALLOWED_BY_LAW,
                         ids=[f"{b}-{c}-{p}" for b, _, c, p, _ in ALLOWED_BY_LAW])
def test_every_combination_of_each_basis(db, basis, act_date, circumstance, party, allowed):
    """Each of the 31 combinations of the five types is allowed exactly when the article allows it
    (the fine and the days at the benchmark's maximum, so that only the combination decides)."""
    row = next(b for b in basis_in_force(basis, act_date).benchmarks
               if (b.circumstance, b.party_kind) == (circumstance, party))
    assert [set(c) for c in row.combinations] == allowed
    for types in ALL_COMBINATIONS:
        arguments = dict(basis_code=basis, circumstance=circumstance, party_kind=party, penalty_types=sorted(types),
                         fine_amount=(row.max_fine or 100) if "fine" in types else None,
                         detention_days=(row.max_detention_days or 5) if "detention" in types else None,
                         act_date=act_date)
        if types in allowed:
            assert check_penalty(**arguments) is row
        else:
            with pytest.raises(Conflict):
                check_penalty(**arguments)


def test_serious_fine_without_detention_is_refused_naming_the_article(db):
    with pytest.raises(Conflict) as caught:
        check_penalty(basis_code=PSAPL_2025, circumstance="serious", party_kind="individual", penalty_types=["fine"],
                      fine_amount=800, act_date=date(2026, 2, 1))
    assert caught.value.detail == (
        "依据《中华人民共和国治安管理处罚法》第六十一条第一款第（一）项（2026年1月1日起施行），"
        "个人情节严重的裁量基准为：行政拘留5日以上10日以下；或行政拘留5日以上10日以下并处罚款1000元以下"
        "（罚款可以与拘留并处）；拟处罚款800元不在允许的处罚组合之内（缺少必须同时给予的行政拘留）。")
    assert caught.value.extra["allowed"]["combinations"] == [["detention"], ["detention", "fine"]]
    with pytest.raises(Conflict, match="《中华人民共和国治安管理处罚法》第五十条第一款第（一）项"):
        check_penalty(basis_code=PSAPL_2012, circumstance="serious", party_kind="individual", penalty_types=["fine"],
                      fine_amount=300, act_date=date(2021, 12, 20))


def test_detention_of_a_unit_is_refused(db):
    with pytest.raises(Conflict) as caught:
        check_penalty(basis_code=PSAPL_2025, circumstance="serious", party_kind="unit",
                      penalty_types=["detention"], detention_days=5, act_date=date(2026, 2, 1))
    assert "《中华人民共和国治安管理处罚法》第六十一条" in caught.value.detail
    assert "行政拘留只能对个人适用，不能对单位处以行政拘留" in caught.value.detail


def test_suspension_where_the_article_has_none_is_refused(db):
    with pytest.raises(Conflict) as caught:
        check_penalty(basis_code=IDPL_2025, circumstance="first", party_kind="unit", penalty_types=["suspend"],
                      act_date=date(2025, 10, 1))
    assert caught.value.detail == (
        "依据《中华人民共和国传染病防治法》第一百一十一条第一款第（一）项（2025年9月1日起施行）规定的处罚种类为："
        "责令改正、警告、罚款，没有责令停产停业；不能据此处以责令停产停业。")


def test_idpl2025_fine_without_the_mandatory_warning_is_refused(db):
    with pytest.raises(Conflict) as caught:
        check_penalty(basis_code=IDPL_2025, circumstance="first", party_kind="unit",
                      penalty_types=["order_correction", "fine"], fine_amount=1000, act_date=date(2025, 10, 1))
    assert "《中华人民共和国传染病防治法》第一百一十一条第一款第（一）项" in caught.value.detail
    assert "单位初次违法的裁量基准为：责令改正、警告；或责令改正、警告并处罚款5000元以下" in caught.value.detail
    assert "拟处责令改正并处罚款1000元不在允许的处罚组合之内（缺少必须同时给予的警告）" in caught.value.detail


def test_refusal_under_old_text_names_its_end(db):
    with pytest.raises(Conflict) as caught:
        check_penalty(basis_code=IDPL_2025, circumstance="refused", party_kind="unit",
                      penalty_types=["order_correction", "warning", "fine"], fine_amount=20000,
                      act_date=date(2025, 8, 31))
    assert "《中华人民共和国传染病防治法》第四十二条（2004年12月1日起施行，2025年8月31日止）" in caught.value.detail
    assert caught.value.extra["allowed"]["basis_code"] == IDPL_2013


@pytest.mark.parametrize(("field", "overrides"), [
    ("circumstance", {"circumstance": "drunk"}),
    ("party_kind", {"party_kind": "company"}),
    ("penalty_types", {"penalty_types": ["confiscation"]}),
    ("penalty_types", {"penalty_types": []}),
    ("penalty_types", {"penalty_types": ["fine", "fine"]}),
    ("fine_amount", {"fine_amount": None}),
    ("fine_amount", {"fine_amount": -5}),
    ("fine_amount", {"penalty_types": ["warning"], "fine_amount": 100}),
    ("detention_days", {"penalty_types": ["detention"], "fine_amount": None, "detention_days": Decimal("5.5")}),
    ("detention_days", {"penalty_types": ["detention"], "fine_amount": None}),
])
def test_unknown_values_are_invalid(db, field, overrides):
    arguments = dict(basis_code=PSAPL_2025, circumstance="first", party_kind="individual", penalty_types=["fine"],
                     fine_amount=100, act_date=date(2026, 2, 1))
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


@pytest.mark.parametrize(("party", "types", "fine", "on", "minor", "expected"), [
    ("individual", ["fine"], 1999, date(2026, 3, 1), False, False),
    ("individual", ["fine"], 2000, date(2026, 3, 1), False, True),
    ("individual", ["fine"], Decimal("1999.99"), date(2026, 3, 1), False, False),
    ("unit", ["fine"], 9999, date(2026, 3, 1), False, False),
    ("unit", ["order_correction", "warning", "fine"], 10000, date(2026, 3, 1), False, True),
    ("unit", ["fine"], 2000, date(2026, 3, 1), False, False),
    ("unit", ["suspend"], None, date(2026, 3, 1), False, True),
    ("individual", ["suspend"], None, date(2026, 3, 1), False, True),
    ("individual", ["warning"], None, date(2026, 3, 1), False, False),
    # 治安管理处罚法 2025 第一百一十七条: detention gives the right to a minor only …
    ("individual", ["detention"], None, date(2026, 3, 1), False, False),
    ("individual", ["detention", "fine"], 1000, date(2026, 3, 1), False, False),
    ("individual", ["detention"], None, date(2026, 3, 1), True, True),
    ("individual", ["detention", "fine"], 1000, date(2026, 3, 1), True, True),
    # … and the 2012 law (第九十八条) gives none for detention at all.
    ("individual", ["detention"], None, date(2025, 6, 1), True, False),
])
def test_hearing_thresholds(db, party, types, fine, on, minor, expected):
    assert hearing_right(party_kind=party, penalty_types=types, fine_amount=fine, on=on, minor=minor) is expected


def test_hearing_threshold_validity_period(db):
    from server.registry.models.reference import HearingThreshold

    db.session.add(HearingThreshold(code="test_hearing_warning", party_kind="individual", penalty_type="warning",
                                    min_amount=None, source="测试", valid_from=date(2030, 1, 1),
                                    valid_to=date(2030, 12, 31)))
    db.session.flush()
    assert hearing_right(party_kind="individual", penalty_types=["warning"], on=date(2030, 6, 1))
    assert not hearing_right(party_kind="individual", penalty_types=["warning"], on=date(2031, 1, 1))
    with pytest.raises(Conflict, match="没有在 1990-01-01 有效的听证标准"):
        hearing_right(party_kind="individual", penalty_types=["fine"], fine_amount=5000, on=date(1990, 1, 1))
    with pytest.raises(Invalid):
        hearing_right(party_kind="company", penalty_types=["fine"], fine_amount=5000, on=date(2026, 1, 1))


@pytest.mark.parametrize(("code", "text"), [
    ("psapl2025_art61_first_individual", "警告；或罚款500元以下"),
    ("psapl2012_art50_repeated_individual", "罚款100元以上200元以下（从重处罚（第二十条第（四）项：六个月内曾受过治安管理处罚））"),
    ("psapl2025_art61_serious_individual",
     "行政拘留5日以上10日以下；或行政拘留5日以上10日以下并处罚款1000元以下（罚款可以与拘留并处）"),
    ("idpl2025_art111_refused_unit", "责令改正、警告；或责令改正、警告并处罚款10000元以上20000元以下"),
])
def test_describe_benchmark(db, code, text):
    from sqlalchemy import select

    from server.registry.models.reference import DiscretionBenchmark

    assert describe_benchmark(db.session.scalar(select(DiscretionBenchmark).filter_by(code=code))) == text
