"""The 责令（限期）整改通知书 of a rectification order, issued when the order is.

The notice's context follows `server.enforcement.document_contexts.RectificationOrderSchema`: the party (the
case's party when the order belongs to a case, else the venue as a unit with its operator as
the person in charge), the problems found (each violation with its rule), the legal basis in
force on the day of issue, the requirements one per line, the deadline, the authority and date.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..accounts.models.user import User
from ..extensions import db
from ..registry.models.reference import Rule
from . import discretion
from .documents import issue_document
from .models.document import Document
from .models.rectification import RectificationOrder

KIND = "rectification_order"
SUBJECT = "rectification_order"


def _legal_basis(order: RectificationOrder) -> list[dict]:
    case = order.case
    code = (case.decided_basis_code or case.proposed_basis_code) if case is not None else None
    basis = discretion.basis_in_force(code or _settings().legal_basis_provision,
                                      case.act_date if code else order.issued_on)
    return [{"law": f"《{basis.law}》", "article": basis.article, "text": basis.text}]


def _settings():
    from .rectification import settings

    return settings()


def _party(order: RectificationOrder) -> dict:
    case, venue = order.case, order.venue
    if case is not None:
        if case.party_kind == "unit":
            return {"kind": "unit", "name": case.party_unit_name, "credit_code": case.party_credit_code,
                    "legal_representative": case.party_legal_representative,
                    "address": case.party_address or venue.address}
        return {"kind": "individual", "name": case.party_name, "id_number": case.party_id_number,
                "address": case.party_address}
    party = {"kind": "unit", "name": venue.name, "legal_representative": venue.operator_name,
             "address": venue.address}
    if venue.credit_code:
        party["credit_code"] = venue.credit_code
    return party


def rectification_order_context(order: RectificationOrder) -> dict:
    covered = [link.violation for link in order.links if link.kind == "covered"]
    titles = dict(db.session.execute(sa.select(Rule.code, Rule.title)
                                     .where(Rule.code.in_({v.rule_code for v in covered}))).all())
    problems = [f"{v.description}（{titles[v.rule_code]}）" if v.rule_code in titles else v.description
                for v in covered]
    requirements = [line.strip() for line in order.requirements.splitlines() if line.strip()]
    return {"authority": order.issuing_authority, "date": order.issued_on.isoformat(), "party": _party(order),
            "problems": problems, "legal_basis": _legal_basis(order), "requirements": requirements,
            "deadline": order.deadline.isoformat(),
            "copies": {"cc": [f"{order.venue.county.name}人民政府"], "printed_by": None}}


def issue_rectification_notice(order: RectificationOrder, *, actor: User, channel: str = "api") -> Document:
    return issue_document(KIND, rectification_order_context(order), actor=actor, subject_type=SUBJECT,
                          subject_id=str(order.id), issued_on=order.issued_on, channel=channel)


def notice_of(order: RectificationOrder) -> Document | None:
    return db.session.scalar(sa.select(Document).where(Document.subject_type == SUBJECT,
                                                       Document.subject_id == str(order.id),
                                                       Document.kind == KIND))
