"""Accountability cases (倒查问责报告): the report of a period's traced findings, drafted, reviewed and
issued by the office.

Cases: draft → reviewed (the office) → issued (the report PDF numbered through
documents.issue_document); each transition audited; a transition out of order is a Conflict.
Four eyes: whoever drafted a case may neither review nor issue it (403, `NotYourOwn`). The
reviewer may issue: review is the second pair of eyes on the drafter's findings, and issuing is
the reviewer acting on the findings they approved — a third person would add no check on the
drafter but leave a two-person office unable to issue at all.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from ..access import authorize, get_or_404, grant, register_policy
from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import utcnow
from ..enforcement.documents import issue_document
from ..errors import Conflict, Forbidden, Invalid
from ..extensions import db
from ..pagination import Page, paginate
from ..registry.models.reference import County
from . import statistics
from .accountability import REPORT_KIND, report_context, trace
from .models.accountability import AccountabilityCase

STATE_LABELS = {"draft": "草稿", "reviewed": "已审核", "issued": "已印发"}

register_policy(AccountabilityCase, "倒查问责报告")
grant(AccountabilityCase, "read", ("office", "admin", "auditor"))
grant(AccountabilityCase, "manage", ("office", "admin"))


def _check_manager(actor: User) -> None:
    authorize(actor, "manage", AccountabilityCase)


def create_case(actor: User, *, date_from: date, date_to: date, county_code: str | None = None,
                channel: str = "api") -> AccountabilityCase:
    _check_manager(actor)
    statistics.check_period(date_from, date_to)
    county_id = None
    if county_code:
        county_id = db.session.scalar(sa.select(County.id).where(County.code == county_code))
        if county_id is None:
            raise Invalid(f"没有代码为“{county_code}”的县（市、区）。", errors={"county": ["不存在。"]})
    case = AccountabilityCase(state="draft", date_from=date_from, date_to=date_to, county_id=county_id,
                              created_by_id=actor.id, version=1)
    db.session.add(case)
    db.session.flush()
    record_event("accountability.created", actor=actor, channel=channel, object_type="accountability_case",
                 object_id=str(case.id), details={"from": date_from.isoformat(), "to": date_to.isoformat(),
                                                  "county": county_code})
    return case


def find_case(ident, user: User, action: str = "read") -> AccountabilityCase:
    authorize(user, action, AccountabilityCase)
    case = get_or_404(AccountabilityCase, ident)
    authorize(user, action, case)
    return case


class NotYourOwn(Forbidden):
    slug = "accountability-four-eyes"
    default_title = "须由起草人以外的人办理"


# Step → what the drafter is told; the page shows the same words beside the hidden button.
FOUR_EYES_REFUSALS = {
    "review": "本报告由您起草，按“四眼原则”须由另一名办公室人员（或系统管理员）审核，起草人不能审核自己的报告。",
    "issue": "本报告由您起草，按“四眼原则”须由审核人或另一名办公室人员（或系统管理员）印发，起草人不能印发自己的报告。",
}


def four_eyes_refusal(case: AccountabilityCase, actor: User, step: str) -> str | None:
    """Why `actor` may not take `step` ("review" or "issue") on `case`, or None: the drafter
    may do neither (the reviewer may issue, see the module docstring)."""
    return FOUR_EYES_REFUSALS[step] if actor.id == case.created_by_id else None


def _check_four_eyes(case: AccountabilityCase, actor: User, step: str) -> None:
    refusal = four_eyes_refusal(case, actor, step)
    if refusal:
        raise NotYourOwn(refusal)


def _expect(case: AccountabilityCase, state: str, verb: str) -> None:
    if case.state != state:
        raise Conflict(f"该报告当前为“{STATE_LABELS[case.state]}”状态，"
                       f"只有“{STATE_LABELS[state]}”状态的报告才能{verb}。")


def review_case(case: AccountabilityCase, actor: User, *, note: str | None = None,
                channel: str = "api") -> AccountabilityCase:
    """The office has checked the traced findings (draft → reviewed)."""
    _check_manager(actor)
    _expect(case, "draft", "审核")
    _check_four_eyes(case, actor, "review")
    case.state, case.reviewed_by_id, case.reviewed_at, case.review_note = "reviewed", actor.id, utcnow(), note
    case.version += 1
    db.session.flush()
    record_event("accountability.reviewed", actor=actor, channel=channel, object_type="accountability_case",
                 object_id=str(case.id), details={"note": note})
    return case


def issue_case(case: AccountabilityCase, actor: User, *, issued_on: date | None = None,
               channel: str = "api") -> AccountabilityCase:
    """Trace the period now, store the findings and issue the numbered report PDF (reviewed → issued)."""
    _check_manager(actor)
    _expect(case, "reviewed", "印发")
    _check_four_eyes(case, actor, "issue")
    findings = trace(date_from=case.date_from, date_to=case.date_to, county_id=case.county_id, user=actor)
    document = issue_document(REPORT_KIND, report_context(findings, issued_on), actor=actor,
                              subject_type="accountability_case", subject_id=str(case.id), issued_on=issued_on,
                              channel=channel)
    case.state, case.issued_by_id, case.issued_at = "issued", actor.id, utcnow()
    case.document_id, case.findings = document.id, findings
    case.version += 1
    db.session.flush()
    record_event("accountability.issued", actor=actor, channel=channel, object_type="accountability_case",
                 object_id=str(case.id), details={"document_id": document.id, "number": document.number,
                                                  "violations": findings["totals"]["violations"]})
    return case


def case_summary(case: AccountabilityCase, user: User) -> dict:
    findings = case.findings
    if findings is None:
        findings = trace(date_from=case.date_from, date_to=case.date_to, county_id=case.county_id, user=user)
    return {"id": case.id, "state": case.state, "state_label": STATE_LABELS[case.state], "version": case.version,
            "from": case.date_from.isoformat(), "to": case.date_to.isoformat(),
            "county": case.county.code if case.county else None,
            "document": ({"id": case.document.id, "number": case.document.number} if case.document else None),
            "findings": findings}

def list_cases(user: User, *, state: str | None = None, page: int = 1, per_page: int = 20) -> Page:
    """Accountability cases, newest first, optionally in one state."""
    authorize(user, "read", AccountabilityCase)
    query = sa.select(AccountabilityCase).order_by(AccountabilityCase.id.desc())
    if state:
        query = query.where(AccountabilityCase.state == state)
    return paginate(query, page, per_page)
