"""The documents of a penalty case: the 行政处罚告知书 (entering 告知) and the 行政处罚决定书
(entering 决定), built from the case row alone, in the shape server/enforcement/document_contexts.py requires.

Where each item comes from:
- the issuing authority: the organ holding the competent authority the case's legal basis names
  (server/reference/organs.yaml; `case_organ`), which also gives the number's format, so a
  document's mark and its number never disagree;
- the party, facts, circumstance, penalty, dates and hearing right: the case;
- the facts: the case's own (the officer's text, or composed from the record at 立案 by
  server/enforcement/case_facts.py), else composed now; the reasons name the violated rules' titles;
- the evidence: the case's evidence summary, each inspection's record (its 检查记录 number once
  issued) and each received photo with its SHA-256;
- the legal basis: the case's basis code resolved with `discretion.basis_in_force` on the act date
  (law, article, text);
- what the organ prints on every document of a kind (payment method, review body and court,
  contact, 版记): the organ's `penalty` entry in server/reference/organs.yaml.

A missing required item is not filled in: the document check refuses it (422 naming the item).
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from ..columns import as_utc
from ..extensions import db
from ..field.models.inspection import Inspection
from ..pdf.chinese_numbers import chinese_datetime, chinese_integer
from ..registry.models.reference import CIRCUMSTANCE_LABELS, PARTY_KIND_LABELS, PENALTY_TYPE_LABELS, Rule
from . import case_facts, discretion
from .document_catalogue import document_kind
from .models.case import EnforcementCase
from .models.document import Document
from .organs import Organ, organ_for_authority, organ_named

# Which document entering a state issues.
ISSUED_ON_ENTRY = {"notified": "penalty_notice", "decided": "penalty_decision"}
CASE_KINDS = tuple(ISSUED_ON_ENTRY.values())
PENDING = "（待填写）"


# --- the issuing organ -----------------------------------------------------------------------------


def case_organ(case, kind: str) -> Organ:
    """The organ issuing the case's `kind`: the one holding the competent authority its legal
    basis (in force on the act date) names — the notice's the proposed basis, the decision's the
    decided one. Before a basis is chosen (a preview), the kind's default organ."""
    code = case.proposed_basis_code if kind == "penalty_notice" else (case.decided_basis_code
                                                                       or case.proposed_basis_code)
    if not code:
        return organ_named(document_kind(kind).authority)
    return organ_for_authority(discretion.basis_in_force(code, case.act_date).authority_kind)


# --- pieces ------------------------------------------------------------------------------------


def _party(case) -> dict:
    """The party as the documents name it; a missing item stays missing (the check names it)."""
    unit = case.party_kind == "unit"
    values = {
        "kind": case.party_kind,
        "name": case.party_unit_name if unit else case.party_name,
        "id_number": None if unit else case.party_id_number,
        "credit_code": case.party_credit_code if unit else None,
        "legal_representative": case.party_legal_representative if unit else None,
        "address": case.party_address,
        "phone": case.party_phone,
    }
    return {key: value for key, value in values.items() if value not in (None, "")}


def _rule_titles(case) -> list[str]:
    codes = list(dict.fromkeys(link.violation.rule_code for link in case.links))
    titles = dict(db.session.execute(sa.select(Rule.code, Rule.title).where(Rule.code.in_(codes))).all())
    return [titles.get(code, code) for code in codes]


def _facts(case) -> str:
    # Printed as the case holds them: a list of the checks' requirements appended here would read
    # as if the venue had complied, and would contradict an officer's own wording.
    if case.facts and case.facts.strip():
        return case.facts.strip()
    party = {"kind": case.party_kind, "name": case.party_name, "unit_name": case.party_unit_name}
    return case_facts.compose_facts([link.violation for link in case.links], party)


def _when(moment) -> str:
    """A stored moment (UTC; naive from SQLite) as the party reads it: 2026年3月10日9时30分, Beijing."""
    return chinese_datetime(as_utc(moment)) if moment is not None else "不详"


