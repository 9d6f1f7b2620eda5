"""Load the versioned reference files (server/reference/*.yaml) into the database.

All files are read and validated first (server.registry.schemas.reference); only when every file is valid
are rows written, so a bad file leaves the database as it was. Rows are matched by their stable key
(code; a roster member by name; a duty by seq) and only changed fields are written, so loading the
same files twice changes nothing.

Rows in the database that a file no longer lists are kept, not deleted, and named in the report:
venues, users, findings and cases refer to counties, departments, categories and rules, and an
admin may have added rows of their own. Retiring a row is a deliberate admin action.

A file whose version and sha256 match what was loaded last is not compared again, so an admin's
edits to those rows survive a routine `reference load`; `force=True` compares every row anyway.
When a compared file overwrites a legal basis an admin had edited through the API, the report
names it (`overwritten`); after loading, the legal bases (the file's and the admin's together)
must still satisfy the rules of server/registry/schemas/legal_rules.py, or nothing is written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from flask import current_app
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..audit.chain import record_event
from ..columns import utcnow
from ..errors import NotFound
from ..extensions import db
from .models.reference import (
    ChecklistItem,
    County,
    Department,
    DiscretionBenchmark,
    DrawPolicy,
    Duty,
    HearingThreshold,
    LegalBasis,
    ReferenceDataset,
    RosterMember,
    Rule,
    RuleCheck,
    VenueCategory,
)
from .schemas.legal_rules import hearing_threshold_problems, legal_basis_problems, problem_lines
from .schemas.reference import DATASETS, Issue, ReferenceDataError, file_name, validate_documents

__all__ = [
    "DatasetReport", "LoadReport", "ReferenceDataError", "load_reference", "read_reference_files", "rule_bundle",
    "rules_bundle_for_category", "venue_facts",
]


@dataclass
class DatasetReport:
    """What loading one file did."""

    dataset: str
    version: str
    sha256: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Keys of rows the database has and the file does not list (kept).
    absent: list[str] = field(default_factory=list)
    # Same version and sha256 as the last load: rows were not compared.
    skipped: bool = False
    # Keys of rows an admin had edited through the API that this load overwrote from the file.
    overwritten: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return self.created + self.updated

    @property
    def file(self) -> str:
        return file_name(self.dataset)

    def count(self, changed: bool | None) -> None:
        """Count one record: None created, True updated, False unchanged."""
        if changed is None:
            self.created += 1
        elif changed:
            self.updated += 1
        else:
            self.unchanged += 1


@dataclass
class LoadReport:
    """Per dataset: created / updated / unchanged counts, absent keys, version and sha256."""

    datasets: dict[str, DatasetReport] = field(default_factory=dict)

    @property
    def changes(self) -> int:
        return sum(report.changes for report in self.datasets.values())

    def as_dict(self) -> dict:
        return {
            name: {"version": r.version, "sha256": r.sha256, "created": r.created, "updated": r.updated,
                   "unchanged": r.unchanged, "absent": list(r.absent), "skipped": r.skipped,
                   "overwritten": list(r.overwritten)}
            for name, r in self.datasets.items()
        }


# ---------------------------------------------------------------- reading


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; a repeated key is a mistake in a file."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"重复的键 {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_reference_files(directory: str | Path | None = None) -> tuple[dict[str, object], dict[str, str]]:
    """Parse every file of the directory: ({dataset: parsed YAML}, {dataset: sha256 of the bytes})."""
    directory = Path(directory or current_app.config["REFERENCE_DIR"])
    raw: dict[str, object] = {}
    digests: dict[str, str] = {}
    issues: list[Issue] = []
    for dataset in DATASETS:
        name = file_name(dataset)
        try:
            content = (directory / name).read_bytes()
        except FileNotFoundError:
            issues.append(Issue(name, "", f"文件不存在（目录 {directory}）。"))
            continue
        except OSError as exc:
            issues.append(Issue(name, "", f"无法读取：{exc.strerror}。"))
            continue
        digests[dataset] = hashlib.sha256(content).hexdigest()
        try:
            raw[dataset] = yaml.load(content.decode("utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 (safe loader)
        except UnicodeDecodeError:
            issues.append(Issue(name, "", "不是 UTF-8 编码的文本。"))
        except yaml.YAMLError as exc:
            issues.append(Issue(name, _yaml_position(exc), f"YAML 格式错误：{getattr(exc, 'problem', None) or exc}"))
    if issues:
        raise ReferenceDataError(issues)
    return raw, digests


def _yaml_position(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark is not None else ""


# ---------------------------------------------------------------- loading


def load_reference(directory: str | Path | None = None, *, force: bool = False) -> LoadReport:
    """Validate every reference file, then create or update the rows; flushes, never commits.

    `directory` defaults to the app's REFERENCE_DIR. Raises ReferenceDataError (nothing written)
    when a file is missing, unreadable or invalid.
    """
    raw, digests = read_reference_files(directory)
    documents = validate_documents(raw)
    loaded = {row.name: row for row in db.session.scalars(select(ReferenceDataset))}
    report = LoadReport()
    for dataset in DATASETS:
        document = documents[dataset]
        dataset_report = DatasetReport(dataset, document["version"], digests[dataset])
        report.datasets[dataset] = dataset_report
        previous = loaded.get(dataset)
        changed_inputs = any(report.datasets[source].changes for source in _RECOMPUTED_AFTER.get(dataset, ()))
        if not force and not changed_inputs and previous is not None and (previous.version, previous.sha256) == (
                document["version"], digests[dataset]):
            dataset_report.skipped = True
            dataset_report.unchanged = len(document["records"])
            continue
        _LOADERS[dataset](document["records"], dataset_report)
        _flush(dataset)
        _record_dataset(previous, dataset_report)
    _check_legal_rows()
    if report.changes:
        # Reference data decides what counts as a violation and who answers for it: changes are audited.
        record_event("reference.loaded", channel="cli", object_type="reference",
                     details={name: {"version": r.version, "sha256": r.sha256, "created": r.created,
                                     "updated": r.updated,
                                     **({"overwritten": r.overwritten} if r.overwritten else {})}
                              for name, r in report.datasets.items() if r.changes})
    db.session.flush()
    return report


# A rule applies to whole groups of categories (rules.yaml category_groups): a category added to
# a group in categories.yaml changes what the unchanged rules.yaml means, so the rules are compared
# again whenever categories changed.
_RECOMPUTED_AFTER = {"rules": ("categories",)}


def _flush(dataset: str) -> None:
    try:
        db.session.flush()
    except IntegrityError as exc:
        # Validation makes keys unique within the files; a clash here is with a row the files do
        # not know (e.g. an admin's row holding the same name under another code).
        raise ReferenceDataError([Issue(file_name(dataset), "", "与数据库中已有的记录冲突（名称或代码重复）："
                                        f"{str(exc.orig).splitlines()[0]}")]) from exc


def _record_dataset(previous: ReferenceDataset | None, report: DatasetReport) -> None:
    if previous is None:
        db.session.add(ReferenceDataset(name=report.dataset, version=report.version, sha256=report.sha256,
                                        loaded_at=utcnow()))
    elif (previous.version, previous.sha256) != (report.version, report.sha256):
        previous.version, previous.sha256, previous.loaded_at = report.version, report.sha256, utcnow()


def _order(record: dict, position: int) -> int:
    """A record's sort order: explicit, or its place in the file."""
    return record["sort_order"] if record.get("sort_order") is not None else (position + 1) * 10


