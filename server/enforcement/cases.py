"""Penalty cases: open from violations or decline them, and follow each case to its end.

State machine (`ALLOWED_TRANSITIONS`)::

    filed 立案 → investigating 调查取证 → notified 告知 → decided 决定 → served 送达
      → executed 执行 → closed 结案
    investigating | notified → no_penalty 不予处罚
    filed | investigating | notified | decided | served → revoked 撤销

不予处罚 is itself the decision the bureau takes instead of a penalty decision (行政处罚法
第五十七条): after investigation, or after the party's statement and defence following the
notice. Once a penalty decision is made it is not turned into "no penalty"; a wrong decision is
set aside by revoking it (撤销), which is why `decided` leads only to `served` or `revoked`.
A case is revoked only before execution: what was executed is undone by other procedures
(review, litigation), not by this record.

Each transition is a conditional UPDATE (… WHERE id AND version AND state): of two concurrent
requests made from the same version only one moves the case; the other, like any request
naming a stale version, gets a 409 problem. Each transition is audited with its actor.

Entering 告知 issues the 行政处罚告知书 and entering 决定 the 行政处罚决定书
(server.enforcement.case_documents), in the transition's transaction: the context is checked and
the fonts found before the case moves (a missing item is a 422 naming it, and no number is
used); a render that fails afterwards fails the request, which rolls the move back with it.

Who may do what: the enforcement bureau reads and acts on every case and violation; the office
and admins read; everyone else is refused (403) before any lookup.

Services flush and never commit; the request or CLI command commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import marshmallow as ma
import sqlalchemy as sa
import yaml
from flask import current_app
from marshmallow import fields, validate
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from ..access import authorize, get_or_404, grant, register_policy
from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import CHINA_STANDARD_TIME, as_utc, utcnow
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..field.models.inspection import Inspection, Penalty, Photo, Violation
from ..pagination import PER_PAGE, Page, paginate
from ..pdf.fonts import cjk_font_families
from ..races import conflict_on_race, is_sqlite_busy
from ..registry.models.reference import (
    CIRCUMSTANCE_LABELS,
    LEGAL_PENALTY_TYPES,
    PARTY_KIND_LABELS,
    PENALTY_TYPE_LABELS,
    category_departments,
)
from ..registry.models.venue import Venue
from . import case_documents, discretion, rectification
from . import documents as document_service
from .models.case import (
    CASE_STATES,
    CIRCUMSTANCES,
    EXECUTION_OUTCOMES,
    PARTY_KINDS,
    SERVICE_METHODS,
    CaseTransition,
    CaseViolation,
    EnforcementCase,
    ViolationDecline,
)

STATE_LABELS = {
    "filed": "立案",
    "investigating": "调查取证",
    "notified": "告知",
    "decided": "决定",
    "served": "送达",
    "executed": "执行",
    "closed": "结案",
    "no_penalty": "不予处罚",
    "revoked": "撤销",
}
# What the button that moves a case into each state says.
ACTION_LABELS = {
    "investigating": "开始调查取证",
    "notified": "告知拟处罚",
    "decided": "作出处罚决定",
    "served": "登记送达",
    "executed": "登记执行",
    "closed": "结案",
    "no_penalty": "不予处罚",
    "revoked": "撤销案件",
}
# What a case may decide: the penalty types of the benchmarks except detention — this bureau does
# not detain; a detention is referred to public security.
CASE_PENALTY_TYPES = tuple(t for t in LEGAL_PENALTY_TYPES if t != "detention")
PENALTY_LABELS = {t: PENALTY_TYPE_LABELS[t] for t in CASE_PENALTY_TYPES}
SERVICE_METHOD_LABELS = {"direct": "直接送达", "left": "留置送达", "post": "邮寄送达", "electronic": "电子送达",
                         "entrusted": "委托送达", "announcement": "公告送达"}
OUTCOME_LABELS = {"paid": "已缴纳罚款", "complied": "已履行", "enforced": "强制执行"}

ALLOWED_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "filed": ("investigating", "revoked"),
    "investigating": ("notified", "no_penalty", "revoked"),
    "notified": ("decided", "no_penalty", "revoked"),
    "decided": ("served", "revoked"),
    "served": ("executed", "revoked"),
    "executed": ("closed",),
    "closed": (),
    "no_penalty": (),
    "revoked": (),
}
FINAL_STATES = tuple(state for state, targets in ALLOWED_TRANSITIONS.items() if not targets)
# Heavier penalties come later in this order (行政处罚法 第四十五条: defence never makes it heavier).
PENALTY_SEVERITY = {"order_correction": 0, "warning": 1, "fine": 2, "suspend": 3}

LABEL = "案件"
VIOLATION_LABEL = "违规问题"
READERS = ("enforcement", "office", "admin")

register_policy(EnforcementCase, LABEL)
grant(EnforcementCase, "read", READERS)
grant(EnforcementCase, "act", "enforcement")
register_policy(Violation, VIOLATION_LABEL)
grant(Violation, "read", READERS)
grant(Violation, "act", "enforcement")


# --- reference periods -----------------------------------------------------------------------


class CasePeriodsSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE

    version = fields.String(required=True)
    statement_working_days = fields.Integer(required=True, validate=validate.Range(min=1, max=30))
    hearing_request_days = fields.Integer(required=True, validate=validate.Range(min=1, max=30))
    payment_days_after_service = fields.Integer(required=True, validate=validate.Range(min=1, max=90))
    holidays = fields.List(fields.Date(), load_default=list)
    extra_working_days = fields.List(fields.Date(), load_default=list)


@dataclass(frozen=True)
class CasePeriods:
    statement_working_days: int
    hearing_request_days: int
    payment_days_after_service: int
    holidays: frozenset[date]
    extra_working_days: frozenset[date]

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_working_days:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: date, count: int) -> date:
        """The day on which `count` working days after `start` end (the start day not counted)."""
        day = start
        while count > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count -= 1
        return day


@lru_cache(maxsize=4)
def _load_periods(path: str) -> CasePeriods:
    data = CasePeriodsSchema().load(yaml.safe_load(Path(path).read_text(encoding="utf-8")))
    return CasePeriods(data["statement_working_days"], data["hearing_request_days"],
                       data["payment_days_after_service"], frozenset(data["holidays"]),
                       frozenset(data["extra_working_days"]))


def periods() -> CasePeriods:
    """The procedure's periods from server/reference/case_periods.yaml (validated, cached)."""
    return _load_periods(str(Path(current_app.config["REFERENCE_DIR"]) / "case_periods.yaml"))


