"""Loading the reference files: idempotence, updates, refusal of bad files, the CLI."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from server.audit.models.audit import AuditEvent
from server.registry.loader import ReferenceDataError, load_reference
from server.registry.models.reference import (
    ChecklistItem,
    County,
    DiscretionBenchmark,
    LegalBasis,
    ReferenceDataset,
    Rule,
    RuleCheck,
    VenueCategory,
)
from server.registry.schemas.reference import DATASETS


@pytest.fixture
def reference_copy(app, tmp_path) -> Path:
    """A private copy of the shipped reference files, to edit."""
    directory = tmp_path / "reference"
    shutil.copytree(app.config["REFERENCE_DIR"], directory)
    return directory


def edit(directory: Path, dataset: str, old: str, new: str, count: int = 1) -> None:
    path = directory / f"{dataset}.yaml"
    text = path.read_text("utf-8")
    assert text.count(old) >= count, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count), "utf-8")


def county_names(db) -> dict[str, str]:
    return {c.code: c.name for c in db.session.scalars(select(County))}


# ---------------------------------------------------------------- idempotence and updates


def test_second_load_changes_nothing(db):
    report = load_reference()
    assert report.changes == 0
    assert all(dataset.skipped for dataset in report.datasets.values())
    assert list(report.datasets) == list(DATASETS)


def test_forced_reload_compares_every_row_and_changes_nothing(db):
    before = {d.name: (d.version, d.sha256, d.loaded_at) for d in db.session.scalars(select(ReferenceDataset))}
    report = load_reference(force=True)
    assert report.changes == 0
    assert report.datasets["roster"].unchanged == 42
    assert report.datasets["rules"].unchanged == 11
    assert report.datasets["counties"].unchanged == 10
    assert all(not dataset.absent for dataset in report.datasets.values())
    db.session.flush()
    assert not db.session.dirty
    after = {d.name: (d.version, d.sha256, d.loaded_at) for d in db.session.scalars(select(ReferenceDataset))}
    assert after == before


def test_datasets_record_version_and_sha256(db, app):
    import hashlib

    rows = {d.name: d for d in db.session.scalars(select(ReferenceDataset))}
    assert set(rows) == set(DATASETS)
    for name, row in rows.items():
        content = (Path(app.config["REFERENCE_DIR"]) / f"{name}.yaml").read_bytes()
        assert row.sha256 == hashlib.sha256(content).hexdigest()
        assert row.version


def test_changed_file_is_applied_as_update(db, reference_copy):
    edit(reference_copy, "counties", 'version: "2021-12-14.1"', 'version: "2021-12-14.2"')
    edit(reference_copy, "counties", "name: 金华开发区", "name: 金华经济技术开发区")
    with (reference_copy / "counties.yaml").open("a", encoding="utf-8") as counties_file:
        counties_file.write("  - code: testzone\n    name: 测试功能区\n    kind: zone\n    division_code: null\n")

    report = load_reference(reference_copy)

    counties = report.datasets["counties"]
    assert (counties.created, counties.updated, counties.unchanged) == (1, 1, 9)
    assert counties.version == "2021-12-14.2"
    assert all(report.datasets[name].skipped for name in DATASETS if name != "counties")
    names = county_names(db)
    assert names["kaifaqu"] == "金华经济技术开发区"
    assert names["testzone"] == "测试功能区"
    assert db.session.scalar(select(ReferenceDataset.version).filter_by(name="counties")) == "2021-12-14.2"
    # Display order is the file's order: the appended row sorts last.
    assert db.session.scalar(select(County).filter_by(code="testzone")).sort_order == 110

    assert load_reference(reference_copy).changes == 0
    assert load_reference(reference_copy, force=True).changes == 0


def test_changes_are_audited_and_unchanged_loads_are_not(db, reference_copy):
    def last_event():
        return db.session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))

    before = last_event()
    load_reference(reference_copy)
    assert last_event() == before

    edit(reference_copy, "counties", "name: 金华开发区", "name: 金华经济技术开发区")
    load_reference(reference_copy)
    event = last_event()
    assert event.action == "reference.loaded"
    assert set(event.details) == {"counties"}
    assert event.details["counties"]["updated"] == 1


def test_changed_rule_updates_items_and_checks(db, reference_copy):
    edit(reference_copy, "rules", "prompt: 现场接待人数（人）", "prompt: 现场接待游客人数（人）")
    edit(reference_copy, "rules", "      - code: k3_visitors_within_half_capacity",
         "      - code: k3_capacity_known\n"
         "        description: 登记了核定人数\n"
         '        expression: {"present": ["venue.approved_capacity"]}\n'
         "      - code: k3_visitors_within_half_capacity")

    report = load_reference(reference_copy)

    rules = report.datasets["rules"]
    assert (rules.created, rules.updated, rules.unchanged) == (0, 1, 10)
    rule = db.session.scalar(select(Rule).filter_by(code="K3"))
    assert rule.items[0].prompt == "现场接待游客人数（人）"
    assert [check.code for check in rule.checks] == ["k3_capacity_known", "k3_visitors_within_half_capacity"]


def test_rows_gone_from_the_file_are_kept_and_reported(db, reference_copy):
    edit(reference_copy, "counties",
         "  - code: kaifaqu\n    name: 金华开发区\n    kind: zone\n    division_code: null\n", "")
    edit(reference_copy, "rules", "      - code: k5_takeaway_promoted\n"
         "        prompt: 是否提倡打包、减少堂食（如张贴提示）？\n"
         "        value_type: boolean\n"
         "        required: false\n", "")

    report = load_reference(reference_copy)

    assert report.datasets["counties"].absent == ["kaifaqu"]
    assert report.datasets["rules"].absent == ["K5/k5_takeaway_promoted"]
    assert "kaifaqu" in county_names(db)
    assert db.session.scalar(select(ChecklistItem).filter_by(code="k5_takeaway_promoted")) is not None


def test_legal_bases_load_with_benchmarks(db, reference_copy):
    (reference_copy / "legal_bases.yaml").write_text(
        'version: "test.1"\n'
        "legal_bases:\n"
        "  - code: test_basis\n"
        "    provision: test-basis\n"
        "    law: 测试法\n"
        "    article: 第一条\n"
        "    text: 测试条文。\n"
        "    authority_kind: 公安机关\n"
        "    authority_source: 测试法第二条：由公安机关决定。\n"
        "    penalty_types: [warning, fine]\n"
        '    max_fine_unit: "10000"\n'
        "    valid_from: 2021-01-01\n"
        "    benchmarks:\n"
        "      - code: test_basis_first_unit\n"
        "        circumstance: first\n"
        "        party_kind: unit\n"
        "        combinations: [[warning], [fine]]\n"
        '        min_fine: "1000"\n'
        '        max_fine: "5000.50"\n'
        '        valid_from: "2021-01-01"\n', "utf-8")

    report = load_reference(reference_copy)

    assert (report.datasets["legal_bases"].created, report.datasets["legal_bases"].version) == (1, "test.1")
    basis = db.session.scalar(select(LegalBasis).filter_by(code="test_basis"))
    assert basis.valid_from == date(2021, 1, 1)
    (benchmark,) = basis.benchmarks
    assert (benchmark.combinations, benchmark.valid_to) == ([["warning"], ["fine"]], None)
    db.session.expire_all()
    benchmark = db.session.scalar(select(DiscretionBenchmark).filter_by(code="test_basis_first_unit"))
    assert Decimal(str(benchmark.max_fine)) == Decimal("5000.50")
    assert load_reference(reference_copy, force=True).changes == 0


# ---------------------------------------------------------------- bad files


BAD_FILES = [
    pytest.param("departments", "    short_name: 公安局\n", "    short_name: 公安局\n    colour: red\n",
                 ["departments.yaml", "departments[0]（psb）.colour", "未知字段"], id="unknown-field"),
    pytest.param("counties", 'version: "2021-12-14.1"\n', "", ["counties.yaml", "version", "缺少必填字段"],
                 id="missing-version"),
    pytest.param("counties", 'version: "2021-12-14.1"', "version: 2021-12-14", ["counties.yaml", "version", "字符串"],
                 id="unquoted-date-version"),
    pytest.param("counties", 'division_code: "330702"', "division_code: 330702",
                 ["counties[0]（wucheng）.division_code", "字符串"], id="unquoted-division-code"),
    pytest.param("counties", "counties:\n", "counties: [\n", ["counties.yaml", "YAML 格式错误"], id="yaml-syntax"),
    pytest.param("counties", "    kind: district\n", "    kind: district\n    kind: city\n",
                 ["counties.yaml", "重复的键"], id="duplicate-key"),
    pytest.param("categories", "departments: [culture_tourism]", "departments: [tourism_bureau]",
                 ["categories.yaml", "categories[0]（internet_cafe）.departments", "未知部门代码 tourism_bureau"],
                 id="unknown-department"),
    pytest.param("rules", "categories: [restaurant]", "categories: [canteen]",
                 ["rules.yaml", "rules[4]（K5）.categories", "未知场所类别代码 canteen"], id="unknown-category"),
    pytest.param("rules", '{"*": [{"var": "venue.approved_capacity"}, "1/2"]}',
                 '{"eval": ["venue.approved_capacity * 0.5"]}',
                 ["rules.yaml", "rules[2]（K3）.checks[0]（k3_visitors_within_half_capacity）.expression",
                  "未知运算符 'eval'"], id="unknown-operator"),
    pytest.param("rules", '{"var": "venue.approved_capacity"}', '{"var": "venue.__class__"}',
                 ["rules.yaml", "K3", "变量名无效"], id="dunder-variable"),
    pytest.param("rules", '{"var": "obs.k4_participants"}', '{"var": "obs.k3_visitors"}',
                 ["rules.yaml", "K4", "不是本规则的检查项"], id="observation-of-another-rule"),
    pytest.param("rules", '"venue.category"}, "hotel"', '"venue.colour"}, "hotel"',
                 ["rules.yaml", "K7", "venue 只有"], id="unknown-venue-fact"),
    pytest.param("rules", "      - code: k2_nonessential_visits\n", "      - code: k2_semi_closed\n",
                 ["rules.yaml", "K2"], id="duplicate-item"),
    pytest.param("rules", "value_type: choice", "value_type: text", ["rules.yaml", "choices", "只有选择题"],
                 id="choices-without-choice"),
    pytest.param("roster", "    department: psb\n    office_role: 办公室主任\n",
                 "    department: psb\n    office_role: 办公室主任\n    is_responsible_leader: true\n",
                 ["roster.yaml", "恰有一名责任领导"], id="two-responsible-leaders"),
    pytest.param("roster", "  - name: 金盛\n", "  - name: 胡宏立\n", ["roster.yaml", "胡宏立 重复"],
                 id="duplicate-person"),
    pytest.param("duties", "    department: null\n", "    department: psb\n", ["duties.yaml", "部门代码应为 null"],
                 id="locality-with-department"),
    pytest.param("legal_bases", '"\nlegal_bases:\n', '"\nlegal_bases: {}\nformer_bases:\n',
                 ["legal_bases.yaml", "应为列表"], id="not-a-list"),
    pytest.param("draw_policy", "      same_county: true\n", "      same_county: true\n      same_town: true\n",
                 ["draw_policy.yaml", "policies[0]（default）.exclusions.same_town", "未知字段"],
                 id="policy-unknown-field"),
    pytest.param("draw_policy", "        K1: 3\n", "        K1: 2.5\n",
                 ["draw_policy.yaml", "weights.rules", "应为整数"], id="policy-fractional-weight"),
    pytest.param("draw_policy", "        K1: 3\n", "        K1: true\n",
                 ["draw_policy.yaml", "weights.rules", "应为整数"], id="policy-boolean-weight"),
    pytest.param("draw_policy", "        K1: 3\n", "        K1: 0\n",
                 ["draw_policy.yaml", "weights.rules", "1–1000"], id="policy-zero-weight"),
    pytest.param("draw_policy", "        K1: 3\n", "        K12: 3\n",
                 ["draw_policy.yaml", "weights.rules", "未知规则代码 K12"], id="policy-unknown-rule"),
    pytest.param("draw_policy", "      categories: {}\n", "      categories: {cinema: 2}\n",
                 ["draw_policy.yaml", "weights.categories", "未知场所类别代码 cinema"], id="policy-unknown-category"),
    pytest.param("draw_policy", "      min_size: 2\n", "      min_size: 1\n",
                 ["draw_policy.yaml", "team.min_size", "两人以上"], id="policy-one-person-team"),
    pytest.param("draw_policy", "  - code: default\n", "  - code: strict\n",
                 ["draw_policy.yaml", "缺少代码为 default 的抽查策略"], id="policy-without-default"),
    pytest.param("draw_policy", "      max_assignments_per_inspector_per_day: 2\n", "",
                 ["draw_policy.yaml", "max_assignments_per_inspector_per_day", "缺少必填字段"],
                 id="policy-missing-limit"),
]


@pytest.mark.parametrize(("dataset", "old", "new", "fragments"), BAD_FILES)
def test_bad_file_is_refused_whole(db, reference_copy, dataset, old, new, fragments):
    # A valid change to another file must not be half-applied when this file is bad.
    edit(reference_copy, "counties", "name: 磐安县", "name: 磐安县（改）")
    edit(reference_copy, dataset, old, new)
    before = county_names(db)

    with pytest.raises(ReferenceDataError) as caught:
        load_reference(reference_copy)

    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message
    assert "\n" not in message
    assert county_names(db) == before
    assert not db.session.new and not db.session.dirty


def test_missing_file_is_refused(db, reference_copy):
    (reference_copy / "duties.yaml").unlink()
    with pytest.raises(ReferenceDataError, match="duties.yaml.*文件不存在"):
        load_reference(reference_copy)


def test_every_problem_is_listed(db, reference_copy):
    edit(reference_copy, "departments", "    short_name: 公安局\n", "    short_name: 公安局\n    colour: red\n")
    edit(reference_copy, "rules", '"1/2"]}', '"1/2"], "x": 1}')
    with pytest.raises(ReferenceDataError) as caught:
        load_reference(reference_copy)
    files = {issue.file for issue in caught.value.issues}
    assert files == {"departments.yaml", "rules.yaml"}
    assert "另有" in str(caught.value)


# ---------------------------------------------------------------- command line


def test_cli_load_reports_in_chinese(cli):
    result = cli.invoke(args=["reference", "load", "--force"])
    assert result.exit_code == 0, result.output
    assert "参考数据已加载：共新增或更新 0 条。" in result.output
    assert "rules.yaml（版本 2021-12-14.2）：新增 0，更新 0，未变 11" in result.output


def test_cli_load_applies_and_commits(cli, db, reference_copy):
    edit(reference_copy, "categories", "name: 网吧", "name: 网吧（含电竞馆）")
    try:
        result = cli.invoke(args=["reference", "load", "--dir", str(reference_copy)])
        assert result.exit_code == 0, result.output
        assert "categories.yaml（版本 2021-12-14.1）：新增 0，更新 1，未变 43" in result.output
        assert db.session.scalar(select(VenueCategory.name).filter_by(code="internet_cafe")) == "网吧（含电竞馆）"
    finally:
        # The command commits in its own app context; loading the shipped files again puts the
        # shared test database back even where the per-test rollback does not reach that commit.
        restored = cli.invoke(args=["reference", "load"])
        assert restored.exit_code == 0, restored.output


def test_cli_refuses_bad_file_with_one_chinese_line(cli, db, reference_copy):
    edit(reference_copy, "rules", '{"<=": [{"var": "obs.k3_visitors"}', '{"<<": [{"var": "obs.k3_visitors"}')
    result = cli.invoke(args=["reference", "load", "--dir", str(reference_copy)])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith("参考数据加载失败，未写入任何数据：rules.yaml")
    assert "未知运算符 '<<'" in lines[0]
    assert "Traceback" not in result.output


def test_cli_show_lists_versions(cli):
    result = cli.invoke(args=["reference", "show"])
    assert result.exit_code == 0, result.output
    assert "roster.yaml：版本 2021-12-14.1" in result.output
    assert "领导小组成员 42 条" in result.output
    assert "规则 / 检查项 / 检查条件 11 /" in result.output


def test_draw_policy_is_loaded_whole(db):
    from server.registry.models.reference import DrawPolicy

    policy = db.session.scalar(select(DrawPolicy).filter_by(code="default"))
    assert policy.version == db.session.scalar(select(ReferenceDataset.version).filter_by(name="draw_policy"))
    assert policy.settings["weights"]["rules"] == {"K1": 3}
    assert policy.settings["exclusions"] == {"same_county": True, "responsible_department": True,
                                             "repeat_visit_days": 30, "max_assignments_per_inspector_per_day": 2}
    assert policy.settings["team"] == {"min_size": 2, "require_certified_member_when_penalties": True}
    assert "code" not in policy.settings


def test_changed_draw_policy_is_applied_as_update(db, reference_copy):
    from server.registry.models.reference import DrawPolicy

    edit(reference_copy, "draw_policy", "repeat_visit_days: 30", "repeat_visit_days: 14")
    edit(reference_copy, "draw_policy", 'version: "2021-12-14.1"', 'version: "2021-12-20.1"')
    report = load_reference(reference_copy)
    assert (report.datasets["draw_policy"].updated, report.datasets["draw_policy"].created) == (1, 0)
    policy = db.session.scalar(select(DrawPolicy).filter_by(code="default"))
    assert policy.settings["exclusions"]["repeat_visit_days"] == 14 and policy.version == "2021-12-20.1"
    assert load_reference(reference_copy, force=True).changes == 0


def test_rule_children_are_stored(db):
    assert db.session.scalar(select(RuleCheck).filter_by(code="k3_visitors_within_half_capacity")).expression == {
        "<=": [{"var": "obs.k3_visitors"}, {"*": [{"var": "venue.approved_capacity"}, "1/2"]}]}
