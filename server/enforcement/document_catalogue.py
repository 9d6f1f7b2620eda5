"""The document kinds (server/reference/document_numbers.yaml: titles and default organs; the
number formats are the organs', server/enforcement/organs.py) and the rights texts
(server/reference/document_rights.yaml), read and validated on use.

Read directly rather than loaded into tables like the other reference files: nothing queries or
joins them, each issued document keeps the number and the texts it was rendered with (so editing
a file never changes a document already issued), and a table would only add a second copy an
admin could let drift from the file. They are validated whole on every read (the files are a few
hundred bytes; the parsed result is cached per file modification time), and a bad file stops
issuing with an error naming the file and the field.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import yaml
from flask import current_app
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from ..errors import Problem
from .organs import ORGANS_FILE, load_organs, organ_named

NUMBERS_FILE = "document_numbers.yaml"
RIGHTS_FILE = "document_rights.yaml"
KINDS = ("penalty_notice", "penalty_decision", "rectification_order", "inspection_record", "accountability_report")


class DocumentCatalogueError(Problem):
    """A document reference file is missing or invalid: nothing can be issued until it is fixed."""

    status = 500
    slug = "document-reference-invalid"
    default_title = "文书参考数据有误"


def _placeholders(text: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]


class KindSchema(Schema):
    class Meta:
        unknown = RAISE

    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    title = fields.String(required=True, validate=validate.Length(min=2, max=40))
    # The default issuing organ (a name in organs.yaml); a case's penalty documents take the
    # organ of their legal basis instead.
    organ = fields.String(required=True, validate=validate.Length(min=2, max=60))


class NumbersFileSchema(Schema):
    class Meta:
        unknown = RAISE

    version = fields.String(required=True)
    documents = fields.List(fields.Nested(KindSchema), required=True)

    @validates_schema
    def _every_kind_once(self, data, **_kwargs):
        kinds = [entry["kind"] for entry in data.get("documents", [])]
        if sorted(kinds) != sorted(KINDS):
            raise ValidationError(f"每种文书须且只须出现一次：{'、'.join(KINDS)}。", "documents")


RIGHTS_TEXTS = {
    "notice_basis": set(),
    "statement": {"statement_days"},
    "hearing": {"hearing_days"},
    "payment": {"payment_days", "method", "late_fee_percent"},
    "execution": {"method"},
    "remedies": {"review_days", "review_body", "lawsuit_months", "court"},
    "rectification": {"deadline"},
}


class PeriodsSchema(Schema):
    class Meta:
        unknown = RAISE

    statement_days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=30))
    hearing_days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=30))
    payment_days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=90))
    late_fee_percent = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=10))
    review_days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=365))
    lawsuit_months = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=24))


def _text() -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=4))


class TextsSchema(Schema):
    class Meta:
        unknown = RAISE

    notice_basis = _text()
    statement = _text()
    hearing = _text()
    payment = _text()
    execution = _text()
    remedies = _text()
    rectification = _text()

    @validates_schema
    def _placeholders_known(self, data, **_kwargs):
        for name, allowed in RIGHTS_TEXTS.items():
            unknown = set(_placeholders(data.get(name, ""))) - allowed
            if unknown:
                raise ValidationError(f"未知的占位符：{'、'.join(sorted(unknown))}。", name)


class RightsFileSchema(Schema):
    class Meta:
        unknown = RAISE

    version = fields.String(required=True)
    periods = fields.Nested(PeriodsSchema, required=True)
    texts = fields.Nested(TextsSchema, required=True)


@dataclass(frozen=True)
class DocumentKind:
    kind: str
    title: str
    # The default issuing organ's name (organs.yaml).
    authority: str

    def number(self, year: int, serial: int, organ: str | None = None) -> str:
        """The printed number in `organ`'s format (default: the kind's organ)."""
        return organ_named(organ or self.authority).number(self.kind, year, serial)

    def placeholder_number(self, year: int, organ: str | None = None) -> str:
        """The number as a preview shows it: the serial left blank."""
        return organ_named(organ or self.authority).placeholder_number(self.kind, year)


@dataclass(frozen=True)
class Catalogue:
    version: str
    kinds: dict[str, DocumentKind]
    periods: dict[str, int]
    texts: dict[str, str]


_cache: dict[tuple, Catalogue] = {}


def _read(path: Path, schema: Schema) -> dict:
    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
    except FileNotFoundError:
        raise DocumentCatalogueError(f"文书参考文件 {path.name} 不存在（目录 {path.parent}）。") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DocumentCatalogueError(f"文书参考文件 {path.name} 无法读取：{exc}") from None
    try:
        return schema.load(raw if isinstance(raw, dict) else {})
    except ValidationError as exc:
        raise DocumentCatalogueError(f"文书参考文件 {path.name} 校验未通过：{_first_error(exc.messages)}",
                                     errors=exc.messages) from None


def _first_error(messages, prefix: str = "") -> str:
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        return _first_error(value, f"{prefix}{key}." if key != "_schema" else prefix)
    if isinstance(messages, list) and messages and not isinstance(messages[0], str):
        return _first_error(messages[0], prefix)
    return f"{prefix.rstrip('.')}：{messages[0] if isinstance(messages, list) else messages}"


def load_catalogue(directory: str | Path | None = None) -> Catalogue:
    """The validated kinds and rights texts of `directory` (default: the app's REFERENCE_DIR)."""
    directory = Path(directory or current_app.config["REFERENCE_DIR"])
    numbers_path, rights_path = directory / NUMBERS_FILE, directory / RIGHTS_FILE
    try:
        key = (str(directory), numbers_path.stat().st_mtime_ns, rights_path.stat().st_mtime_ns,
               (directory / ORGANS_FILE).stat().st_mtime_ns)
    except OSError:
        key = None
    if key is not None and key in _cache:
        return _cache[key]
    numbers = _read(numbers_path, NumbersFileSchema())
    rights = _read(rights_path, RightsFileSchema())
    organs = load_organs(directory)
    for entry in numbers["documents"]:
        # The default organ must exist and number this kind: a file naming an unknown organ
        # stops issuing here rather than at the first document.
        if entry["organ"] not in organs or entry["kind"] not in organs[entry["organ"]].numbers:
            raise DocumentCatalogueError(f"文书参考文件 {NUMBERS_FILE} 校验未通过：documents：{entry['kind']} 的机关"
                                         f"“{entry['organ']}”不在 organs.yaml 中，或没有该文书的发文字号格式。")
    catalogue = Catalogue(
        version=f"{numbers['version']}/{rights['version']}",
        kinds={entry["kind"]: DocumentKind(entry["kind"], entry["title"], entry["organ"])
               for entry in numbers["documents"]},
        periods=dict(rights["periods"]),
        texts=dict(rights["texts"]),
    )
    if key is not None:
        _cache[key] = catalogue
    return catalogue


def document_kind(kind: str) -> DocumentKind:
    from ..errors import NotFound

    catalogue = load_catalogue()
    if kind not in catalogue.kinds:
        raise NotFound(f"没有“{kind}”这种文书；可选：{'、'.join(KINDS)}。")
    return catalogue.kinds[kind]

