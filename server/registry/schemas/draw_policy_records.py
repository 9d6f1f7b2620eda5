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
    # How far back (days before the draw) a venue's violations count as past violations.
    past_violations_days = _bounded(1, 3660)


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


class SeedRecord(StrictSchema):
    # Who supplies the half of the seed the office cannot know (docs/draw-algorithm.md §1).
    contribution = fields.String(required=True, error_messages=_errors(),
                                 validate=validate.OneOf(("auditor", "public"),
                                                         error="seed.contribution 只能是 auditor 或 public。"))
    # For `public`: the published value named in advance, e.g. a lottery result after the draw.
    public_source = fields.String(load_default=None, allow_none=True, error_messages=_errors(),
                                  validate=validate.Length(max=200))


# Defaults when a policy leaves dispatch or cancellation out (the draws read the same values).
DEFAULT_DISPATCH = {"lead_hours": 24}
DEFAULT_CANCELLATION = {"link_days": 30, "flag_window_days": 30, "flag_threshold": 2}


class DispatchRecord(StrictSchema):
    # Hours before a draw's window opens from which its teams may be dispatched.
    lead_hours = _bounded(0, 24 * 31)


class CancellationRecord(StrictSchema):
    # A new draw overlapping one cancelled this many days before is linked to it as its replacement.
    link_days = _bounded(1, 3660)
    # The draw list flags a user with more than flag_threshold cancellations in flag_window_days.
    flag_window_days = _bounded(1, 3660)
    flag_threshold = _bounded(0, 1000)


class DrawPolicyRecord(StrictSchema):
    code = _code()
    name = _text(64)
    weights = fields.Nested(DrawWeightsRecord, required=True, error_messages=_errors())
    exclusions = fields.Nested(DrawExclusionsRecord, required=True, error_messages=_errors())
    team = fields.Nested(DrawTeamRecord, required=True, error_messages=_errors())
    checkin = fields.Nested(CheckinRecord, required=True, error_messages=_errors())
    dispatch = fields.Nested(DispatchRecord, load_default=lambda: dict(DEFAULT_DISPATCH), error_messages=_errors())
    cancellation = fields.Nested(CancellationRecord, load_default=lambda: dict(DEFAULT_CANCELLATION),
                                 error_messages=_errors())
    seed = fields.Nested(SeedRecord, required=True, error_messages=_errors())
