"""Record schema of draw_policy.yaml: category weights, exclusions and team size for the draw."""

from __future__ import annotations

from marshmallow import fields, validate

from .reference_fields import StrictBoolean, StrictSchema, WholeNumber, _bounded, _code, _errors, _text, _weights_by

# Bounds that keep a draw's total weight far below 2^53 (docs/draw-algorithm.md).
MAX_CATEGORY_WEIGHT = 1000
MAX_WEIGHT_FACTOR = 100
# The document's teams are 两人以上; a policy may ask for more, never fewer.
MIN_TEAM_SIZE = 2


class DrawWeightsRecord(StrictSchema):
    default = _bounded(1, MAX_CATEGORY_WEIGHT)
    rules = _weights_by(r"^K[1-9][0-9]*$", MAX_CATEGORY_WEIGHT)
    categories = _weights_by(r"^[a-z][a-z0-9_]*$", MAX_CATEGORY_WEIGHT)
    past_violations_factor = _bounded(1, MAX_WEIGHT_FACTOR)
    never_inspected_factor = _bounded(1, MAX_WEIGHT_FACTOR)


class DrawExclusionsRecord(StrictSchema):
    same_county = StrictBoolean(required=True, error_messages=_errors())
    responsible_department = StrictBoolean(required=True, error_messages=_errors())
    repeat_visit_days = _bounded(0, 3660)
    max_assignments_per_inspector_per_day = _bounded(1, 24)


class DrawTeamRecord(StrictSchema):
    min_size = WholeNumber(required=True, error_messages=_errors(),
                           validate=validate.Range(min=MIN_TEAM_SIZE, max=20,
                                                   error="督查组至少 {min} 人（两人以上），最多 {max} 人。"))
    require_certified_member_when_penalties = StrictBoolean(required=True, error_messages=_errors())


class CheckinRecord(StrictSchema):
    # Beyond this many metres from the venue a check-in or photo position is flagged to the office.
    radius_m = _bounded(10, 100_000)


class DrawPolicyRecord(StrictSchema):
    code = _code()
    name = _text(64)
    weights = fields.Nested(DrawWeightsRecord, required=True, error_messages=_errors())
    exclusions = fields.Nested(DrawExclusionsRecord, required=True, error_messages=_errors())
    team = fields.Nested(DrawTeamRecord, required=True, error_messages=_errors())
    checkin = fields.Nested(CheckinRecord, required=True, error_messages=_errors())