def _sync(row, values: dict) -> bool:
    """Set the fields that differ; relationship lists compare as sets of rows. True if any changed."""
    collections = {r.key for r in sa_inspect(type(row)).relationships if r.uselist}
    changed = False
    for name, value in values.items():
        current = getattr(row, name)
        if name in collections:
            if {id(v) for v in current} == {id(v) for v in value}:
                continue
        elif current == value and type(current) is type(value):
            continue
        setattr(row, name, value)
        changed = True
    return changed


def _with_child(changed: bool | None, child_changed: bool | None) -> bool | None:
    """A parent counts as updated when a child of it was created or changed (unless it is new)."""
    return None if changed is None else changed or child_changed is not False


def _upsert(model, existing: dict, key_field: str, key, values: dict) -> tuple[object, bool | None]:
    """The row for `key`, created or synchronised: (row, None if created else whether it changed)."""
    row = existing.get(key)
    if row is None:
        row = model(**{key_field: key}, **values)
        db.session.add(row)
        existing[key] = row
        return row, None
    return row, _sync(row, values)


def _by(model, key_field: str) -> dict:
    return {getattr(row, key_field): row for row in db.session.scalars(select(model))}


def _note_absent(report: DatasetReport, existing: dict, listed: set) -> None:
    report.absent = sorted(str(key) for key in existing if key not in listed)


