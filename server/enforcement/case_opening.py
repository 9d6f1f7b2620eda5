"""Opening penalty cases (立案) from the violation queue, or declining violations (不予立案).

The queue holds the violations waiting for the bureau: live (not withdrawn by an amendment), in
no live case and not declined. A case takes violations of one venue, the party as known at 立案
and two certified officers; a violation already in a live case, or declined, is a 409, and the
unique (violation, live) constraint settles two concurrent attempts the same way. Opening and
declining are audited with their actor.

Services flush and never commit; the request or CLI command commits.
"""

from __future__ import annotations

from datetime import date

import marshmallow as ma
import sqlalchemy as sa
from marshmallow import fields, validate

from ..access import authorize
from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import CHINA_STANDARD_TIME, as_utc, utcnow
from ..errors import Conflict, Invalid
from ..extensions import db
from ..field.models.inspection import Inspection, Photo, Violation
from ..races import conflict_on_race
from ..registry import credit_code
from ..registry.models.reference import CIRCUMSTANCE_LABELS, County
from ..registry.models.venue import Venue
from . import case_facts, reinspection
from .cases import _department_venues
from .models.case import CIRCUMSTANCES, PARTY_KINDS, CaseTransition, CaseViolation, EnforcementCase, ViolationDecline

# --- input ------------------------------------------------------------------------------------


ID_NUMBER = r"^\d{17}[\dXx]$"


def _credit_code_format(code: str) -> None:
    # Checked here too (not only where people type it): a code with a wrong check character named
    # on a 决定书 names no unit, whichever way the case was opened.
    try:
        credit_code.normalise(code)
    except credit_code.CreditCodeError as exc:
        raise ma.ValidationError(str(exc)) from None


class PartySchema(ma.Schema):
    """The party of a case; which fields are required depends on its kind."""

    class Meta:
        unknown = ma.RAISE

    kind = fields.String(required=True, validate=validate.OneOf(PARTY_KINDS, error="须为个人或单位。"))
    name = fields.String(validate=validate.Length(max=64), load_default=None)
    id_number = fields.String(validate=validate.Regexp(ID_NUMBER, error="身份证号码须为 18 位。"), load_default=None)
    unit_name = fields.String(validate=validate.Length(max=128), load_default=None)
    credit_code = fields.String(validate=_credit_code_format, load_default=None)
    legal_representative = fields.String(validate=validate.Length(max=64), load_default=None)
    address = fields.String(validate=validate.Length(max=256), load_default=None)
    phone = fields.String(validate=validate.Length(max=32), load_default=None)

    @ma.pre_load
    def _blank_is_missing(self, data, **kwargs):
        if isinstance(data, dict):
            data = {key: value for key, value in data.items() if not (isinstance(value, str) and not value.strip())}
            if isinstance(data.get("credit_code"), str):
                data["credit_code"] = data["credit_code"].strip().upper()
            self._given = set(data)
        return data

    # Run even when a field failed, so that a missing item is named together with a malformed
    # one; what was given (however malformed) is not reported missing as well.
    @ma.validates_schema(skip_on_field_errors=False)
    def _required_for_kind(self, data, **kwargs):
        # What identifies the party at 立案. What else the documents need (an address, a unit's legal
        # representative) may be found in the investigation and completed before the notice.
        required = (("name", "id_number") if data.get("kind") == "individual"
                    else ("unit_name", "credit_code") if data.get("kind") == "unit" else ())
        given = getattr(self, "_given", set())
        missing = {name: ["必填。"] for name in required if not data.get(name) and name not in given}
        if missing:
            raise ma.ValidationError(missing)


def check_party(party: dict) -> dict:
    """The party as the case records it; Invalid (errors keyed `party.<item>`) when incomplete or malformed."""
    try:
        return PartySchema().load(party or {})
    except ma.ValidationError as exc:
        raise Invalid("当事人信息不完整或格式不正确。",
                      errors={f"party.{key}": value for key, value in exc.normalized_messages().items()}) from None


_party = check_party  # the name case_transitions imports


def _officers(officer_ids) -> list[User]:
    """Two distinct active enforcement officers, each holding a certificate (行政处罚法 第四十二条)."""
    ids = list(officer_ids or [])
    if len(ids) != 2 or len(set(ids)) != 2:
        raise Invalid("案件须由两名不同的执法人员承办。", errors={"officers": ["须选择两名不同的执法人员。"]})
    officers = []
    for ident in ids:
        user = db.session.get(User, ident) if isinstance(ident, int) and not isinstance(ident, bool) else None
        if user is None or user.role != "enforcement" or not user.is_active:
            raise Invalid("承办人须为在岗的执法人员。", errors={"officers": [f"用户 {ident} 不是在岗的执法人员。"]})
        if not user.enforcement_certificate_no:
            raise Invalid("承办人须持有执法证。",
                          errors={"officers": [f"{user.display_name} 没有登记执法证号。"]})
        officers.append(user)
    return officers