def _evidence(case) -> list[dict]:
    from .cases import case_photos  # cases imports this module for its views

    items = []
    if case.evidence_summary and case.evidence_summary.strip():
        items.append({"name": "调查取证情况", "description": case.evidence_summary.strip()[:5000], "sha256": None})
    inspection_ids = sorted({link.violation.inspection_id for link in case.links})
    inspections = list(db.session.scalars(sa.select(Inspection).where(Inspection.id.in_(inspection_ids))
                                          .order_by(Inspection.id)))
    numbers = dict(db.session.execute(sa.select(Document.subject_id, Document.number).where(
        Document.kind == "inspection_record", Document.subject_type == "inspection",
        Document.subject_id.in_([i.uuid for i in inspections]))).all())
    for inspection in inspections:
        # The 检查记录's number once issued; before that only the time (the record's id is internal).
        number = numbers.get(inspection.uuid)
        items.append({"name": "现场检查记录",
                      "description": f"{number + '，' if number else ''}检查时间{_when(inspection.checked_in_at)}",
                      "sha256": None})
    for photo in case_photos(case):
        caption = f"{photo.caption}，" if photo.caption else ""
        # The hash stays in the context (and so in the stored record); the table prints caption and time.
        items.append({"name": "现场照片", "description": f"{caption}拍摄时间{_when(photo.taken_at)}",
                      "sha256": photo.sha256})
    return items


def _basis(code: str | None, act_date: date) -> list[dict]:
    if not code:
        return []
    basis = discretion.basis_in_force(code, act_date)
    return [{"law": basis.law, "article": basis.article, "text": basis.text}]


def _penalty(types, fine_amount, detention_days, party: str | None = None) -> dict:
    """The combination as the template prints it; the template adds a fine's amount after a
    description ending in 罚款. The notice names what is intended (行政拘留五日，并处罚款); the
    decision says what is decided, e.g. 对被处罚人处以行政拘留五日，并处罚款 → …罚款人民币伍佰元整."""
    if not types:
        return {"description": PENDING, "fine_amount": None}
    ordered = [t for t in discretion.PRINT_ORDER if t in types]
    days = f"{chinese_integer(detention_days)}日" if detention_days else ""
    clauses = []
    for penalty_type in ordered:
        first = not clauses
        if party is None:
            label = PENALTY_TYPE_LABELS[penalty_type] + (days if penalty_type == "detention" else "")
            clauses.append(label if first or penalty_type != "fine" else "并处罚款")
        elif penalty_type == "order_correction":
            clauses.append(f"责令{party}改正")
        elif penalty_type == "suspend":
            clauses.append(f"责令{party}停产停业")
        elif penalty_type == "warning":
            clauses.append(f"对{party}给予警告" if first else "给予警告")
        elif penalty_type == "detention":
            clauses.append(f"对{party}处以行政拘留{days}" if first else f"处以行政拘留{days}")
        elif penalty_type == "fine":
            clauses.append(f"对{party}处以罚款" if first else "并处罚款")
    separator = "、" if party is None else "，"
    description = separator.join(c for c in clauses if c != "并处罚款")
    if "并处罚款" in clauses:
        description += "，并处罚款"
    return {"description": description, "fine_amount": fine_amount if "fine" in types else None}


def _party_reference(case) -> str:
    return "当事单位" if case.party_kind == "unit" else "当事人"


def _reasons(case) -> str:
    # A title with quotes of its own nests them as ‘’ inside the “” around it.
    titles = "、".join(f"“{title.replace('“', '‘').replace('”', '’')}”" for title in _rule_titles(case))
    text = (f"{_party_reference(case)}的上述行为违反了疫情防控措施中{titles}的要求，"
            f"属{PARTY_KIND_LABELS[case.party_kind]}{CIRCUMSTANCE_LABELS[case.circumstance]}。")
    if case.proposed_basis_code:
        basis = discretion.basis_in_force(case.proposed_basis_code, case.act_date)
        benchmark = next((b for b in basis.benchmarks if (b.circumstance, b.party_kind)
                          == (case.circumstance, case.party_kind) and b.in_force(case.act_date)), None)
        if benchmark is not None:
            text += (f"依照《{basis.law}》{basis.article}及本机关的裁量基准，"
                     f"{PARTY_KIND_LABELS[case.party_kind]}{CIRCUMSTANCE_LABELS[case.circumstance]}的，"
                     f"处{discretion.describe_benchmark(benchmark)}。")
    return text


def _officers(case) -> str:
    return "、".join(o.display_name for o in (case.officer1, case.officer2) if o is not None)