def today() -> date:
    """Today in 金华 (China Standard Time): deadlines are calendar days there."""
    return utcnow().astimezone(CHINA_STANDARD_TIME).date()


# --- penalty rules (server.enforcement.discretion) --------------------------------------------------


def _check_penalty(case: EnforcementCase, *, penalty_type: str, amount: int | None, basis_code: str | None,
                   field: str) -> str:
    """Refuse a penalty outside the discretion benchmark for the case's circumstance and party
    on the act's date (409 naming the allowed range), or one that is malformed (422); returns
    the code of the legal basis in force on that date, which the case records."""
    errors: dict[str, list[str]] = {}
    if penalty_type not in CASE_PENALTY_TYPES:
        errors[f"{field}.type"] = ["处罚种类须为" + "、".join(PENALTY_LABELS.values()) + "。"]
    elif penalty_type == "fine":
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            errors[f"{field}.amount"] = ["罚款须填写正整数金额（元）。"]
    elif amount is not None:
        errors[f"{field}.amount"] = ["只有罚款填写金额。"]
    if not basis_code or not str(basis_code).strip():
        errors[f"{field}.basis_code"] = ["须写明法律依据。"]
    if errors:
        raise Invalid("处罚内容不符合要求。", errors=errors)
    try:
        benchmark = discretion.check_penalty(basis_code=str(basis_code).strip(), circumstance=case.circumstance,
                                             party_kind=case.party_kind, penalty_type=penalty_type, amount=amount,
                                             act_date=case.act_date)
    except NotFound as exc:
        # A code in the body, not a resource in the path: the body is what is wrong.
        raise Invalid("法律依据不存在。", errors={f"{field}.basis_code": [exc.detail]}) from None
    return benchmark.legal_basis.code


def _hearing_right(case: EnforcementCase, *, penalty_type: str, amount: int | None, on: date) -> bool:
    """Whether the party may ask for a hearing (听证) on this penalty, by the thresholds in force
    on the day of the notice."""
    return discretion.hearing_right(party_kind=case.party_kind, penalty_type=penalty_type, amount=amount, on=on)


# --- input ------------------------------------------------------------------------------------