def _text(value, name: str, label: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise Invalid(f"须填写{label}。", errors={name: ["必填。"]})
    return text

# --- violations -------------------------------------------------------------------------------


def _in_live_case():
    return sa.select(CaseViolation.violation_id).where(CaseViolation.live.is_(True))


def open_violations(user: User, *, county_id: int | None = None, department_id: int | None = None,
                    rule_code: str | None = None, venue_id: int | None = None) -> list[Violation]:
    """Violations waiting for the bureau: live (not withdrawn by an amendment), in no live case
    and not declined, oldest first."""
    authorize(user, "read", Violation)
    query = (sa.select(Violation)
             .where(Violation.withdrawn_at.is_(None), Violation.id.not_in(_in_live_case()),
                    Violation.id.not_in(sa.select(ViolationDecline.violation_id)))
             .order_by(Violation.id))
    if venue_id is not None:
        query = query.where(Violation.venue_id == venue_id)
    if county_id is not None:
        query = query.where(Violation.county_id == county_id)
    if department_id is not None:
        query = query.where(Violation.venue_id.in_(_department_venues(department_id)))
    if rule_code:
        query = query.where(Violation.rule_code == rule_code)
    return list(db.session.scalars(query))


def _violations(violation_ids) -> list[Violation]:
    ids = list(violation_ids or [])
    if not ids:
        raise Invalid("请至少选择一条违规问题。", errors={"violation_ids": ["至少一条。"]})
    if any(not isinstance(ident, int) or isinstance(ident, bool) for ident in ids) or len(set(ids)) != len(ids):
        raise Invalid("违规问题编号须为互不相同的整数。", errors={"violation_ids": ["编号有误。"]})
    found = {v.id: v for v in db.session.scalars(sa.select(Violation).where(Violation.id.in_(ids)))}
    unknown = [ident for ident in ids if ident not in found]
    if unknown:
        raise Invalid("违规问题不存在。", errors={"violation_ids": [f"编号 {i} 不存在。" for i in unknown]})
    return [found[ident] for ident in ids]


def _check_open(violations: list[Violation]) -> None:
    ids = [v.id for v in violations]
    withdrawn = sorted(v.id for v in violations if v.withdrawn_at is not None)
    if withdrawn:
        raise Conflict(f"违规问题 {'、'.join(map(str, withdrawn))} 已被更正撤回，不能立案。", violation_ids=withdrawn)
    taken = sorted(set(db.session.scalars(_in_live_case().where(CaseViolation.violation_id.in_(ids)))))
    if taken:
        raise Conflict(f"违规问题 {'、'.join(map(str, taken))} 已在办理中的案件里。", violation_ids=taken)
    declined = sorted(set(db.session.scalars(
        sa.select(ViolationDecline.violation_id).where(ViolationDecline.violation_id.in_(ids)))))
    if declined:
        raise Conflict(f"违规问题 {'、'.join(map(str, declined))} 已决定不予立案。", violation_ids=declined)


def decline_violations(violation_ids, *, reason: str, actor: User, channel: str = "api") -> list[ViolationDecline]:
    """Decide not to open a case for these violations (不予立案), with a reason; they leave the queue."""
    authorize(actor, "act", Violation)
    reason = _text(reason, "reason", "不予立案的理由")
    violations = _violations(violation_ids)
    _check_open(violations)
    now = utcnow()
    rows = [ViolationDecline(violation_id=v.id, reason=reason, declined_by_id=actor.id, declined_at=now)
            for v in violations]
    with conflict_on_race("违规问题刚被其他人处理，请刷新后重试。"):
        db.session.add_all(rows)
    for violation in violations:
        record_event("violation.declined", actor=actor, channel=channel, object_type="violation",
                     object_id=violation.id, details={"reason": reason})
    return rows


# --- the party and the venue ------------------------------------------------------------------


def mixed_venues_message(venue_ids) -> str:
    names = db.session.scalars(sa.select(Venue.name).where(Venue.id.in_(set(venue_ids))).order_by(Venue.name))
    return f"所选问题分属多个场所（{'、'.join(names)}）；一个案件只能包含同一场所的违规问题，请分别立案。"


def proposed_party(venue: Venue) -> dict:
    """The party a case against `venue` starts from, for the officer to check: the unit running
    it as the registry knows it (its operator as the legal representative)."""
    return {"kind": "unit", "unit_name": venue.name, "credit_code": venue.credit_code,
            "legal_representative": venue.operator_name, "address": venue.address, "phone": venue.contact_phone}


def other_county_named(address: str | None, county: County) -> County | None:
    """Another county of the registry that `address` names while not naming the case's `county`.

    A party may well live, or be registered, outside the county where it broke the rules (the
    case stays with the venue's county), but it is also what a slip in the address looks like:
    the pages ask the officer to confirm it. An address naming no county is not judged."""
    text = (address or "").strip()
    if not text or county.name in text:
        return None
    named = [other for other in db.session.scalars(sa.select(County).where(County.id != county.id).order_by(County.id))
             if other.name in text]
    return max(named, key=lambda other: len(other.name), default=None)


# --- opening ------------------------------------------------------------------------------------


def _act_date(violations: list[Violation]) -> date:
    checked_in = db.session.scalars(sa.select(Inspection.checked_in_at).where(
        Inspection.id.in_({v.inspection_id for v in violations}))).all()
    return min(as_utc(moment).astimezone(CHINA_STANDARD_TIME).date() for moment in checked_in)


def open_case(violation_ids, *, officers, party: dict, circumstance: str, actor: User, facts: str | None = None,
              evidence_summary: str | None = None, channel: str = "api") -> EnforcementCase:
    """Open a case (立案) from violations of one venue, handled by two certified officers.

    A violation already in a live case, or declined, is a 409; the unique (violation, live)
    constraint settles two concurrent attempts the same way.
    """
    authorize(actor, "act", EnforcementCase)
    if circumstance not in CIRCUMSTANCES:
        raise Invalid("情节须为" + "、".join(CIRCUMSTANCE_LABELS[c] for c in CIRCUMSTANCES) + "。",
                      errors={"circumstance": ["取值：" + "、".join(CIRCUMSTANCES)]})
    party_data = check_party(party)
    officer_rows = _officers(officers)
    violations = _violations(violation_ids)
    venues = {v.venue_id for v in violations}
    if len(venues) != 1:
        raise Invalid("一个案件只能包含同一场所的违规问题。", errors={"violation_ids": [mixed_venues_message(venues)]})
    _check_open(violations)
    photo_count = db.session.scalar(sa.select(sa.func.count(Photo.id)).where(
        Photo.inspection_id.in_({v.inspection_id for v in violations}), Photo.received_at.is_not(None)))
    case = EnforcementCase(
        state="filed", venue_id=violations[0].venue_id, county_id=violations[0].county_id,
        party_kind=party_data["kind"], party_name=party_data["name"], party_id_number=party_data["id_number"],
        party_unit_name=party_data["unit_name"], party_credit_code=party_data["credit_code"],
        party_legal_representative=party_data["legal_representative"], party_address=party_data["address"],
        party_phone=party_data["phone"],
        # The officer's own text is kept as typed; without it the facts are written from the record.
        facts=(facts or "").strip() or case_facts.compose_facts(violations, party_data),
        evidence_summary=(evidence_summary or "").strip() or f"现场检查记录 {len({v.inspection_id for v in violations})} 份，"
                                                              f"现场照片 {photo_count} 张。",
        circumstance=circumstance, act_date=_act_date(violations),
        officer1_id=officer_rows[0].id, officer1_certificate_no=officer_rows[0].enforcement_certificate_no,
        officer2_id=officer_rows[1].id, officer2_certificate_no=officer_rows[1].enforcement_certificate_no,
        opened_by_id=actor.id, opened_at=utcnow(), version=1,
    )
    case.links = [CaseViolation(violation_id=v.id, live=True) for v in violations]
    with conflict_on_race("所选违规问题刚被其他案件立案，请刷新后重试。"):
        db.session.add(case)
    db.session.add(CaseTransition(case_id=case.id, from_state=None, to_state="filed", actor_id=actor.id,
                                  at=utcnow(), details={"violation_ids": [v.id for v in violations]}))
    db.session.flush()
    record_event("case.opened", actor=actor, channel=channel, object_type="enforcement_case", object_id=case.id,
                 details={"violation_ids": [v.id for v in violations], "officers": [o.id for o in officer_rows],
                          "circumstance": circumstance})
    # A case from violations a failed re-inspection found again is that order's escalation.
    reinspection.note_case_opened(case, actor=actor, channel=channel)
    return case