def _load_counties(records: list[dict], report: DatasetReport) -> None:
    existing = _by(County, "code")
    listed = {record["code"] for record in records}
    for position, record in enumerate(records):
        _, changed = _upsert(County, existing, "code", record["code"], {
            "name": record["name"], "kind": record["kind"], "division_code": record["division_code"],
            "sort_order": _order(record, position)})
        report.count(changed)
    _note_absent(report, existing, listed)


def _load_departments(records: list[dict], report: DatasetReport) -> None:
    existing = _by(Department, "code")
    listed = {record["code"] for record in records}
    for position, record in enumerate(records):
        _, changed = _upsert(Department, existing, "code", record["code"], {
            "name": record["name"], "short_name": record["short_name"],
            "is_enforcement_authority": record["is_enforcement_authority"],
            "sort_order": _order(record, position)})
        report.count(changed)
    _note_absent(report, existing, listed)


def _departments() -> dict[str, Department]:
    return _by(Department, "code")


def _load_roster(records: list[dict], report: DatasetReport) -> None:
    departments = _departments()
    existing = _by(RosterMember, "name")
    listed = {record["name"] for record in records}
    for position, record in enumerate(records):
        _, changed = _upsert(RosterMember, existing, "name", record["name"], {
            "group_role": record["group_role"], "title": record["title"],
            "department": departments[record["department"]], "office_role": record["office_role"],
            "is_responsible_leader": record["is_responsible_leader"], "sort_order": _order(record, position)})
        report.count(changed)
    _note_absent(report, existing, listed)


def _load_duties(records: list[dict], report: DatasetReport) -> None:
    departments = _departments()
    existing = _by(Duty, "seq")
    listed = {record["seq"] for record in records}
    for record in records:
        department = departments[record["department"]] if record["department"] else None
        _, changed = _upsert(Duty, existing, "seq", record["seq"], {
            "party": record["party"], "department": department, "text": record["text"]})
        report.count(changed)
    _note_absent(report, existing, listed)


def _load_categories(records: list[dict], report: DatasetReport) -> None:
    departments = _departments()
    existing = _by(VenueCategory, "code")
    listed = {record["code"] for record in records}
    for position, record in enumerate(records):
        _, changed = _upsert(VenueCategory, existing, "code", record["code"], {
            "name": record["name"], "group": record["group"],
            "responsibility_source": record["responsibility_source"],
            "locality_responsible": record["locality_responsible"], "sort_order": _order(record, position),
            "departments": [departments[code] for code in record["departments"]]})
        report.count(changed)
    _note_absent(report, existing, listed)


