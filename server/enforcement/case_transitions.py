"""Moving a penalty case through its procedure: what each state needs, the checks on it, and the
documents issued on the way.

Which moves are allowed is `server.enforcement.cases.ALLOWED_TRANSITIONS`.

Each transition is a conditional UPDATE (… WHERE id AND version AND state): of two concurrent
requests made from the same version only one moves the case; the other, like any request
naming a stale version, gets a 409 problem. Each transition is audited with its actor.

Entering 告知 issues the 行政处罚告知书 and entering 决定 the 行政处罚决定书
(server.enforcement.case_documents), in the transition's transaction: the context is checked and
the fonts found before the case moves (a missing item is a 422 naming it, and no number is
used); a render that fails afterwards fails the request, which rolls the move back with it.

A penalty, proposed or decided, is a combination (types, fine in yuan, detention in days) the
discretion benchmark in force on the act's date allows (server.enforcement.discretion); the
decision is never heavier than the notice.

Dates follow the procedure, in 金华 days: act ≤ 告知 ≤ 决定 ≤ 送达 ≤ today, the decision after the
statement (and hearing-request) period unless the party waived it (行政处罚法 第六十二条, 第六十四条;
the periods are server/reference/case_periods.yaml). A date out of that order is a 422 keyed by
its field, refused before the case moves or a document number is taken.

Services flush and never commit; the request or CLI command commits.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.attributes import set_committed_value

from ..access import authorize
from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import china_today, utcnow
from ..errors import Conflict, Invalid, NotFound
from ..extensions import db
from ..pdf.fonts import cjk_font_families
from ..races import is_sqlite_busy
from . import case_documents, discretion
from . import documents as document_service
from .case_opening import _party, _text
from .cases import (
    ALLOWED_TRANSITIONS,
    CASE_PENALTY_TYPES,
    PENALTY_LABELS,
    PENALTY_SEVERITY,
    STATE_LABELS,
    periods,
)
from .models.case import (
    CASE_STATES,
    EXECUTION_OUTCOMES,
    SERVICE_METHODS,
    CaseTransition,
    CaseViolation,
    EnforcementCase,
)

# --- penalty rules (server.enforcement.discretion) --------------------------------------------------


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_penalty(case: EnforcementCase, penalty: dict, *, field: str) -> dict:
    """Refuse a penalty combination the discretion benchmark for the case's circumstance and
    party on the act's date does not allow (409 naming the article and what it allows), or one
    that is malformed (422); returns the case's columns for it with the code of the legal basis
    in force on that date, which the case records."""
    errors: dict[str, list[str]] = {}
    types, fine, days, basis_code = (penalty.get("types"), penalty.get("fine_amount"), penalty.get("detention_days"),
                                     penalty.get("basis_code"))
    if not isinstance(types, list) or not types or any(t not in CASE_PENALTY_TYPES for t in types):
        errors[f"{field}.types"] = ["处罚种类须为以下一种或几种：" + "、".join(PENALTY_LABELS.values()) + "。"]
    elif len(set(types)) != len(types):
        errors[f"{field}.types"] = ["同一处罚种类不能重复。"]
    else:
        if "fine" in types and not _positive_int(fine):
            errors[f"{field}.fine_amount"] = ["罚款须填写正整数金额（元）。"]
        elif "fine" not in types and fine is not None:
            errors[f"{field}.fine_amount"] = ["未选择罚款，不填写罚款金额。"]
        if "detention" in types and not _positive_int(days):
            errors[f"{field}.detention_days"] = ["行政拘留须填写正整数日数。"]
        elif "detention" not in types and days is not None:
            errors[f"{field}.detention_days"] = ["未选择行政拘留，不填写拘留日数。"]
    if not basis_code or not str(basis_code).strip():
        errors[f"{field}.basis_code"] = ["须写明法律依据。"]
    if errors:
        raise Invalid("处罚内容不符合要求。", errors=errors)
    try:
        benchmark = discretion.check_penalty(basis_code=str(basis_code).strip(), circumstance=case.circumstance,
                                             party_kind=case.party_kind, penalty_types=types, fine_amount=fine,
                                             detention_days=days, act_date=case.act_date)
    except NotFound as exc:
        # A code in the body, not a resource in the path: the body is what is wrong.
        raise Invalid("法律依据不存在。", errors={f"{field}.basis_code": [exc.detail]}) from None
    ordered = [t for t in discretion.PRINT_ORDER if t in types]
    return {"types": ordered, "fine_amount": fine, "detention_days": days, "basis_code": benchmark.legal_basis.code}


def is_minor(case: EnforcementCase) -> bool:
    """Whether the party was under 18 on the date of the act, by the birth date in an 18-digit
    resident ID number (GB 11643: digits 7–14); unknown counts as an adult."""
    number = (case.party_id_number or "").strip()
    if case.party_kind != "individual" or len(number) != 18 or not number[:17].isdigit():
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    act = case.act_date
    return (act.year - born.year - ((act.month, act.day) < (born.month, born.day))) < 18


def _hearing_right(case: EnforcementCase, penalty: dict, *, on: date) -> bool:
    """Whether the party may ask for a hearing (听证) on this combination, by the thresholds in
    force on the day of the notice."""
    return discretion.hearing_right(party_kind=case.party_kind, penalty_types=penalty["types"],
                                    fine_amount=penalty["fine_amount"], on=on, minor=is_minor(case))


def _heavier(decided: dict, case: EnforcementCase) -> bool:
    """行政处罚法 第四十五条: whether the decision is heavier than the notice — a heavier type, a
    penal type (fine, suspension, detention) the notice did not name, or more yuan or days."""
    proposed = case.proposed_penalty_types or []
    if max(PENALTY_SEVERITY[t] for t in decided["types"]) > max(PENALTY_SEVERITY[t] for t in proposed):
        return True
    if any(t not in proposed and PENALTY_SEVERITY[t] >= PENALTY_SEVERITY["fine"] for t in decided["types"]):
        return True
    if decided["fine_amount"] is not None and decided["fine_amount"] > (case.proposed_amount or 0):
        return True
    return decided["detention_days"] is not None and decided["detention_days"] > (case.proposed_detention_days or 0)


# --- input: the party completed after 立案, dates ------------------------------------------


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


def day_text(day: date) -> str:
    """A date as a message names it (2026年3月10日)."""
    return f"{day.year}年{day.month}月{day.day}日"


def _refuse_date(name: str, message: str):
    # The same sentence as the detail and next to the field: the API client and the page's form
    # both show it where the date is entered.
    raise Invalid(message, errors={name: [message]})


def check_procedure_date(name: str, label: str, value: date, *, today: date,
                         not_before: tuple[tuple[date | None, str], ...] = ()) -> None:
    """Refuse (422 naming the dates) a procedure date after today (China Standard Time) — a
    document is dated when it is made, and its number's year is that date's — or before a step
    that must come first (`not_before`: (date, what that date is))."""
    if value > today:
        _refuse_date(name, f"{label}{day_text(value)}晚于今天（{day_text(today)}）；不能填写将来的日期。")
    for floor, what in not_before:
        if floor is not None and value < floor:
            _refuse_date(name, f"{label}{day_text(value)}早于{what}{day_text(floor)}；{label}不能早于{what}。")


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


def _penalty(data: dict, name: str) -> dict:
    penalty = data.get(name)
    if not isinstance(penalty, dict):
        raise Invalid("须填写处罚内容。", errors={name: ["必填：types、fine_amount（罚款）、detention_days（行政拘留）、"
                                                   "basis_code。"]})
    return penalty


def _to_investigating(case, data, on):
    values, changed = _completed_party(case, data.get("party"))
    for name in ("facts", "evidence_summary"):
        if data.get(name):
            values[name] = _text(data[name], name, "内容")
    return values, {"party_completed": changed} if changed else {}


def _to_notified(case, data, on):
    penalty = _check_penalty(case, _penalty(data, "proposed_penalty"), field="proposed_penalty")
    notified_on = _date(data, "notified_on", default=on)
    # 第四十四条: the notice tells the party of an act already established, so it follows the act.
    check_procedure_date("notified_on", "告知日期", notified_on, today=on,
                         not_before=((case.act_date, "违法行为发生日期（检查日期）"),))
    rules = periods()
    offered = _hearing_right(case, penalty, on=notified_on)
    party, changed = _completed_party(case, data.get("party"))
    values = {
        **party,
        "proposed_penalty_types": penalty["types"], "proposed_amount": penalty["fine_amount"],
        "proposed_detention_days": penalty["detention_days"], "proposed_basis_code": penalty["basis_code"],
        "notified_on": notified_on,
        "statement_deadline": rules.add_working_days(notified_on, rules.statement_working_days),
        "hearing_offered": offered,
        "hearing_request_deadline": notified_on + timedelta(days=rules.hearing_request_days) if offered else None,
    }
    details = {"proposed_penalty": penalty, "notified_on": notified_on.isoformat()}
    if changed:
        details["party_completed"] = changed
    return values, details


def _to_decided(case, data, on):
    penalty = _check_penalty(case, _penalty(data, "decided_penalty"), field="decided_penalty")
    basis = penalty["basis_code"]
    decided_on = _date(data, "decided_on", default=on)
    waived = bool(data.get("statement_waived"))
    requested = bool(data.get("hearing_requested"))
    held_on = _date(data, "hearing_held_on") if data.get("hearing_held_on") else None
    check_procedure_date("decided_on", "决定日期", decided_on, today=on,
                         not_before=((case.notified_on, "告知日期"),))
    # 第六十二条: no decision before the party has been heard, unless the party explicitly waived
    # the statement and defence (the waiver tick); the last day of a period is still the party's.
    if not waived and decided_on <= case.statement_deadline:
        _refuse_date("decided_on", f"陈述、申辩期限至{day_text(case.statement_deadline)}止（{day_text(case.notified_on)}"
                     f"告知后 {periods().statement_working_days} 个工作日），决定日期{day_text(decided_on)}在期限届满前；"
                     f"期满后（{day_text(case.statement_deadline + timedelta(days=1))}起）才能作出决定，"
                     "当事人书面明确放弃陈述、申辩的，登记放弃后可以提前决定。")
    # 第六十四条（一）: a hearing is asked for within 5 days of the notice.
    if case.hearing_offered and not waived and not requested and decided_on <= case.hearing_request_deadline:
        _refuse_date("decided_on", f"听证申请期限至{day_text(case.hearing_request_deadline)}止（告知后 "
                     f"{periods().hearing_request_days} 日内），决定日期{day_text(decided_on)}在期限届满前；"
                     "期满后才能作出决定。")
    if held_on is not None:
        check_procedure_date("hearing_held_on", "听证日期", held_on, today=on,
                             not_before=((case.notified_on, "告知日期"),))
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
    if _heavier(penalty, case):
        raise Conflict("决定的处罚重于告知的拟处罚；不得因当事人陈述、申辩而加重处罚，须重新告知。")
    note = data.get("statement_note")
    values = {"decided_penalty_types": penalty["types"], "decided_amount": penalty["fine_amount"],
              "decided_detention_days": penalty["detention_days"], "decided_basis_code": basis,
              "decided_on": decided_on, "statement_waived": waived, "hearing_requested": requested,
              "hearing_held_on": held_on,
              "statement_note": note.strip() if isinstance(note, str) and note.strip() else case.statement_note}
    return values, {"decided_penalty": penalty,
                    "decided_on": decided_on.isoformat(), "statement_waived": waived,
                    "hearing_requested": requested}


def _to_served(case, data, on):
    served_on = _date(data, "served_on")
    method = data.get("service_method")
    if method not in SERVICE_METHODS:
        raise Invalid("须选择送达方式。", errors={"service_method": ["取值：" + "、".join(SERVICE_METHODS)]})
    check_procedure_date("served_on", "送达日期", served_on, today=on, not_before=((case.decided_on, "决定日期"),))
    return {"served_on": served_on, "service_method": method}, {"served_on": served_on.isoformat(),
                                                               "service_method": method}


def _to_executed(case, data, on):
    outcome = data.get("outcome")
    if outcome not in EXECUTION_OUTCOMES:
        raise Invalid("须选择执行结果。", errors={"outcome": ["取值：" + "、".join(EXECUTION_OUTCOMES)]})
    executed_on = _date(data, "executed_on", default=on)
    check_procedure_date("executed_on", "执行日期", executed_on, today=on, not_before=((case.served_on, "送达日期"),))
    values = {"execution_outcome": outcome, "executed_on": executed_on}
    details = {"outcome": outcome, "executed_on": executed_on.isoformat()}
    if outcome == "paid":
        if case.decided_amount is None:
            raise Invalid("决定的处罚不含罚款，不能登记缴款。", errors={"outcome": ["不含罚款。"]})
        paid = data.get("paid_amount")
        if not isinstance(paid, int) or isinstance(paid, bool) or paid <= 0:
            raise Invalid("须填写缴纳金额。", errors={"paid_amount": ["须为正整数（元）。"]})
        if paid != case.decided_amount:
            raise Invalid(f"缴纳金额与决定的罚款 {case.decided_amount} 元不符。", errors={"paid_amount": ["金额不符。"]})
        paid_on = _date(data, "paid_on")
        check_procedure_date("paid_on", "缴纳日期", paid_on, today=on, not_before=((case.decided_on, "决定日期"),))
        values.update(paid_amount=paid, paid_on=paid_on)
        details.update(paid_amount=paid, paid_on=paid_on.isoformat())
    elif outcome == "complied" and case.decided_amount is not None:
        raise Invalid("罚款须登记缴纳或强制执行。", errors={"outcome": ["罚款不能登记为已履行。"]})
    return values, details


def _to_closed(case, data, on):
    closed_on = _date(data, "closed_on", default=on)
    check_procedure_date("closed_on", "结案日期", closed_on, today=on, not_before=((case.executed_on, "执行日期"),))
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
    values, details = TRANSITION_DATA[to_state](case, data, on or china_today())
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