CREDIT_CODE = r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$"
ID_NUMBER = r"^\d{17}[\dXx]$"


class PartySchema(ma.Schema):
    """The party of a case; which fields are required depends on its kind."""

    class Meta:
        unknown = ma.RAISE

    kind = fields.String(required=True, validate=validate.OneOf(PARTY_KINDS, error="须为个人或单位。"))
    name = fields.String(validate=validate.Length(max=64), load_default=None)
    id_number = fields.String(validate=validate.Regexp(ID_NUMBER, error="身份证号码须为 18 位。"), load_default=None)
    unit_name = fields.String(validate=validate.Length(max=128), load_default=None)
    credit_code = fields.String(validate=validate.Regexp(CREDIT_CODE, error="统一社会信用代码须为 18 位。"),
                                load_default=None)
    legal_representative = fields.String(validate=validate.Length(max=64), load_default=None)
    address = fields.String(validate=validate.Length(max=256), load_default=None)
    phone = fields.String(validate=validate.Length(max=32), load_default=None)

    @ma.pre_load
    def _blank_is_missing(self, data, **kwargs):
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if not (isinstance(value, str) and not value.strip())}
        return data

    @ma.validates_schema
    def _required_for_kind(self, data, **kwargs):
        # What identifies the party at 立案. What else the documents need (an address, a unit's legal
        # representative) may be found in the investigation and completed before the notice.
        required = (("name", "id_number") if data.get("kind") == "individual"
                    else ("unit_name", "credit_code") if data.get("kind") == "unit" else ())
        missing = {name: ["必填。"] for name in required if not data.get(name)}
        if missing:
            raise ma.ValidationError(missing)


def _party(party: dict) -> dict:
    try:
        return PartySchema().load(party or {})
    except ma.ValidationError as exc:
        raise Invalid("当事人信息不完整或格式不正确。",
                      errors={f"party.{key}": value for key, value in exc.normalized_messages().items()}) from None


PARTY_COLUMNS = {"name": "party_name", "id_number": "party_id_number", "unit_name": "party_unit_name",
                 "credit_code": "party_credit_code", "legal_representative": "party_legal_representative",
                 "address": "party_address", "phone": "party_phone"}


def _completed_party(case: EnforcementCase, given) -> tuple[dict, list[str]]:
    """The party columns `given` changes (merged over the case's party and checked again), and
    the names of the changed items — the audit records which items changed, not their values."""
    if given is None:
        return {}, []
    if not isinstance(given, dict):
        raise Invalid("当事人信息须为对象。", errors={"party": ["须为对象。"]})
    if given.get("kind", case.party_kind) != case.party_kind:
        raise Invalid("当事人类型不能更改；当事人有误的，撤销案件后重新立案。", errors={"party.kind": ["不能更改。"]})
    current = {name: getattr(case, column) for name, column in PARTY_COLUMNS.items()}
    merged = {name: value for name, value in current.items() if value is not None}
    merged.update({name: value for name, value in given.items() if name != "kind"})
    loaded = _party({**merged, "kind": case.party_kind})
    changed = [name for name in PARTY_COLUMNS if loaded[name] != current[name]]
    return {PARTY_COLUMNS[name]: loaded[name] for name in changed}, changed


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


def _date(data: dict, name: str, *, default: date | None = None) -> date:
    value = data.get(name)
    if value is None:
        if default is None:
            raise Invalid("缺少日期。", errors={name: ["必填。"]})
        return default
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise Invalid("日期格式不正确。", errors={name: ["须为 YYYY-MM-DD。"]}) from None


# --- violations -------------------------------------------------------------------------------


def _in_live_case():
    return sa.select(CaseViolation.violation_id).where(CaseViolation.live.is_(True))


def _department_venues(department_id: int):
    return sa.select(Venue.id).where(Venue.category_id.in_(
        sa.select(category_departments.c.category_id).where(category_departments.c.department_id == department_id)))