def _load_rules(records: list[dict], report: DatasetReport) -> None:
    categories = _by(VenueCategory, "code")
    existing = _by(Rule, "code")
    items = _by(ChecklistItem, "code")
    checks = _by(RuleCheck, "code")
    listed = {record["code"] for record in records}
    listed_children: set[str] = set()
    for position, record in enumerate(records):
        rule, changed = _upsert(Rule, existing, "code", record["code"], {
            "section": record["section"], "title": record["title"], "source_text": record["source_text"],
            "sort_order": _order(record, position),
            "categories": _rule_categories(record, categories)})
        for child_position, item in enumerate(record["items"]):
            listed_children.add(item["code"])
            _, item_changed = _upsert(ChecklistItem, items, "code", item["code"], {
                "rule": rule, "prompt": item["prompt"], "value_type": item["value_type"],
                "choices": item["choices"], "required": item["required"],
                "sort_order": (child_position + 1) * 10})
            changed = _with_child(changed, item_changed)
        for child_position, check in enumerate(record["checks"]):
            listed_children.add(check["code"])
            _, check_changed = _upsert(RuleCheck, checks, "code", check["code"], {
                "rule": rule, "description": check["description"], "applies_when": check["applies_when"],
                "expression": check["expression"], "sort_order": (child_position + 1) * 10})
            changed = _with_child(changed, check_changed)
        report.count(changed)
    _note_absent(report, existing, listed)
    report.absent += sorted(f"{row.rule.code}/{code}" for code, row in {**items, **checks}.items()
                            if code not in listed_children)


def _rule_categories(record: dict, categories: dict[str, VenueCategory]) -> list[VenueCategory]:
    """The categories a rule names, then every category of the groups it names (in category order)."""
    named = [categories[code] for code in record["categories"]]
    grouped = sorted((category for category in categories.values()
                      if category.group in record["category_groups"] and category not in named),
                     key=lambda category: (category.sort_order, category.code))
    return grouped + named


def _load_legal_bases(records: list[dict], report: DatasetReport) -> None:
    existing = _by(LegalBasis, "code")
    benchmarks = _by(DiscretionBenchmark, "code")
    listed = {record["code"] for record in records}
    listed_benchmarks: set[str] = set()
    for record in records:
        basis, changed = _upsert(LegalBasis, existing, "code", record["code"], {
            "provision": record["provision"], "law": record["law"], "article": record["article"],
            "text": record["text"], "authority_kind": record["authority_kind"],
            "authority_source": record["authority_source"], "penalty_types": record["penalty_types"],
            "max_fine_individual": record["max_fine_individual"], "max_fine_unit": record["max_fine_unit"],
            "max_detention_days": record["max_detention_days"],
            "valid_from": record["valid_from"], "valid_to": record["valid_to"]})
        for benchmark in record["benchmarks"]:
            listed_benchmarks.add(benchmark["code"])
            _, benchmark_changed = _upsert(DiscretionBenchmark, benchmarks, "code", benchmark["code"], {
                "legal_basis": basis, "circumstance": benchmark["circumstance"],
                "party_kind": benchmark["party_kind"], "combinations": benchmark["combinations"],
                "min_fine": benchmark["min_fine"], "max_fine": benchmark["max_fine"],
                "min_detention_days": benchmark["min_detention_days"],
                "max_detention_days": benchmark["max_detention_days"], "note": benchmark["note"],
                "valid_from": benchmark["valid_from"], "valid_to": benchmark["valid_to"]})
            changed = _with_child(changed, benchmark_changed)
        if changed is not None and basis.admin_edited_at is not None:
            # The file is the source of the rows it lists: an admin's edit of one is replaced here
            # and named in the report rather than kept silently or lost silently.
            if changed:
                report.overwritten.append(record["code"])
            basis.admin_edited_at = None
        report.count(changed)
    _note_absent(report, existing, listed)
    report.absent += sorted(f"{row.legal_basis.code}/{code}" for code, row in benchmarks.items()
                            if code not in listed_benchmarks)


