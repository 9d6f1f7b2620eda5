"""The documents of a penalty case: the 行政处罚告知书 (entering 告知) and the 行政处罚决定书
(entering 决定), built from the case row alone, in the shape server/enforcement/document_contexts.py requires.

Where each item comes from:
- the issuing authority: the kind's `authority` in server/reference/document_numbers.yaml (the
  same entry that gives the number, so a document's mark and its number never disagree);
- the party, facts, circumstance, penalty, dates and hearing right: the case;
- the facts: the case's own (the officer's text, or composed from the record at 立案 by
  server/enforcement/case_facts.py), else composed now; the reasons name the violated rules' titles;
- the evidence: the case's evidence summary, each inspection's record (its 检查记录 number once
  issued) and each received photo with its SHA-256;
- the legal basis: the case's basis code resolved with `discretion.basis_in_force` on the act date
  (law, article, text);
- what the bureau prints on every document of a kind (payment method, review body and court,
  contact, 版记): report_templates/<kind>/issuer.yaml, validated here.

A missing required item is not filled in: the document check refuses it (422 naming the item).
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

import marshmallow as ma
import sqlalchemy as sa
import yaml
from marshmallow import fields, validate

from ..columns import as_utc
from ..extensions import db
from ..field.models.inspection import Inspection
from ..pdf.chinese_numbers import chinese_datetime
from ..pdf.rendering import templates_dir
from ..registry.models.reference import CIRCUMSTANCE_LABELS, PARTY_KIND_LABELS, PENALTY_TYPE_LABELS, Rule
from . import case_facts, discretion
from .document_catalogue import DocumentCatalogueError, document_kind
from .models.case import EnforcementCase
from .models.document import Document

ISSUER_FILE = "issuer.yaml"
# Which document entering a state issues.
ISSUED_ON_ENTRY = {"notified": "penalty_notice", "decided": "penalty_decision"}
CASE_KINDS = tuple(ISSUED_ON_ENTRY.values())
PENDING = "（待填写）"


# --- issuer data ---------------------------------------------------------------------------------


class _Strict(ma.Schema):
    class Meta:
        unknown = ma.RAISE


_LINE = validate.Length(min=1, max=200)


class _Copies(_Strict):
    cc = fields.List(fields.String(validate=_LINE), load_default=list)
    printed_by = fields.String(validate=_LINE, allow_none=True, load_default=None)


class _Remedies(_Strict):
    review_body = fields.String(required=True, validate=_LINE)
    court = fields.String(required=True, validate=_LINE)


class _Contact(_Strict):
    address = fields.String(validate=_LINE, allow_none=True, load_default=None)
    phone = fields.String(validate=_LINE, allow_none=True, load_default=None)


class DecisionIssuerSchema(_Strict):
    version = fields.String(required=True)
    fine_payment = fields.String(required=True, validate=_LINE)
    other_execution = fields.String(required=True, validate=_LINE)
    remedies = fields.Nested(_Remedies, required=True)
    copies = fields.Nested(_Copies, load_default=dict)


class NoticeIssuerSchema(_Strict):
    version = fields.String(required=True)
    contact = fields.Nested(_Contact, load_default=dict)
    copies = fields.Nested(_Copies, load_default=dict)


ISSUER_SCHEMAS = {"penalty_notice": NoticeIssuerSchema, "penalty_decision": DecisionIssuerSchema}


@lru_cache(maxsize=8)
def _load_issuer(path: str, mtime_ns: int, kind: str) -> dict:
    try:
        raw = yaml.safe_load(Path(path).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DocumentCatalogueError(f"文书参考文件 {kind}/{ISSUER_FILE} 无法读取：{exc}") from None
    try:
        return ISSUER_SCHEMAS[kind]().load(raw if isinstance(raw, dict) else {})
    except ma.ValidationError as exc:
        raise DocumentCatalogueError(f"文书参考文件 {kind}/{ISSUER_FILE} 校验未通过。", errors=exc.messages) from None


def issuer(kind: str) -> dict:
    """The validated issuer data of `kind` (cached per file modification time)."""
    path = templates_dir() / kind / ISSUER_FILE
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        raise DocumentCatalogueError(f"文书参考文件 {kind}/{ISSUER_FILE} 不存在。") from None
    return _load_issuer(str(path), mtime, kind)


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


# How the 决定书 states the decision ("现决定：…"); the template adds a fine's amount.
DECISION_PHRASES = {"fine": "对{party}处以罚款", "warning": "对{party}给予警告", "order_correction": "责令{party}改正",
                    "suspend": "责令{party}停产停业"}


def _penalty(penalty_type, amount, party: str | None = None) -> dict:
    """The penalty as the template prints it: the notice names the kind (拟作出…：罚款), the
    decision says what is decided; a fine's amount is printed by the template beside it."""
    if penalty_type is None:
        description = PENDING
    elif party is not None and penalty_type in DECISION_PHRASES:
        description = DECISION_PHRASES[penalty_type].format(party=party)
    else:
        description = PENALTY_TYPE_LABELS.get(penalty_type, penalty_type)
    return {"description": description, "fine_amount": amount if penalty_type == "fine" else None}


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
    right as the case recorded it at notice."""
    data = issuer("penalty_notice")
    context = {
        "authority": document_kind("penalty_notice").authority,
        "party": _party(case),
        "facts": _facts(case),
        "reasons": _reasons(case),
        "evidence": _evidence(case),
        "legal_basis": _basis(case.proposed_basis_code, case.act_date),
        "penalty": _penalty(case.proposed_penalty_type, case.proposed_amount),
        "hearing_eligible": bool(case.hearing_offered),
        "contact": {"person": _officers(case) or None, **data["contact"]},
        "copies": data["copies"],
    }
    if case.notified_on is not None:
        context["date"] = case.notified_on.isoformat()
    return context


def penalty_decision_context(case: EnforcementCase) -> dict:
    """The 行政处罚决定书 of the case: everything 行政处罚法 第五十九条 requires."""
    data = issuer("penalty_decision")
    fine = case.decided_penalty_type == "fine"
    context = {
        "authority": document_kind("penalty_decision").authority,
        "party": _party(case),
        "facts": _facts(case),
        "evidence": _evidence(case),
        "legal_basis": _basis(case.decided_basis_code, case.act_date),
        "penalty": _penalty(case.decided_penalty_type, case.decided_amount,
                            "被处罚单位" if case.party_kind == "unit" else "被处罚人"),
        "execution": {"method": data["fine_payment"] if fine else data["other_execution"]},
        "remedies": data["remedies"],
        "copies": data["copies"],
    }
    if case.decided_on is not None:
        context["date"] = case.decided_on.isoformat()
    return context


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
    if kind == "penalty_decision" and case.decided_penalty_type is None:
        values.update(decided_penalty_type=case.proposed_penalty_type, decided_amount=case.proposed_amount,
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
