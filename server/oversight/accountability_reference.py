"""The reference data of accountability (倒查责任, 五(四)): the thresholds that suggest measures
(server/reference/accountability_thresholds.yaml) and the responsibility file
(server/reference/responsibility.yaml: the source document quoted by the report and the leader of
each county, 属地), each validated on use and cached per modification time; and `suggest`, which
applies the thresholds to a party's counts.

问责 is for party and government bodies and officials: 属地 and 部门 (and their leaders) can get
问责, 约谈 or 通报; a venue and a private person get 处罚 (五(三)), 约谈, 通报 or 曝光 (五(五)),
never 问责 (PARTY_MEASURES, enforced on the thresholds file and again when suggesting).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml
from flask import current_app
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from ..errors import Problem

THRESHOLDS_FILE = "accountability_thresholds.yaml"
RESPONSIBILITY_FILE = "responsibility.yaml"
PARTIES = ("county", "department", "unit", "person")
FAILURES = ("violations", "repeated", "overdue", "operating_while_closed")
# Least to most severe: suggestions are listed most severe first.
MEASURES = ("criticism", "interview", "exposure", "penalty", "accountability")
MEASURE_LABELS = {"criticism": "通报", "interview": "约谈", "exposure": "曝光", "penalty": "依法处罚",
                  "accountability": "问责"}
# What each party can get: 问责 only for the bodies and officials of 属地 and 部门.
PARTY_MEASURES = {"county": ("accountability", "interview", "criticism"),
                  "department": ("accountability", "interview", "criticism"),
                  "unit": ("penalty", "interview", "criticism", "exposure"),
                  "person": ("penalty", "interview", "criticism", "exposure")}
FAILURE_LABELS = {"violations": "违规问题", "repeated": "重复违规", "overdue": "逾期未整改（未履行）",
                  "operating_while_closed": "应关停仍营业"}
PARTY_LABELS = {"county": "属地", "department": "部门", "unit": "单位", "person": "个人"}


# --- thresholds ------------------------------------------------------------------------------


class ThresholdsInvalid(Problem):
    status = 500
    slug = "accountability-thresholds-invalid"
    default_title = "问责阈值参考数据有误"


class ThresholdSchema(Schema):
    class Meta:
        unknown = RAISE

    code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    party = fields.String(required=True, validate=validate.OneOf(PARTIES))
    failure = fields.String(required=True, validate=validate.OneOf(FAILURES))
    min_count = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100000))
    measure = fields.String(required=True, validate=validate.OneOf(MEASURES))
    valid_from = fields.Date(required=True)
    valid_to = fields.Date(load_default=None, allow_none=True)

    @validates_schema
    def _period(self, data, **_kwargs):
        if data.get("valid_to") and data["valid_to"] < data["valid_from"]:
            raise ValidationError("结束日期早于开始日期。", "valid_to")

    @validates_schema
    def _measure_fits_party(self, data, **_kwargs):
        party, measure = data.get("party"), data.get("measure")
        if party in PARTY_MEASURES and measure in MEASURES and measure not in PARTY_MEASURES[party]:
            allowed = "、".join(MEASURE_LABELS[m] for m in PARTY_MEASURES[party])
            raise ValidationError(f"{PARTY_LABELS[party]}只能采取{allowed}，不能{MEASURE_LABELS[measure]}。", "measure")


class ThresholdsFileSchema(Schema):
    class Meta:
        unknown = RAISE

    version = fields.String(required=True)
    operating_while_closed_checks = fields.List(fields.String(validate=validate.Length(min=1, max=64)),
                                                required=True)
    thresholds = fields.List(fields.Nested(ThresholdSchema), required=True, validate=validate.Length(min=1))

    @validates_schema
    def _unique_codes(self, data, **_kwargs):
        codes = [t["code"] for t in data.get("thresholds", [])]
        if len(set(codes)) != len(codes):
            raise ValidationError("阈值代码重复。", "thresholds")


@dataclass(frozen=True)
class Threshold:
    code: str
    party: str
    failure: str
    min_count: int
    measure: str
    valid_from: date
    valid_to: date | None

    def in_force(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


@dataclass(frozen=True)
class ThresholdSet:
    version: str
    closed_checks: frozenset[str]
    thresholds: tuple[Threshold, ...]

    def in_force(self, on: date) -> list[Threshold]:
        return [t for t in self.thresholds if t.in_force(on)]


_cache: dict[tuple, ThresholdSet] = {}


def _validated_file(name: str, label: str, schema, error, cache: dict, build, directory):
    """A reference file of `directory` (default: the app's REFERENCE_DIR) loaded with `schema` and
    turned into its value by `build`, cached per modification time; `error` (a clear 500) when it
    is missing, unreadable or invalid."""
    path = Path(directory or current_app.config["REFERENCE_DIR"]) / name
    try:
        key = (str(path), path.stat().st_mtime_ns)
    except OSError:
        raise error(f"{label} {path.name} 不存在。") from None
    if key in cache:
        return cache[key]
    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
        data = schema().load(raw if isinstance(raw, dict) else {})
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise error(f"{label} {path.name} 无法读取：{exc}") from None
    except ValidationError as exc:
        raise error(f"{label} {path.name} 校验未通过：{exc.messages}", errors=exc.messages) from None
    cache[key] = loaded = build(data)
    return loaded


def load_thresholds(directory: str | Path | None = None) -> ThresholdSet:
    """The validated thresholds file (cached per modification time); a bad file is a clear 500."""
    return _validated_file(THRESHOLDS_FILE, "问责阈值文件", ThresholdsFileSchema, ThresholdsInvalid, _cache,
                           lambda data: ThresholdSet(data["version"], frozenset(data["operating_while_closed_checks"]),
                                                     tuple(Threshold(**t) for t in data["thresholds"])), directory)


def suggest(party: str, counts: dict[str, int], thresholds: list[Threshold]) -> list[dict]:
    """The measures whose threshold the party's counts reach, most severe first; only measures the
    party can get (PARTY_MEASURES), whatever a threshold says."""
    matched = [t for t in thresholds if t.party == party and t.measure in PARTY_MEASURES[party]
               and counts.get(t.failure, 0) >= t.min_count]
    matched.sort(key=lambda t: (-MEASURES.index(t.measure), t.code))
    return [{"code": t.code, "measure": t.measure, "measure_label": MEASURE_LABELS[t.measure],
             "reason": f"{FAILURE_LABELS[t.failure]} {counts.get(t.failure, 0)}（阈值 {t.min_count}）"}
            for t in matched]


# --- the source and the 属地 leaders ----------------------------------------------------------


class ResponsibilityInvalid(Problem):
    status = 500
    slug = "responsibility-reference-invalid"
    default_title = "责任参考数据有误"


def _line(max_length: int = 200) -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=max_length))


class ClauseSchema(Schema):
    class Meta:
        unknown = RAISE

    section = _line(40)
    text = _line()


class SourceSchema(Schema):
    class Meta:
        unknown = RAISE

    number = _line(40)
    issuer = _line(60)
    date = fields.Date(required=True)
    kind = _line(10)
    leading_group = _line(60)
    command = _line(60)
    accountability_clause = fields.Nested(ClauseSchema, required=True)
    four_parties_clause = fields.Nested(ClauseSchema, required=True)
    penalty_clause = fields.Nested(ClauseSchema, required=True)
    exposure_clause = fields.Nested(ClauseSchema, required=True)
    locality_clause = fields.Nested(ClauseSchema, required=True)
    copies_to = fields.List(_line(60), required=True)


class LocalityLeaderSchema(Schema):
    class Meta:
        unknown = RAISE

    county = _line(64)
    name = _line(32)
    title = _line(128)


class ResponsibilityFileSchema(Schema):
    class Meta:
        unknown = RAISE

    version = fields.String(required=True)
    source = fields.Nested(SourceSchema, required=True)
    locality_leaders = fields.List(fields.Nested(LocalityLeaderSchema), required=True)

    @validates_schema
    def _one_leader_per_county(self, data, **_kwargs):
        counties = [leader["county"] for leader in data.get("locality_leaders", [])]
        if len(set(counties)) != len(counties):
            raise ValidationError("同一县（市、区）只能有一名属地责任领导。", "locality_leaders")


_responsibility_cache: dict[tuple, dict] = {}


def load_responsibility(directory: str | Path | None = None) -> dict:
    """The validated responsibility file (cached per modification time): `source` as JSON-ready
    values and `leaders` by county code; a bad file is a clear 500."""
    def build(data: dict) -> dict:
        source = {**data["source"], "date": data["source"]["date"].isoformat()}
        return {"version": data["version"], "source": source,
                "leaders": {leader["county"]: leader for leader in data["locality_leaders"]}}

    return _validated_file(RESPONSIBILITY_FILE, "责任参考文件", ResponsibilityFileSchema, ResponsibilityInvalid,
                           _responsibility_cache, build, directory)