def open_violations(user: User, *, county_id: int | None = None, department_id: int | None = None,
                    rule_code: str | None = None) -> list[Violation]:
    """Violations waiting for the bureau: live (not withdrawn by an amendment), in no live case
    and not declined, oldest first."""
    authorize(user, "read", Violation)
    query = (sa.select(Violation)
             .where(Violation.withdrawn_at.is_(None), Violation.id.not_in(_in_live_case()),
                    Violation.id.not_in(sa.select(ViolationDecline.violation_id)))
             .order_by(Violation.id))
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
    party_data = _party(party)
    officer_rows = _officers(officers)
    violations = _violations(violation_ids)
    venues = {v.venue_id for v in violations}
    if len(venues) != 1:
        raise Invalid("一个案件只能包含同一场所的违规问题。", errors={"violation_ids": ["涉及多个场所。"]})
    _check_open(violations)
    photo_count = db.session.scalar(sa.select(sa.func.count(Photo.id)).where(
        Photo.inspection_id.in_({v.inspection_id for v in violations}), Photo.received_at.is_not(None)))
    case = EnforcementCase(
        state="filed", venue_id=violations[0].venue_id, county_id=violations[0].county_id,
        party_kind=party_data["kind"], party_name=party_data["name"], party_id_number=party_data["id_number"],
        party_unit_name=party_data["unit_name"], party_credit_code=party_data["credit_code"],
        party_legal_representative=party_data["legal_representative"], party_address=party_data["address"],
        party_phone=party_data["phone"],
        facts=(facts or "").strip() or "；".join(v.description for v in violations),
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
    rectification.note_case_opened(case, actor=actor, channel=channel)
    return case


# --- reading ------------------------------------------------------------------------------------


def find_case(ident, user: User, action: str = "read") -> EnforcementCase:
    """The case `user` may `action`; roles without a grant get 403 before the lookup."""
    authorize(user, action, EnforcementCase)
    case = get_or_404(EnforcementCase, ident)
    authorize(user, action, case)
    return case


def overdue_condition(on: date | None = None):
    """SQL: the case waits too long — a notice whose periods have run out without a decision, or
    a served fine not executed `payment_days_after_service` days after service."""
    on = on or today()
    payment_due = on - timedelta(days=periods().payment_days_after_service)
    return sa.or_(
        sa.and_(EnforcementCase.state == "notified", EnforcementCase.statement_deadline < on,
                sa.or_(EnforcementCase.hearing_request_deadline.is_(None),
                       EnforcementCase.hearing_request_deadline < on)),
        sa.and_(EnforcementCase.state == "served", EnforcementCase.decided_penalty_type == "fine",
                EnforcementCase.served_on < payment_due),
    )


def is_overdue(case: EnforcementCase, on: date | None = None) -> bool:
    on = on or today()
    if case.state == "notified" and case.statement_deadline is not None:
        return case.statement_deadline < on and (case.hearing_request_deadline is None
                                                 or case.hearing_request_deadline < on)
    if case.state == "served" and case.decided_penalty_type == "fine" and case.served_on is not None:
        return case.served_on + timedelta(days=periods().payment_days_after_service) < on
    return False


def overdue_cases(on: date | None = None) -> list[EnforcementCase]:
    return list(db.session.scalars(sa.select(EnforcementCase).where(overdue_condition(on))
                                   .order_by(EnforcementCase.id)))


def list_cases(user: User, *, state: str | None = None, county_id: int | None = None,
               department_id: int | None = None, overdue: bool | None = None, page: int = 1,
               per_page: int = PER_PAGE, on: date | None = None) -> Page:
    """The case queue, newest first, filtered and paginated."""
    condition = authorize(user, "read", EnforcementCase).where(user)
    query = sa.select(EnforcementCase).where(condition)
    if state:
        query = query.where(EnforcementCase.state == state)
    if county_id is not None:
        query = query.where(EnforcementCase.county_id == county_id)
    if department_id is not None:
        query = query.where(EnforcementCase.venue_id.in_(_department_venues(department_id)))
    if overdue is not None:
        cond = overdue_condition(on)
        query = query.where(cond if overdue else sa.not_(cond))
    return paginate(query.options(selectinload(EnforcementCase.venue), selectinload(EnforcementCase.county))
                    .order_by(EnforcementCase.id.desc()), page, per_page)


def allowed_next(case: EnforcementCase) -> tuple[str, ...]:
    return ALLOWED_TRANSITIONS[case.state]


def case_violations(case: EnforcementCase) -> list[Violation]:
    return [link.violation for link in case.links]


def case_photos(case: EnforcementCase) -> list[Photo]:
    """The received photos of the case's inspections (the evidence), oldest first."""
    inspection_ids = {link.violation.inspection_id for link in case.links}
    return list(db.session.scalars(
        sa.select(Photo).where(Photo.inspection_id.in_(inspection_ids), Photo.received_at.is_not(None))
        .order_by(Photo.id)))


def proposed_by_inspectors(case: EnforcementCase) -> list[dict]:
    """What the inspection team proposed for the case's findings (a suggestion, not binding)."""
    finding_ids = [link.violation.finding_id for link in case.links if link.violation.finding_id]
    if not finding_ids:
        return []
    return [{"type": p.type, "amount": p.amount, "basis_code": p.basis_code}
            for p in db.session.scalars(sa.select(Penalty).where(Penalty.finding_id.in_(finding_ids))
                                        .order_by(Penalty.id))]


# --- transitions --------------------------------------------------------------------------------


def _allowed_text(state: str) -> str:
    targets = ALLOWED_TRANSITIONS[state]
    if not targets:
        return f"案件已{STATE_LABELS[state]}，不能再变更状态。"
    return "当前可转入：" + "、".join(STATE_LABELS[t] for t in targets) + "。"


def _check_allowed(case: EnforcementCase, to_state: str) -> None:
    if to_state not in STATE_LABELS or to_state == "filed":
        raise Invalid(f"未知的案件状态：{to_state}。", errors={"to": ["取值：" + "、".join(CASE_STATES[1:])]})
    if to_state not in ALLOWED_TRANSITIONS[case.state]:
        raise Conflict(f"案件不能从“{STATE_LABELS[case.state]}”转入“{STATE_LABELS[to_state]}”。"
                       + _allowed_text(case.state),
                       from_state=case.state, to_state=to_state, allowed=list(ALLOWED_TRANSITIONS[case.state]),
                       allowed_labels=[STATE_LABELS[t] for t in ALLOWED_TRANSITIONS[case.state]])


def _penalty(data: dict, name: str) -> tuple[str, int | None, str | None]:
    penalty = data.get(name)
    if not isinstance(penalty, dict):
        raise Invalid("须填写处罚内容。", errors={name: ["必填：type、amount（罚款）、basis_code。"]})
    return penalty.get("type"), penalty.get("amount"), penalty.get("basis_code")


def _to_investigating(case, data, on):
    values, changed = _completed_party(case, data.get("party"))
    for name in ("facts", "evidence_summary"):
        if data.get(name):
            values[name] = _text(data[name], name, "内容")
    return values, {"party_completed": changed} if changed else {}


def _to_notified(case, data, on):
    penalty_type, amount, basis = _penalty(data, "proposed_penalty")
    basis = _check_penalty(case, penalty_type=penalty_type, amount=amount, basis_code=basis, field="proposed_penalty")
    notified_on = _date(data, "notified_on", default=on)
    rules = periods()
    offered = _hearing_right(case, penalty_type=penalty_type, amount=amount, on=notified_on)
    party, changed = _completed_party(case, data.get("party"))
    values = {
        **party,
        "proposed_penalty_type": penalty_type, "proposed_amount": amount, "proposed_basis_code": str(basis).strip(),
        "notified_on": notified_on,
        "statement_deadline": rules.add_working_days(notified_on, rules.statement_working_days),
        "hearing_offered": offered,
        "hearing_request_deadline": notified_on + timedelta(days=rules.hearing_request_days) if offered else None,
    }
    details = {"proposed_penalty": {"type": penalty_type, "amount": amount, "basis_code": str(basis).strip()},
               "notified_on": notified_on.isoformat()}
    if changed:
        details["party_completed"] = changed
    return values, details


def _to_decided(case, data, on):
    penalty_type, amount, basis = _penalty(data, "decided_penalty")
    basis = _check_penalty(case, penalty_type=penalty_type, amount=amount, basis_code=basis, field="decided_penalty")
    decided_on = _date(data, "decided_on", default=on)
    waived = bool(data.get("statement_waived"))
    requested = bool(data.get("hearing_requested"))
    held_on = _date(data, "hearing_held_on") if data.get("hearing_held_on") else None
    if not waived and decided_on <= case.statement_deadline:
        raise Conflict(f"陈述、申辩期限至 {case.statement_deadline.isoformat()} 止，期满后才能作出决定；"
                       "当事人明确放弃陈述、申辩的，须记录放弃。")
    if case.hearing_offered and not waived and not requested and decided_on <= case.hearing_request_deadline:
        raise Conflict(f"听证申请期限至 {case.hearing_request_deadline.isoformat()} 止，期满后才能作出决定。")
    if requested and not case.hearing_offered:
        raise Invalid("告知的处罚不享有听证权利。", errors={"hearing_requested": ["该处罚无听证权利。"]})
    if basis != case.proposed_basis_code:
        # Both codes are resolved to the version in force on the act date, so one provision gives one code.
        raise Conflict(f"决定所依据的条款（{basis}）与告知书告知的（{case.proposed_basis_code}）不同；"
                       "改变处罚依据须重新告知。", proposed_basis_code=case.proposed_basis_code, decided_basis_code=basis)
    if requested and held_on is None:
        raise Conflict("当事人要求听证，须举行听证后才能作出决定。")
    if held_on is not None and held_on > decided_on:
        raise Invalid("听证日期晚于决定日期。", errors={"hearing_held_on": ["须不晚于决定日期。"]})
    # 第四十五条: the defence never makes the penalty heavier than the one notified.
    heavier = (PENALTY_SEVERITY[penalty_type] > PENALTY_SEVERITY[case.proposed_penalty_type]
               or (penalty_type == case.proposed_penalty_type == "fine" and amount > case.proposed_amount))
    if heavier:
        raise Conflict("决定的处罚重于告知的拟处罚；不得因当事人陈述、申辩而加重处罚，须重新告知。")
    note = data.get("statement_note")
    values = {"decided_penalty_type": penalty_type, "decided_amount": amount, "decided_basis_code": str(basis).strip(),
              "decided_on": decided_on, "statement_waived": waived, "hearing_requested": requested,
              "hearing_held_on": held_on,
              "statement_note": note.strip() if isinstance(note, str) and note.strip() else case.statement_note}
    return values, {"decided_penalty": {"type": penalty_type, "amount": amount, "basis_code": str(basis).strip()},
                    "decided_on": decided_on.isoformat(), "statement_waived": waived,
                    "hearing_requested": requested}


def _to_served(case, data, on):
    served_on = _date(data, "served_on")
    method = data.get("service_method")
    if method not in SERVICE_METHODS:
        raise Invalid("须选择送达方式。", errors={"service_method": ["取值：" + "、".join(SERVICE_METHODS)]})
    if served_on < case.decided_on:
        raise Invalid("送达日期早于决定日期。", errors={"served_on": ["须不早于决定日期。"]})
    return {"served_on": served_on, "service_method": method}, {"served_on": served_on.isoformat(),
                                                               "service_method": method}


def _to_executed(case, data, on):
    outcome = data.get("outcome")
    if outcome not in EXECUTION_OUTCOMES:
        raise Invalid("须选择执行结果。", errors={"outcome": ["取值：" + "、".join(EXECUTION_OUTCOMES)]})
    executed_on = _date(data, "executed_on", default=on)
    values = {"execution_outcome": outcome, "executed_on": executed_on}
    details = {"outcome": outcome, "executed_on": executed_on.isoformat()}
    if outcome == "paid":
        if case.decided_penalty_type != "fine":
            raise Invalid("决定的处罚不是罚款，不能登记缴款。", errors={"outcome": ["不是罚款。"]})
        paid = data.get("paid_amount")
        if not isinstance(paid, int) or isinstance(paid, bool) or paid <= 0:
            raise Invalid("须填写缴纳金额。", errors={"paid_amount": ["须为正整数（元）。"]})
        if paid != case.decided_amount:
            raise Invalid(f"缴纳金额与决定的罚款 {case.decided_amount} 元不符。", errors={"paid_amount": ["金额不符。"]})
        paid_on = _date(data, "paid_on")
        values.update(paid_amount=paid, paid_on=paid_on)
        details.update(paid_amount=paid, paid_on=paid_on.isoformat())
    elif outcome == "complied" and case.decided_penalty_type == "fine":
        raise Invalid("罚款须登记缴纳或强制执行。", errors={"outcome": ["罚款不能登记为已履行。"]})
    return values, details


def _to_closed(case, data, on):
    closed_on = _date(data, "closed_on", default=on)
    return {"closed_on": closed_on}, {"closed_on": closed_on.isoformat()}


def _to_ended(case, data, on):
    reason = _text(data.get("reason"), "reason", "理由")
    return {"end_reason": reason, "closed_on": on}, {"reason": reason}


TRANSITION_DATA = {
    "investigating": _to_investigating,
    "notified": _to_notified,
    "decided": _to_decided,
    "served": _to_served,
    "executed": _to_executed,
    "closed": _to_closed,
    "no_penalty": _to_ended,
    "revoked": _to_ended,
}


def transition(case: EnforcementCase, to_state: str, *, actor: User, version: int | None = None,
               channel: str = "api", note: str | None = None, on: date | None = None,
               **data) -> CaseTransition:
    """Move `case` to `to_state` with the data that state needs; 409 if the table does not allow
    it from the current state (naming the allowed ones) or `version` is stale; audited.

    Entering 告知 / 决定 issues the 告知书 / 决定书 (subject "case", the case id) in the same
    transaction; the audit event and the transition's details name the document's id and number.
    """
    authorize(actor, "act", case)
    if not isinstance(version, int) or isinstance(version, bool):
        raise Invalid("须提供案件版本号。", errors={"version": ["必填，整数。"]})
    if version != case.version:
        raise Conflict(f"案件已被他人更新（当前版本 {case.version}，提交的版本 {version}），请刷新后重试。",
                       current_version=case.version)
    _check_allowed(case, to_state)
    if data.get("party") is not None and to_state not in ("investigating", "notified"):
        # The documents already issued name the party; it is completed before the notice only.
        raise Invalid("当事人信息只能在调查取证或告知时补充。", errors={"party": ["告知后不能更改当事人信息。"]})
    from_state = case.state
    values, details = TRANSITION_DATA[to_state](case, data, on or today())
    kind = case_documents.ISSUED_ON_ENTRY.get(to_state)
    if kind is not None:
        # Refuse before the case moves: a missing item (422 naming it) or no Chinese font (503).
        context = case_documents.CONTEXT_BUILDERS[kind](case_documents.Prospective(case, values))
        document_service.prepare_context(kind, context)
        cjk_font_families(current_app.config.get("REPORT_FONTCONFIG_FILE"))
    _claim(case, from_state, to_state, version)
    for name, value in values.items():
        setattr(case, name, value)
    if kind is not None:
        document = document_service.issue_document(
            kind, context, actor=actor, subject_type="case", subject_id=str(case.id),
            issued_on=date.fromisoformat(context["date"]), channel=channel)
        details = {**details, "document": {"id": document.id, "kind": kind, "number": document.number}}
    if to_state == "revoked":
        # The violations become free for a new case.
        db.session.execute(sa.update(CaseViolation).where(CaseViolation.case_id == case.id).values(live=None)
                           .execution_options(synchronize_session=False))
        for link in case.links:
            set_committed_value(link, "live", None)
    note = note.strip() if isinstance(note, str) and note.strip() else None
    row = CaseTransition(case_id=case.id, from_state=from_state, to_state=to_state, actor_id=actor.id, at=utcnow(),
                         note=note or details.get("reason"), details=details)
    db.session.add(row)
    db.session.flush()
    record_event(f"case.{to_state}", actor=actor, channel=channel, object_type="enforcement_case",
                 object_id=case.id, details={"from": from_state, "to": to_state, "version": case.version, **details})
    return row


def _claim(case: EnforcementCase, from_state: str, to_state: str, version: int) -> None:
    """Move the row only if it is still at `version` and `from_state`; 409 otherwise."""
    values = {"state": to_state, "version": version + 1, "updated_at": utcnow()}
    try:
        changed = db.session.execute(
            sa.update(EnforcementCase)
            .where(EnforcementCase.id == case.id, EnforcementCase.version == version,
                   EnforcementCase.state == from_state)
            .values(**values).execution_options(synchronize_session=False)
        ).rowcount
    except OperationalError as exc:
        if not is_sqlite_busy(exc):
            raise
        raise Conflict("该案件刚被其他操作改动，请刷新后重试。") from None
    if changed != 1:
        current = db.session.execute(sa.select(EnforcementCase.state, EnforcementCase.version)
                                     .where(EnforcementCase.id == case.id)).one()
        raise Conflict(f"案件已被他人更新（当前为“{STATE_LABELS[current.state]}”，版本 {current.version}），"
                       "请刷新后重试。", current_version=current.version)
    for name, value in values.items():
        set_committed_value(case, name, value)


def history(case: EnforcementCase) -> list[CaseTransition]:
    return list(db.session.scalars(sa.select(CaseTransition).where(CaseTransition.case_id == case.id)
                                   .options(selectinload(CaseTransition.actor)).order_by(CaseTransition.id)))


def officers_available() -> list[User]:
    """Active enforcement officers holding a certificate: who may handle a case."""
    return list(db.session.scalars(sa.select(User).where(
        User.role == "enforcement", User.is_active.is_(True), User.enforcement_certificate_no.is_not(None))
        .order_by(User.username)))


def detail(case: EnforcementCase) -> dict:
    """Everything a reader of the case sees (and a document needs), as plain data."""
    violations = case_violations(case)
    return {
        "id": case.id, "state": case.state, "state_label": STATE_LABELS[case.state], "version": case.version,
        "venue": {"id": case.venue.id, "name": case.venue.name, "address": case.venue.address},
        "county": {"id": case.county.id, "name": case.county.name},
        "party": {"kind": case.party_kind, "name": case.party_name, "id_number": case.party_id_number,
                  "unit_name": case.party_unit_name, "credit_code": case.party_credit_code,
                  "legal_representative": case.party_legal_representative, "address": case.party_address,
                  "phone": case.party_phone},
        "facts": case.facts, "evidence_summary": case.evidence_summary, "circumstance": case.circumstance,
        "act_date": case.act_date,
        "proposed_penalty": _penalty_out(case.proposed_penalty_type, case.proposed_amount, case.proposed_basis_code),
        "notified_on": case.notified_on, "statement_deadline": case.statement_deadline,
        "hearing_offered": case.hearing_offered, "hearing_request_deadline": case.hearing_request_deadline,
        "hearing_requested": case.hearing_requested, "hearing_held_on": case.hearing_held_on,
        "statement_waived": case.statement_waived, "statement_note": case.statement_note,
        "decided_penalty": _penalty_out(case.decided_penalty_type, case.decided_amount, case.decided_basis_code),
        "decided_on": case.decided_on, "served_on": case.served_on, "service_method": case.service_method,
        "execution_outcome": case.execution_outcome, "paid_amount": case.paid_amount, "paid_on": case.paid_on,
        "executed_on": case.executed_on, "closed_on": case.closed_on, "end_reason": case.end_reason,
        "officers": [{"id": case.officer1_id, "display_name": case.officer1.display_name,
                      "certificate_no": case.officer1_certificate_no},
                     {"id": case.officer2_id, "display_name": case.officer2.display_name,
                      "certificate_no": case.officer2_certificate_no}],
        "opened_by_id": case.opened_by_id, "opened_at": as_utc(case.opened_at),
        "overdue": is_overdue(case),
        "violations": [violation_summary(v) for v in violations],
        "photos": [{"sha256": p.sha256, "caption": p.caption, "taken_at": as_utc(p.taken_at),
                    "inspection_id": p.inspection_id} for p in case_photos(case)],
        "history": [{"from_state": t.from_state, "to_state": t.to_state, "actor_id": t.actor_id,
                     "actor": t.actor.username if t.actor else None, "at": as_utc(t.at), "note": t.note}
                    for t in history(case)],
        "allowed_transitions": list(allowed_next(case)),
        "documents": [document_summary(d) for d in case_documents.documents_of(case)],
        "previewable": detail_previewable(case),
    }


def detail_previewable(case: EnforcementCase) -> list[str]:
    """The document kinds the case's next transitions issue (a draft of each can be previewed)."""
    return [case_documents.ISSUED_ON_ENTRY[t] for t in allowed_next(case) if t in case_documents.ISSUED_ON_ENTRY]


def document_summary(document) -> dict:
    return {"id": document.id, "kind": document.kind, "title": document_service.document_title(document),
            "number": document.number, "issued_on": document.issued_on, "issued_at": as_utc(document.issued_at),
            "download_url": f"/api/v1/documents/{document.id}/pdf"}


def _penalty_out(penalty_type, amount, basis_code) -> dict | None:
    if penalty_type is None:
        return None
    return {"type": penalty_type, "amount": amount, "basis_code": basis_code}


def violation_summary(violation: Violation) -> dict:
    return {"id": violation.id, "inspection_id": violation.inspection_id, "rule_code": violation.rule_code,
            "check_code": violation.check_code, "description": violation.description,
            "venue_id": violation.venue_id, "county_id": violation.county_id,
            "department_ids": violation.department_ids, "created_at": as_utc(violation.created_at)}

