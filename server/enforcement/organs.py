"""The issuing organs (server/reference/organs.yaml), read and validated on use.

Each organ has its name (printed as the issuing authority and naming its signing key), its seal,
the kinds of competent authority it holds in 金华 (公安机关, 疾病预防控制部门 …), the number format
of each document kind it issues, and — for an organ issuing penalty documents — its review body,
court, contact, payment and execution texts and 版记. Read like the document catalogue (a small
file, validated whole on every change, cached per modification time); a bad file stops issuing
with an error naming the file and the field.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import yaml
from flask import current_app
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

ORGANS_FILE = "organs.yaml"
PENALTY_KINDS = ("penalty_notice", "penalty_decision")
NUMBERED_KINDS = (*PENALTY_KINDS, "rectification_order", "inspection_record", "accountability_report")

_LINE = validate.Length(min=1, max=200)


def check_number_format(value: str) -> None:
    """GB/T 9704-2012: {year} in 〔〕 then {n}号, no 第, no format spec (leading zeros)."""
    try:
        fields_ = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(value)
                   if name is not None]
    except ValueError:
        raise ValidationError("花括号不成对。") from None
    if [name for name, _, _ in fields_] != ["year", "n"] or any(spec or conversion for _, spec, conversion in fields_):
        raise ValidationError("须依次包含且只包含 {year} 和 {n} 两个占位符。")
    if "〔{year}〕" not in value or not value.endswith("{n}号"):
        raise ValidationError("年份须写在六角括号〔〕内，序号后接“号”，如 金公（治）行罚决字〔{year}〕{n}号。")
    if "第" in value:
        raise ValidationError("GB/T 9704 的发文字号不加“第”字。")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class _Copies(_Strict):
    cc = fields.List(fields.String(validate=_LINE), load_default=list)
    printed_by = fields.String(validate=_LINE, allow_none=True, load_default=None)


class _Contact(_Strict):
    address = fields.String(validate=_LINE, allow_none=True, load_default=None)
    phone = fields.String(validate=_LINE, allow_none=True, load_default=None)


class _PenaltyCopies(_Strict):
    penalty_notice = fields.Nested(_Copies, load_default=dict)
    penalty_decision = fields.Nested(_Copies, load_default=dict)


class _PenaltyIssuer(_Strict):
    review_body = fields.String(required=True, validate=_LINE)
    review_source = fields.String(required=True, validate=_LINE)
    court = fields.String(required=True, validate=_LINE)
    notice_contact = fields.Nested(_Contact, load_default=dict)
    fine_payment = fields.String(required=True, validate=_LINE)
    other_execution = fields.String(required=True, validate=_LINE)
    detention_execution = fields.String(validate=_LINE, allow_none=True, load_default=None)
    copies = fields.Nested(_PenaltyCopies, load_default=dict)


class _Numbers(_Strict):
    penalty_notice = fields.String(validate=check_number_format)
    penalty_decision = fields.String(validate=check_number_format)
    rectification_order = fields.String(validate=check_number_format)
    inspection_record = fields.String(validate=check_number_format)
    accountability_report = fields.String(validate=check_number_format)


class OrganSchema(_Strict):
    name = fields.String(required=True, validate=validate.Length(min=2, max=60))
    seal_name = fields.String(required=True, validate=validate.Length(min=2, max=60))
    authority_kinds = fields.List(fields.String(validate=validate.Length(min=2, max=32)), load_default=list)
    numbers = fields.Nested(_Numbers, required=True)
    penalty = fields.Nested(_PenaltyIssuer, load_default=None, allow_none=True)

    @validates_schema
    def _penalty_data_with_penalty_kinds(self, data, **_kwargs):
        issues_penalties = any(kind in data.get("numbers", {}) for kind in PENALTY_KINDS)
        if issues_penalties and data.get("penalty") is None:
            raise ValidationError("出具行政处罚告知书、决定书的机关须填写 penalty（复议机关、法院、缴款方式等）。",
                                  "penalty")


class OrgansFileSchema(_Strict):
    version = fields.String(required=True)
    organs = fields.List(fields.Nested(OrganSchema), required=True, validate=validate.Length(min=1))

    @validates_schema
    def _unique(self, data, **_kwargs):
        organs = data.get("organs", [])
        names = [organ["name"] for organ in organs]
        if len(set(names)) != len(names):
            raise ValidationError("机关名称不能重复。", "organs")
        held = [kind for organ in organs for kind in organ["authority_kinds"]]
        if len(set(held)) != len(held):
            # One organ per kind: a case's documents must have exactly one issuer.
            raise ValidationError("每种主管机关只能由一个机关承担。", "organs")
        formats = [value for organ in organs for value in organ["numbers"].values()]
        if len(set(formats)) != len(formats):
            raise ValidationError("不同机关或不同种类的文书不能使用相同的发文字号格式（编号会重复）。", "organs")


@dataclass(frozen=True)
class Organ:
    name: str
    seal_name: str
    authority_kinds: tuple[str, ...]
    numbers: dict
    penalty: dict | None

    def number_format(self, kind: str) -> str:
        from .document_catalogue import DocumentCatalogueError

        if kind not in self.numbers:
            raise DocumentCatalogueError(f"机关参考文件 {ORGANS_FILE} 中，“{self.name}”没有这种文书的发文字号格式（{kind}）。")
        return self.numbers[kind]

    def number(self, kind: str, year: int, serial: int) -> str:
        """The printed number: full year, serial as a plain integer (no leading zeros, no 第)."""
        if not (isinstance(serial, int) and serial >= 1):
            raise ValueError(f"serial must be a positive integer, not {serial!r}")
        return self.number_format(kind).format(year=int(year), n=serial)

    def placeholder_number(self, kind: str, year: int) -> str:
        """The number as a preview shows it: the serial left blank."""
        return self.number_format(kind).format(year=int(year), n="　")


_cache: dict[tuple, dict[str, Organ]] = {}


def load_organs(directory: str | Path | None = None) -> dict[str, Organ]:
    """The validated organs of `directory` (default: the app's REFERENCE_DIR), by name."""
    from .document_catalogue import DocumentCatalogueError, _first_error

    path = Path(directory or current_app.config["REFERENCE_DIR"]) / ORGANS_FILE
    try:
        key = (str(path), path.stat().st_mtime_ns)
    except OSError:
        raise DocumentCatalogueError(f"机关参考文件 {ORGANS_FILE} 不存在（目录 {path.parent}）。") from None
    if key in _cache:
        return _cache[key]
    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DocumentCatalogueError(f"机关参考文件 {ORGANS_FILE} 无法读取：{exc}") from None
    try:
        data = OrgansFileSchema().load(raw if isinstance(raw, dict) else {})
    except ValidationError as exc:
        raise DocumentCatalogueError(f"机关参考文件 {ORGANS_FILE} 校验未通过：{_first_error(exc.messages)}",
                                     errors=exc.messages) from None
    organs = {entry["name"]: Organ(entry["name"], entry["seal_name"], tuple(entry["authority_kinds"]),
                                   dict(entry["numbers"]), entry["penalty"]) for entry in data["organs"]}
    _cache[key] = organs
    return organs


def organ_named(name: str) -> Organ:
    from .document_catalogue import DocumentCatalogueError

    organs = load_organs()
    if name not in organs:
        raise DocumentCatalogueError(f"机关参考文件 {ORGANS_FILE} 中没有“{name}”。")
    return organs[name]


def seal_of(organ_name: str) -> str:
    """The name of the organ's electronic seal: the name its signing key is filed under
    (DOCUMENT_SIGNING_DIR) and its certificate's CN, which verification expects. organs.yaml's
    seal_name; an organ not listed there (the bulletins' office) seals in its own name."""
    organ = load_organs().get(organ_name)
    return organ.seal_name if organ is not None else organ_name


def organ_for_authority(authority_kind: str) -> Organ:
    """The organ of 金华 holding `authority_kind` (公安机关 …); 409 when none does."""
    from ..errors import Conflict

    for organ in load_organs().values():
        if authority_kind in organ.authority_kinds:
            return organ
    raise Conflict(f"没有承担“{authority_kind}”职责的出具机关（{ORGANS_FILE}），不能出具该依据的处罚文书。")