def _load_hearing_thresholds(records: list[dict], report: DatasetReport) -> None:
    existing = _by(HearingThreshold, "code")
    listed = {record["code"] for record in records}
    for record in records:
        _, changed = _upsert(HearingThreshold, existing, "code", record["code"], {
            name: record[name] for name in ("party_kind", "penalty_type", "min_amount", "minors_only", "source",
                                            "valid_from", "valid_to")})
        report.count(changed)
    _note_absent(report, existing, listed)


def _check_legal_rows() -> None:
    """The file's rows and the admin's rows together must keep the rules (no overlapping versions …)."""
    bases = list(db.session.scalars(select(LegalBasis)))
    issues = [Issue(file_name("legal_bases"), "", f"与数据库中已有的记录冲突：{line}")
              for line in problem_lines(legal_basis_problems(bases))]
    thresholds = list(db.session.scalars(select(HearingThreshold)))
    issues += [Issue(file_name("hearing_thresholds"), "", f"与数据库中已有的记录冲突：{code} · {field}：{message}")
               for code, field, message in hearing_threshold_problems(thresholds)]
    if issues:
        raise ReferenceDataError(issues)


def _load_draw_policies(records: list[dict], report: DatasetReport) -> None:
    # A policy is one document (weights, exclusions, team rules) kept whole as settings; the
    # file's version travels with it into every draw's parameters.
    existing = _by(DrawPolicy, "code")
    listed = {record["code"] for record in records}
    for record in records:
        settings = {name: value for name, value in record.items() if name != "code"}
        _, changed = _upsert(DrawPolicy, existing, "code", record["code"],
                             {"version": report.version, "settings": settings})
        report.count(changed)
    _note_absent(report, existing, listed)


def _load_fact_templates(records: list[dict], report: DatasetReport) -> None:
    # The sentences are read from the file when a case's facts are composed
    # (server.enforcement.case_facts); loading validates them against the rules and records the
    # version, so a change of wording is audited like any other reference change.
    previous = db.session.scalar(select(ReferenceDataset).filter_by(name=report.dataset))
    changed = None if previous is None else previous.sha256 != report.sha256
    for _record in records:
        report.count(changed)


_LOADERS = {
    "counties": _load_counties,
    "departments": _load_departments,
    "roster": _load_roster,
    "duties": _load_duties,
    "categories": _load_categories,
    "rules": _load_rules,
    "legal_bases": _load_legal_bases,
    "hearing_thresholds": _load_hearing_thresholds,
    "draw_policy": _load_draw_policies,
    "fact_templates": _load_fact_templates,
}


# ---------------------------------------------------------------- rule bundles


def rule_bundle(rule: Rule) -> dict:
    """A rule as plain data (items and checks): what the server and the field client evaluate."""
    return {
        "code": rule.code,
        "section": rule.section,
        "title": rule.title,
        "items": [
            {"code": item.code, "prompt": item.prompt, "value_type": item.value_type,
             "choices": item.choices, "required": item.required}
            for item in rule.items
        ],
        "checks": [
            {"code": check.code, "description": check.description, "applies_when": check.applies_when,
             "expression": check.expression}
            for check in rule.checks
        ],
    }


def rules_bundle_for_category(category: VenueCategory | str) -> list[dict]:
    """The rules that apply to a venue category, in rule order, each as `rule_bundle` data."""
    if isinstance(category, str):
        code = category
        category = db.session.scalar(select(VenueCategory).where(VenueCategory.code == code))
        if category is None:
            raise NotFound(f"没有代码为 {code} 的场所类别。")
    return [rule_bundle(rule) for rule in sorted(category.rules, key=lambda r: (r.sort_order, r.code))]


def venue_facts(venue) -> dict:
    """The `venue.*` facts a check may name (rulecheck.FACT_NAMESPACES["venue"])."""
    return {
        "category": venue.category.code,
        "county": venue.county.code,
        "approved_capacity": venue.approved_capacity,
    }