# --- contexts ----------------------------------------------------------------------------------


def penalty_notice_context(case: EnforcementCase) -> dict:
    """The 行政处罚告知书 of the case: facts, reasons, basis and the intended penalty; the hearing
    right as the case recorded it at notice; issued by the organ its basis makes competent."""
    organ = case_organ(case, "penalty_notice")
    data = organ.penalty
    context = {
        "authority": organ.name,
        "party": _party(case),
        "facts": _facts(case),
        "reasons": _reasons(case),
        "evidence": _evidence(case),
        "legal_basis": _basis(case.proposed_basis_code, case.act_date),
        "penalty": _penalty(case.proposed_penalty_types, case.proposed_amount, case.proposed_detention_days),
        "hearing_eligible": bool(case.hearing_offered),
        "contact": {"person": _officers(case) or None, **data["notice_contact"]},
        "copies": data["copies"]["penalty_notice"],
    }
    if case.notified_on is not None:
        context["date"] = case.notified_on.isoformat()
    return context


def penalty_decision_context(case: EnforcementCase) -> dict:
    """The 行政处罚决定书 of the case: everything 行政处罚法 第五十九条 requires, issued by the
    organ its basis makes competent, with that organ's review body, court, payment and 版记."""
    organ = case_organ(case, "penalty_decision")
    data = organ.penalty
    context = {
        "authority": organ.name,
        "party": _party(case),
        "facts": _facts(case),
        "evidence": _evidence(case),
        "legal_basis": _basis(case.decided_basis_code, case.act_date),
        "penalty": _penalty(case.decided_penalty_types, case.decided_amount, case.decided_detention_days,
                            "被处罚单位" if case.party_kind == "unit" else "被处罚人"),
        "execution": {"method": _execution(case.decided_penalty_types or [], data)},
        "remedies": {"review_body": data["review_body"], "court": data["court"]},
        "copies": data["copies"]["penalty_decision"],
    }
    if case.decided_on is not None:
        context["date"] = case.decided_on.isoformat()
    return context


def _execution(types, data: dict) -> str:
    """How the decision is carried out: the fine's payment, the detention's execution, or from
    service (the template wraps a fine's in the payment period and late fee)."""
    detention = data.get("detention_execution") if "detention" in types else None
    if "fine" in types:
        return f"{data['fine_payment']}；{detention}" if detention else data["fine_payment"]
    return detention or data["other_execution"]


CONTEXT_BUILDERS = {"penalty_notice": penalty_notice_context, "penalty_decision": penalty_decision_context}


class Prospective:
    """The case as it will be after a transition: `values` over the row, nothing written."""

    def __init__(self, case: EnforcementCase, values: dict):
        self._case, self._values = case, values

    def __getattr__(self, name):
        if name in self._values:
            return self._values[name]
        return getattr(self._case, name)


def preview_context(case: EnforcementCase, kind: str) -> dict:
    """The context a preview shows: the case's current data, the proposed penalty standing in for
    an undecided one, and 待填写 where an item is still missing (a preview never refuses)."""
    values = {}
    if kind == "penalty_decision" and not case.decided_penalty_types:
        values.update(decided_penalty_types=case.proposed_penalty_types, decided_amount=case.proposed_amount,
                      decided_detention_days=case.proposed_detention_days,
                      decided_basis_code=case.proposed_basis_code)
    context = CONTEXT_BUILDERS[kind](Prospective(case, values))
    context.pop("date", None)
    party = context["party"]
    required = ["name", "address"] + (["legal_representative"] if case.party_kind == "unit" else ["id_number"])
    for name in required:
        party.setdefault(name, PENDING)
    if not context["legal_basis"]:
        context["legal_basis"] = [{"law": PENDING, "article": PENDING, "text": None}]
    if not context.get("evidence") and kind == "penalty_decision":
        context["evidence"] = [{"name": PENDING, "description": None, "sha256": None}]
    return context


def documents_of(case: EnforcementCase) -> list[Document]:
    """The documents issued for the case, in the order they were issued."""
    return list(db.session.scalars(sa.select(Document).where(
        Document.subject_type == "case", Document.subject_id == str(case.id)).order_by(Document.issued_at,
                                                                                       Document.id)))
