"""The reference loader's rules for legal bases and hearing thresholds, and how `reference load`
meets an admin's edits: kept while the file is unchanged, overwritten and reported when it is
compared, admin-only rows kept, conflicts with admin rows refused with nothing written."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from server.enforcement.legal_bases import create_legal_basis, update_legal_basis
from server.registry.loader import ReferenceDataError, load_reference
from server.registry.models.reference import DiscretionBenchmark, LegalBasis


@pytest.fixture
def reference_copy(app, tmp_path) -> Path:
    directory = tmp_path / "reference"
    shutil.copytree(app.config["REFERENCE_DIR"], directory)
    return directory


def edit(directory: Path, dataset: str, old: str, new: str) -> None:
    path = directory / f"{dataset}.yaml"
    text = path.read_text("utf-8")
    assert text.count(old) == 1, f"{old!r} not once in {path.name}"
    path.write_text(text.replace(old, new), "utf-8")


def max_fine(db, code: str) -> Decimal:
    db.session.expire_all()
    return Decimal(str(db.session.scalar(select(DiscretionBenchmark.max_fine).filter_by(code=code))))


BAD_LEGAL_FILES = [
    pytest.param("legal_bases", "    max_detention_days: 10\n    valid_from: 2006-03-01\n    valid_to: 2025-12-31\n",
                 "    max_detention_days: 10\n    valid_from: 2006-03-01\n    valid_to: 2026-01-01\n",
                 ["legal_bases[1]（psapl2025_art61_1_1）.valid_from", "psapl2012_art50_1_1", "有效期重叠"],
                 id="versions-overlap"),
    pytest.param("legal_bases", "        combinations: [[warning], [fine]]\n        max_fine: \"200\"\n",
                 "        combinations: [[warning], [fine]]\n        max_fine: \"600\"\n",
                 ["psapl2012_art50_first_individual", "max_fine", "超过该条款对个人的最高罚款 500元"],
                 id="benchmark-above-statutory-maximum"),
    pytest.param("legal_bases", "      - code: psapl2025_art61_serious_individual\n        circumstance: serious\n",
                 "      - code: psapl2025_art61_serious_individual\n        circumstance: refused\n",
                 ["psapl2025_art61_serious_individual", "情形、当事人类别相同且有效期重叠"],
                 id="benchmarks-overlap"),
    pytest.param("legal_bases", "      - {code: idpl2013_art42_first_unit, circumstance: first, party_kind: unit,\n"
                                "         combinations: [[order_correction]],",
                 "      - {code: idpl2013_art42_first_unit, circumstance: first, party_kind: unit,\n"
                 "         combinations: [[order_correction], [order_correction, fine]], max_fine: \"1000\",",
                 ["idpl2013_art42_first_unit", "罚款不在该条款规定的处罚种类之内"], id="fine-where-the-law-has-none"),
    pytest.param("legal_bases", "    provision: erl-public-order-offence\n", "",
                 ["legal_bases[6]（erl2024_art102）.provision", "缺少必填字段"], id="provision-missing"),
    pytest.param("legal_bases", "    valid_from: 2024-11-01\n    valid_to: null\n    benchmarks:\n",
                 "    valid_from: 2024-11-01\n    valid_to: 2024-10-01\n    benchmarks:\n",
                 ["erl2024_art98", "失效日期不能早于生效日期"], id="period-backwards"),
    pytest.param("legal_bases", "    penalty_types: [order_correction, warning, fine]\n    max_fine_individual: \"1000\"\n",
                 "    penalty_types: [order_correction, warning, fine]\n    max_fine_individual: \"1000\"\n"
                 "    max_fine_company: \"1\"\n",
                 ["idpl2025_art111_1_1", "max_fine_company", "未知字段"], id="unknown-field"),
    pytest.param("legal_bases", "        min_detention_days: 5\n        max_detention_days: 10\n"
                                "        note: 罚款可以与拘留并处\n        valid_from: 2026-01-01\n",
                 "        min_detention_days: 5\n        max_detention_days: 15\n"
                 "        note: 罚款可以与拘留并处\n        valid_from: 2026-01-01\n",
                 ["psapl2025_art61_serious_individual", "超过该条款的最长拘留日数 10日"], id="detention-too-long"),
    pytest.param("legal_bases", "      - {code: idpl2025_art111_first_unit, circumstance: first, party_kind: unit,\n"
                                "         combinations: [[order_correction, warning], [order_correction, warning, fine]],",
                 "      - {code: idpl2025_art111_first_unit, circumstance: first, party_kind: unit,\n"
                 "         combinations: [[order_correction, warning], [order_correction, warning, fine],"
                 " [order_correction, warning, fine]],",
                 ["idpl2025_art111_first_unit", "处罚组合重复"], id="combination-twice"),
    pytest.param("legal_bases", "        combinations: [[warning], [fine]]\n        max_fine: \"500\"\n",
                 "        combinations: [[warning], [fine, fine]]\n        max_fine: \"500\"\n",
                 ["psapl2025_art61_first_individual", "同一种类不重复"], id="type-twice-in-a-combination"),
    pytest.param("legal_bases", "    authority_kind: 疾病预防控制部门\n", "",
                 ["idpl2025_art111_1_1", "authority_kind", "缺少必填字段"], id="authority-missing"),
    pytest.param("legal_bases", "      - code: psapl2025_art61_serious_individual\n        circumstance: serious\n"
                                "        party_kind: individual\n",
                 "      - code: psapl2025_art61_serious_individual\n        circumstance: serious\n"
                 "        party_kind: unit\n",
                 ["psapl2025_art61_serious_individual", "行政拘留只能对个人适用"], id="detention-for-a-unit"),
    pytest.param("hearing_thresholds", "    min_amount: \"10000\"\n", "    min_amount: \"10000\"\n    colour: red\n",
                 ["hearing_thresholds.yaml", "thresholds[1]（hearing_fine_unit）.colour", "未知字段"],
                 id="threshold-unknown-field"),
    pytest.param("hearing_thresholds", "  - code: hearing_fine_unit\n    party_kind: unit\n",
                 "  - code: hearing_fine_unit\n    party_kind: individual\n",
                 ["hearing_thresholds.yaml", "hearing_fine_unit", "有效期重叠"], id="thresholds-overlap"),
]


@pytest.mark.parametrize(("dataset", "old", "new", "fragments"), BAD_LEGAL_FILES)
def test_bad_legal_file_is_refused(db, reference_copy, dataset, old, new, fragments):
    edit(reference_copy, dataset, old, new)
    with pytest.raises(ReferenceDataError) as caught:
        load_reference(reference_copy)
    message = " ".join(str(issue) for issue in caught.value.issues)
    for fragment in fragments:
        assert fragment in message
    assert not db.session.new and not db.session.dirty


def test_admin_edit_survives_unchanged_file_and_is_reported_when_overwritten(db, reference_copy, make_user):
    admin = make_user("admin")
    update_legal_basis("psapl2025_art61_1_1", {"benchmarks": [
        {"code": "psapl2025_art61_first_individual", "max_fine": Decimal("400")}]}, admin)
    db.session.flush()

    skipped = load_reference()
    assert skipped.datasets["legal_bases"].skipped
    assert max_fine(db, "psapl2025_art61_first_individual") == Decimal("400")

    edit(reference_copy, "legal_bases", 'version: "2026-12-03.1"', 'version: "2026-12-03.2"')
    report = load_reference(reference_copy)
    legal = report.datasets["legal_bases"]
    assert legal.overwritten == ["psapl2025_art61_1_1"]
    assert legal.updated == 1
    assert report.as_dict()["legal_bases"]["overwritten"] == ["psapl2025_art61_1_1"]
    assert max_fine(db, "psapl2025_art61_first_individual") == Decimal("500")
    assert db.session.scalar(select(LegalBasis.admin_edited_at).filter_by(code="psapl2025_art61_1_1")) is None


def test_admin_version_is_kept_and_conflicting_file_refused(db, make_user):
    admin = make_user("admin")
    update_legal_basis("psapl2025_art61_1_1", {"valid_to": date(2029, 12, 31)}, admin)
    create_legal_basis({
        "code": "psapl2030_art61_1_1", "provision": "psapl-emergency-order", "law": "中华人民共和国治安管理处罚法",
        "article": "第六十一条", "text": "（假设的修订文本）", "authority_kind": "公安机关",
        "authority_source": "（假设）", "penalty_types": ["warning"], "valid_from": date(2030, 1, 1),
        "benchmarks": [{"code": "psapl2030_first_individual", "circumstance": "first", "party_kind": "individual",
                        "combinations": [["warning"]], "valid_from": date(2030, 1, 1)}]}, admin)
    db.session.flush()

    # The file reopens psapl2025 (valid_to: null), which would overlap the admin's 2030 version.
    with pytest.raises(ReferenceDataError) as caught:
        load_reference(force=True)
    assert "与数据库中已有的记录冲突" in str(caught.value) and "有效期重叠" in str(caught.value)


def test_admin_only_provision_is_kept_and_listed_absent(db, make_user):
    admin = make_user("admin")
    create_legal_basis({
        "code": "local_rule_art5", "provision": "local-rule", "law": "某市疫情防控规定", "article": "第五条",
        "text": "（示例）", "authority_kind": "人民政府", "authority_source": "（示例）", "penalty_types": ["warning"],
        "valid_from": date(2021, 12, 1), "benchmarks": []}, admin)
    db.session.flush()
    report = load_reference(force=True)
    assert "local_rule_art5" in report.datasets["legal_bases"].absent
    assert report.datasets["legal_bases"].overwritten == []
    assert db.session.scalar(select(LegalBasis).filter_by(code="local_rule_art5")) is not None


def test_cli_load_names_overwritten_admin_edits(cli, db, reference_copy, make_user):
    admin = make_user("admin")
    update_legal_basis("idpl2025_art111_1_1", {"text": "管理员改过的条文"}, admin)
    db.session.commit()
    edit(reference_copy, "legal_bases", 'version: "2026-12-03.1"', 'version: "2026-12-03.2"')
    try:
        result = cli.invoke(args=["reference", "load", "--dir", str(reference_copy)])
        assert result.exit_code == 0, result.output
        assert "管理员修改过的 1 条已按文件覆盖：idpl2025_art111_1_1" in result.output
    finally:
        # The command commits; loading the shipped files again puts the shared database back.
        restored = cli.invoke(args=["reference", "load"])
        assert restored.exit_code == 0, restored.output
