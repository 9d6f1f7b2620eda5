"""What the public verification page (/v/<核验码>) says about an issued document, and about a file
checked against it: what the paper shows its reader, less what identifies a person.

Shown: the kind, number, issuing organ, printed date, the party — a unit's name in full, an
individual's name masked to the surname (张**), never an ID number, address, phone or legal
representative —, the fine, whether the stored original carries the organ's electronic seal, the
original's SHA-256, the audit chain head at issue (what the paper prints after 签发时审计链), and
whether the organ later revoked the case or withdrew the order. Never internal ids, the officers,
or anything else of the case.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ..extensions import db
from ..pdf.chinese_numbers import chinese_date, rmb
from .documents import VerifyResult, document_signature, document_title
from .models.case import CaseTransition, EnforcementCase
from .models.document import Document
from .models.rectification import RectificationOrder
from .rectification_documents import SUBJECT as RECTIFICATION_SUBJECT

FINE_LABELS = {"penalty_notice": "拟罚款金额", "penalty_decision": "罚款金额"}
MASK = "*"


@dataclass(frozen=True)
class PublicFacts:
    code: str
    title: str
    number: str
    organ: str
    issued_on: str  # 2026年12月3日
    party_label: str | None
    party: str | None
    fine_label: str | None
    fine: str | None  # 人民币贰佰元整（¥200.00）
    signed: bool
    signature_label: str
    pdf_sha256: str
    standing: str | None  # the case revoked / the order withdrawn since, in a sentence
    # The audit chain head at issue (第 N 条 and the whole hash), which the paper prints in short;
    # None for documents issued before heads were recorded.
    audit_head: str | None = None


@dataclass(frozen=True)
class FileVerdict:
    """The answer for a file checked against the page's document: `matches` only when it is the
    original, byte for byte."""

    matches: bool
    message: str
    signature: str | None


def mask_person_name(name: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***: the surname's first character and one mark per other character."""
    name = name.strip()
    return name[:1] + MASK * (len(name) - 1) if name else ""


def _party(document: Document) -> tuple[str | None, str | None]:
    context = document.context or {}
    party = context.get("party")
    if isinstance(party, dict) and party.get("name"):
        if party.get("kind") == "unit":
            return "当事人", party["name"]
        return "当事人", mask_person_name(party["name"])
    venue = context.get("venue")
    if isinstance(venue, dict) and venue.get("name"):  # the 检查记录 names the place, not a party
        return "受检场所", venue["name"]
    return None, None


def _fine(document: Document) -> tuple[str | None, str | None]:
    penalty = (document.context or {}).get("penalty")
    amount = penalty.get("fine_amount") if isinstance(penalty, dict) else None
    if not amount:
        return None, None
    return FINE_LABELS.get(document.kind, "罚款金额"), rmb(amount)


def _standing(document: Document) -> str | None:
    """A sentence when the organ has since set the document's matter aside, else None."""
    if not str(document.subject_id).isdigit():
        return None
    subject_id = int(document.subject_id)
    if document.subject_type == "case":
        case = db.session.get(EnforcementCase, subject_id)
        if case is None or case.state != "revoked":
            return None
        revoked_at = db.session.scalar(
            sa.select(CaseTransition.at).where(CaseTransition.case_id == case.id, CaseTransition.to_state == "revoked")
            .order_by(CaseTransition.id.desc()).limit(1))
        when = f"已于{chinese_date(revoked_at)}" if revoked_at is not None else "已"
        return f"出具机关{when}撤销本文书所涉的行政处罚案件。"
    if document.subject_type == RECTIFICATION_SUBJECT:
        order = db.session.get(RectificationOrder, subject_id)
        if order is None or order.state != "withdrawn":
            return None
        when = f"已于{chinese_date(order.result_at)}" if order.result_at is not None else "已"
        return f"出具机关{when}撤回本整改通知。"
    return None


def public_facts(document: Document) -> PublicFacts:
    party_label, party = _party(document)
    fine_label, fine = _fine(document)
    signature = document_signature(document)
    return PublicFacts(
        code=document.verification_code, title=document_title(document), number=document.number,
        organ=document.organ, issued_on=chinese_date(document.issued_on), party_label=party_label, party=party,
        fine_label=fine_label, fine=fine, signed=signature["signed"], signature_label=signature["label"],
        pdf_sha256=document.pdf_sha256, standing=_standing(document),
        audit_head=(f"第 {document.audit_head_seq} 条，哈希 {document.audit_head_hash}"
                    if document.audit_head_seq is not None else None))


def file_verdict(document: Document, result: VerifyResult) -> FileVerdict:
    """What a checked file is, for the page of `document`: its original, a changed copy of it, or
    not this document at all (another document's file, or none this server issued)."""
    names_this = result.document is not None and result.document.id == document.id
    if result.genuine and names_this:
        return FileVerdict(True, "核验通过：上传的文件就是本文书的原件，与出具机关出具时保存的文件完全一致（逐字节相同）。",
                           result.signature.message)
    if names_this:
        return FileVerdict(False, "核验未通过：上传的文件标明是本文书，但与出具时保存的原件不一致，"
                                  "文件已被修改、追加内容或重新保存过。请以原件为准。", result.signature.message)
    if result.document is not None:
        return FileVerdict(False, "核验未通过：上传的文件不是本文书，而是另一份文书的文件。请核对文件与核验码是否对应。", None)
    return FileVerdict(False, "核验未通过：上传的文件不是本文书，也无法识别为本系统出具的文书。", None)
