"""Official documents: issue (validate → number → render → store → audit), preview, verify.

Numbers: one counter row per (kind, year), incremented with UPDATE … RETURNING in the same
transaction that inserts the document row. PostgreSQL row-locks the counter until that
transaction ends, so concurrent issuers queue and each gets the next serial; SQLite takes its
database write lock with the counter's first statement. A transaction that fails (a bad
context is refused before, but a render or storage error, or any later error of the caller)
rolls back the counter with the row: no gaps, no duplicates. The counter stays locked while the
PDF renders — documents are issued one at a time per kind, which is what their numbering means.

Files: the PDF is written to the evidence store at documents/<year>/<id>.pdf (durably, read-only;
locally a temporary name, fsync, rename), before the row is flushed. If the transaction later rolls back, the file
stays without a row; it is never served, since files are found only through their rows.

Verification: a file is genuine when its SHA-256 equals a stored document's `pdf_sha256`. A file
that is not byte-identical but names a document (its Info dictionary carries the document id,
also after re-saving with qpdf) is `altered`; one that names none is `unknown`.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
import zlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from sealing.envelope import CODE_ALPHABET

from ..access import grant, register_policy
from ..accounts.models.user import User
from ..audit.chain import current_head, record_event
from ..columns import china_today, utcnow
from ..errors import Conflict, Invalid, NotFound, Problem
from ..extensions import db
from ..field.evidence_backend import evidence_store
from ..field.evidence_store import evidence_resolver
from ..field.inspection_record import inspection_record
from ..field.models.inspection import Inspection
from ..pdf.chinese_numbers import chinese_integer
from ..pdf.fonts import cjk_font_families
from ..pdf.rendering import INFO_DOCUMENT_ID, cn_date, embedded_document_id, render_pdf, templates_dir
from ..pdf.signing import TRUST_ROOTS_FILE, KeyRing, SignatureCheck, has_signature, load_key_ring, load_trust_roots
from ..pdf.signing import check as check_signature
from ..pdf.signing import sign as sign_pdf
from ..roles import ROLES
from .document_catalogue import document_kind, load_catalogue
from .document_contexts import validate_context
from .models.document import Document, DocumentCounter
from .organs import seal_of

DOCUMENTS_DIR = "documents"
STATUS_LABELS = {"genuine": "真实有效", "altered": "已被改动", "unknown": "无法识别"}
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")

register_policy(Document, "文书")
# Metadata: who issues documents and the auditors who check them. The PDF (party names, ID
# numbers, addresses) only to those who issue and serve them. Checking a file anyone holds is
# open to every signed-in role: the answer names only what the file itself shows.
grant(Document, "read", ("office", "enforcement", "admin", "auditor"))
grant(Document, "download", ("office", "enforcement", "admin"))
grant(Document, "verify", ROLES)


# --- hashing ---------------------------------------------------------------------------------


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def content_sha256(kind: str, number: str, context: dict) -> str:
    """SHA-256 of the canonical JSON of {kind, number, context}: the content code kept with the row."""
    return hashlib.sha256(canonical_json({"kind": kind, "number": number, "context": context})).hexdigest()


# --- contexts --------------------------------------------------------------------------------


def _dated(context: dict, issued_on: date | None) -> tuple[dict, date]:
    """The context with its date: the given one, else `issued_on`, else today (China time)."""
    if not isinstance(context, dict):
        raise Invalid("文书内容须为 JSON 对象。")
    given = context.get("date")
    if given in (None, ""):
        issued_on = issued_on or china_today()
        return {**context, "date": issued_on.isoformat()}, issued_on
    if isinstance(given, date):
        printed, context = given, {**context, "date": given.isoformat()}
    else:
        try:
            printed = date.fromisoformat(given) if isinstance(given, str) else None
        except ValueError:
            printed = None
    if printed is None:
        raise Invalid("文书日期格式不正确。", errors={"date": ["须为 YYYY-MM-DD 格式的日期。"]})
    if issued_on is not None and printed != issued_on:
        raise Invalid("文书内容中的日期与出具日期不一致。", errors={"date": [f"应为 {issued_on.isoformat()}。"]})
    return context, printed


def rights_texts(kind: str, context: dict) -> dict[str, str]:
    """The rights and time-limit sentences this document prints, from document_rights.yaml."""
    catalogue = load_catalogue()
    periods, texts = catalogue.periods, catalogue.texts

    # A percentage is written in words (百分之三): the text says 百分之{late_fee_percent}.
    printed_periods = {**periods, "late_fee_percent": chinese_integer(periods["late_fee_percent"])}

    def fill(name: str, **values) -> str:
        return texts[name].format(**printed_periods, **values)

    remedies = context.get("remedies")
    resolved: dict[str, str] = {}
    if kind == "penalty_notice":
        resolved = {"notice_basis": fill("notice_basis"), "statement": fill("statement"), "hearing": fill("hearing")}
    elif kind == "penalty_decision":
        method = context["execution"]["method"]
        resolved = {"payment": fill("payment", method=method), "execution": fill("execution", method=method)}
    elif kind == "rectification_order":
        resolved = {"rectification": fill("rectification", deadline=cn_date(context["deadline"]))}
    if remedies:
        resolved["remedies"] = fill("remedies", **remedies)
    return resolved


def prepare_context(kind: str, context: dict, issued_on: date | None = None) -> tuple[dict, date]:
    """Validated context plus the rights texts it prints: exactly what the template renders."""
    info = document_kind(kind)
    dated, printed = _dated(context, issued_on)
    validated = validate_context(kind, dated, info.title)
    validated["texts"] = rights_texts(kind, validated)
    return validated, printed


def sample_context(kind: str) -> dict:
    document_kind(kind)
    path = templates_dir() / kind / "sample.json"
    return json.loads(path.read_text("utf-8"))


# --- numbers ---------------------------------------------------------------------------------


def take_write_lock() -> None:
    """SQLite: take the database write lock now, before this transaction reads anything.

    SQLite cannot upgrade a read snapshot another connection's commit has made stale (it fails at
    once instead of waiting); a request that will issue a document therefore ends the snapshot its
    authentication opened and starts with this no-op write. PostgreSQL needs nothing.
    """
    if db.session.get_bind(mapper=DocumentCounter).dialect.name == "sqlite":
        db.session.execute(sa.update(DocumentCounter).where(sa.false()).values(last_serial=DocumentCounter.last_serial),
                           execution_options={"synchronize_session": False})


def new_verification_code() -> str:
    """A fresh 核验码 such as 7KQ2-MXW9-PA4T: 60 random bits in the reveal codes' alphabet
    (Crockford base 32), read from paper or a QR code; unguessable at the verification page's rate limit."""
    symbols = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return "-".join(symbols[i:i + 4] for i in range(0, 12, 4))


def verification_url(code: str) -> str:
    """The public verification page of a document, as its QR code and footer print it."""
    return f"{current_app.config['PUBLIC_BASE_URL']}/v/{code}"


def allocate_serial(kind: str, organ: str, year: int) -> int:
    """The next serial of `kind` issued by `organ` in `year`; the counter stays locked until the
    transaction ends."""
    session = db.session
    table = DocumentCounter.__table__
    dialect = session.get_bind(mapper=DocumentCounter).dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(table).values(kind=kind, organ=organ, year=year, last_serial=0).on_conflict_do_nothing())
    serial = session.execute(
        sa.update(table).where(table.c.kind == kind, table.c.organ == organ, table.c.year == year)
        .values(last_serial=table.c.last_serial + 1).returning(table.c.last_serial)
    ).scalar_one()
    return serial


# --- electronic seals (PAdES signatures) ----------------------------------------------------


class SigningFailed(Problem):
    """The organ has a signing key but signing failed: nothing is issued (the number is not used)."""

    status = 503
    slug = "document-signing-failed"
    default_title = "电子签章失败"


def organ_keys() -> KeyRing:
    """The organs' signing keys this server holds (DOCUMENT_SIGNING_DIR; none when unset)."""
    config = current_app.config
    return load_key_ring(config.get("DOCUMENT_SIGNING_DIR"), config.get("DOCUMENT_SIGNING_PASSPHRASE"))


def trust_roots() -> list:
    """The CA certificates a document's signature must chain to: DOCUMENT_TRUST_ROOTS, else the
    trust-roots.pem of the signing directory."""
    config = current_app.config
    path = config.get("DOCUMENT_TRUST_ROOTS")
    if not path and config.get("DOCUMENT_SIGNING_DIR"):
        path = Path(config["DOCUMENT_SIGNING_DIR"]) / TRUST_ROOTS_FILE
    return load_trust_roots(path)


def signing_notice(organ: str) -> str | None:
    """None when documents of `organ` are signed; else the sentence an officer reads (未配置电子签章…)."""
    ring, seal = organ_keys(), seal_of(organ)
    return None if ring.key_for(seal) is not None else ring.missing_reason(seal)


def document_signature(document: Document) -> dict:
    """Whether the stored file carries the organ's signature (a look at its bytes, no validation:
    the stored file is the one whose hash was recorded)."""
    try:
        signed = has_signature(document_path(document).read_bytes())
    except OSError:
        signed = False
    return {"signed": signed, "label": "已加盖电子签章" if signed else "未加盖电子签章",
            "notice": None if signed else "出具时未配置电子签章，该文书未加盖电子签章。"}


# --- issuing ---------------------------------------------------------------------------------


def issue_document(kind: str, context: dict, *, actor: User, subject_type: str, subject_id: str,
                   issued_on: date | None = None, channel: str = "api") -> Document:
    """Validate the context, allocate the number, render, store the PDF, audit `document.issued`.

    Flushes, never commits. Invalid (422) for a context missing an item the law requires,
    MissingCJKFont (503) when no Chinese font is installed, Invalid for a date after today (China
    Standard Time) — all before a number is used; the number is the next of the date's year.
    """
    info = document_kind(kind)
    prepared, printed = prepare_context(kind, context, issued_on)
    today = china_today()
    if printed > today:
        # The serial comes from the series of the printed date's year: a document dated ahead
        # would use up a number of a year (or a place in this year's order) not yet reached.
        message = (f"文书日期{printed.year}年{printed.month}月{printed.day}日晚于今天"
                   f"（{today.year}年{today.month}月{today.day}日）；文书不能预先出具，编号按文书日期所在年度编排。")
        raise Invalid(message, errors={"date": [message]})
    cjk_font_families(current_app.config.get("REPORT_FONTCONFIG_FILE"))
    organ = prepared["authority"]
    serial = allocate_serial(kind, organ, printed.year)
    # The organ's own series and format (organs.yaml): a kind is issued by more than one organ.
    number = info.number(printed.year, serial, organ)
    document_id = str(uuid.uuid4())
    code = new_verification_code()
    digest = content_sha256(kind, number, prepared)
    # The audit log's head as this document is issued, printed on it and kept with it: the paper
    # pins the log's history up to that event (server/audit/checkpoints.py).
    head = current_head()
    pdf = render_pdf(kind, ctx=prepared, resolve=evidence_resolver(actor), doc={
        "kind": kind, "title": info.title, "number": number, "id": document_id, "content_sha256": digest,
        "authority_mark": prepared["authority"], "draft": False, "verification_code": code,
        "verification_url": verification_url(code), "audit_head": head.printed})
    # Signed before anything is hashed or stored: the recorded pdf_sha256 is the signed file's,
    # so the byte-identical check and the signature check agree on one file.
    organ_key = organ_keys().key_for(seal_of(organ))
    if organ_key is not None:
        try:
            pdf = sign_pdf(pdf, organ_key)
        except Exception as exc:  # a configured key that cannot sign must not yield an unsigned original
            current_app.logger.exception("signing with the key of %s failed", organ_key.organ)
            raise SigningFailed(f"“{organ_key.organ}”的电子签章失败，文书未出具，请检查签章密钥。") from exc
    relative = f"{DOCUMENTS_DIR}/{printed.year}/{document_id}.pdf"
    evidence_store().write(relative, pdf, read_only=True)
    document = Document(
        id=document_id, kind=kind, organ=organ, number=number, verification_code=code,
        year=printed.year, serial=serial, subject_type=subject_type,
        subject_id=str(subject_id), context=prepared, content_sha256=digest,
        pdf_sha256=hashlib.sha256(pdf).hexdigest(), pdf_size=len(pdf), pdf_path=relative, issued_on=printed,
        issued_by_id=actor.id, issued_at=utcnow(), audit_head_seq=head.seq, audit_head_hash=head.hash)
    db.session.add(document)
    db.session.flush()
    record_event("document.issued", actor=actor, channel=channel, object_type="document", object_id=document_id,
                 details={"kind": kind, "number": number, "subject_type": subject_type,
                          "subject_id": str(subject_id), "content_sha256": digest,
                          "pdf_sha256": document.pdf_sha256,
                          "signed_by": organ_key.organ if organ_key is not None else None})
    return document


def preview_document(kind: str, context: dict | None = None, *, user: User | None = None) -> bytes:
    """The document rendered from its sample data (or `context`) with the number left blank and a
    “样稿” mark on every page; nothing is stored, no number is used."""
    info = document_kind(kind)
    prepared, printed = prepare_context(kind, sample_context(kind) if context is None else context)
    return render_pdf(kind, ctx=prepared, resolve=evidence_resolver(user), doc={
        "kind": kind, "title": info.title, "number": info.placeholder_number(printed.year, prepared["authority"]),
        "id": None,
        "content_sha256": None, "authority_mark": prepared["authority"], "draft": True, "verification_code": None,
        "verification_url": None})


def document_path(document: Document) -> Path:
    """The issued file on this machine (for sending or reading it); FileNotFoundError if it is gone."""
    return evidence_store().local_path(document.pdf_path)


def find_document(document_id: str) -> Document:
    missing = NotFound("文书不存在。")
    try:
        key = str(uuid.UUID(str(document_id)))
    except ValueError:
        raise missing from None
    document = db.session.get(Document, key)
    if document is None:
        raise missing
    return document


# --- verification ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyResult:
    """`genuine`: byte-identical to an issued document; `altered`: names a document but differs;
    `unknown`: names no document this server issued."""

    status: str
    sha256: str
    document: Document | None = None
    claimed_id: str | None = None
    signature: SignatureCheck | None = None

    @property
    def genuine(self) -> bool:
        return self.status == "genuine"

    @property
    def message(self) -> str:
        document = self.document
        if self.status == "genuine":
            return (f"文件真实有效：{document_title(document)} {document.number}（文书编号 {document.id}，"
                    f"{cn_date(document.issued_on)}出具）。")
        if self.status == "altered":
            return (f"文件已被改动：与{document_title(document)} {document.number}（文书编号 {document.id}）"
                    "的原件不一致，请以原件为准。")
        return "无法识别：该文件不是本系统出具的文书，或其文书编号已被破坏。"


def document_title(document: Document) -> str:
    try:
        return document_kind(document.kind).title
    except NotFound:
        return document.kind


_STREAM = re.compile(rb"stream\r?\n")
_ID_IN_STREAM = re.compile(rb"/" + INFO_DOCUMENT_ID.encode() + rb"\s*\(([0-9a-f-]{36})\)")
_MAX_INFLATED = 16 * 1024 * 1024


def claimed_document_id(data: bytes) -> str | None:
    """The document id a PDF names: in its Info dictionary as written (plain bytes), or inside a
    compressed object stream after some tool re-saved it that way."""
    found = embedded_document_id(data)
    if found is not None:
        return found
    budget = _MAX_INFLATED
    for match in _STREAM.finditer(data):
        inflater = zlib.decompressobj()
        try:
            chunk = inflater.decompress(data[match.end():], min(budget, 4 * 1024 * 1024))
        except zlib.error:
            continue
        budget -= len(chunk)
        ids = _ID_IN_STREAM.findall(chunk)
        if ids:
            return ids[-1].decode()
        if budget <= 0:  # a decompression bomb is not worth reading further
            break
    return None


def verify_pdf(data: bytes) -> VerifyResult:
    """Genuine / altered / unknown, with the document when the file names one, and the check of
    its signature (valid only when made by the document's organ, under a trusted root, over the
    whole file)."""
    digest = hashlib.sha256(data).hexdigest()
    document = db.session.scalar(sa.select(Document).where(Document.pdf_sha256 == digest))
    if document is not None:
        return VerifyResult("genuine", digest, document, document.id, _signature_of(data, document))
    claimed = claimed_document_id(data)
    document = db.session.get(Document, claimed) if claimed else None
    return VerifyResult("altered" if document is not None else "unknown", digest, document, claimed,
                        _signature_of(data, document))


def _signature_of(data: bytes, document: Document | None) -> SignatureCheck:
    seal = seal_of(document.organ) if document is not None else None
    return check_signature(data, trust_roots(), expected_signer=seal)


def verify_hash(document: Document, sha256: str) -> str | None:
    """Which hash of `document` the given hex matches: "pdf" (the file), "content" (the line printed
    on it) or None."""
    value = (sha256 or "").strip().lower()
    if not SHA256_HEX.match(value):
        raise Invalid("sha256 须为 64 位十六进制。", errors={"sha256": ["须为 64 位十六进制 SHA-256。"]})
    if value == document.pdf_sha256:
        return "pdf"
    if value == document.content_sha256:
        return "content"
    return None


# --- the inspection record (检查记录) --------------------------------------------------------


def inspection_record_context(inspection: Inspection, issued_on: date | None = None) -> dict:
    """The 检查记录's context: the issuing authority and date around the inspection's record."""
    issued_on = issued_on or china_today()
    return {"authority": document_kind("inspection_record").authority, "date": issued_on.isoformat(),
            **inspection_record(inspection), "copies": {"cc": [], "printed_by": None}}


def find_inspection(inspection_uuid: str) -> Inspection:
    missing = NotFound("督查记录不存在。")
    try:
        key = str(uuid.UUID(str(inspection_uuid)))
    except ValueError:
        raise missing from None
    inspection = db.session.scalar(sa.select(Inspection).where(Inspection.uuid == key))
    if inspection is None:
        raise missing
    return inspection


def record_document_of(inspection: Inspection) -> Document | None:
    return db.session.scalar(sa.select(Document).where(
        Document.kind == "inspection_record", Document.subject_type == "inspection",
        Document.subject_id == inspection.uuid))


def issue_inspection_record(inspection: Inspection, actor: User, *, channel: str = "api",
                            issued_on: date | None = None) -> Document:
    """Issue the 检查记录 of a submitted inspection whose photos have all arrived; one per inspection."""
    if db.session.get_bind(mapper=Inspection).dialect.name == "postgresql":
        # Two offices pressing the button at once must not get two records of one inspection.
        db.session.execute(sa.select(Inspection.id).where(Inspection.id == inspection.id).with_for_update())
    if inspection.status == "draft":
        raise Conflict("该督查记录尚未提交，不能出具检查记录。")
    if inspection.is_primary is not True:
        # One visit, one 检查记录: it is issued from the record the assignment stands on.
        raise Conflict("该督查记录是组内另一台设备的并行记录，未被采用；检查记录按本任务采用的督查记录出具。")
    if inspection.status != "complete":
        raise Conflict("该督查记录的照片尚未全部上传，待照片齐全后才能出具检查记录（检查记录须附全部照片及其校验码）。")
    existing = record_document_of(inspection)
    if existing is not None:
        raise Conflict(f"该督查记录已出具检查记录 {existing.number}（文书编号 {existing.id}）。", document_id=existing.id)
    context = inspection_record_context(inspection, issued_on)
    return issue_document("inspection_record", context, actor=actor, subject_type="inspection",
                          subject_id=inspection.uuid, issued_on=issued_on, channel=channel)


def summary(document: Document) -> dict:
    return {
        "id": document.id, "kind": document.kind, "title": document_title(document), "number": document.number,
        "year": document.year, "serial": document.serial, "subject_type": document.subject_type,
        "subject_id": document.subject_id, "content_sha256": document.content_sha256,
        "pdf_sha256": document.pdf_sha256, "pdf_size": document.pdf_size, "issued_on": document.issued_on,
        "issued_at": document.issued_at, "issued_by": document.issued_by.username if document.issued_by else None,
        "signed": document_signature(document)["signed"],
    }


def verification_answer(result: VerifyResult) -> dict:
    document = result.document
    return {
        "status": result.status, "status_label": STATUS_LABELS[result.status], "genuine": result.genuine,
        "sha256": result.sha256, "message": result.message, "document_id": result.claimed_id,
        "document": None if document is None else {
            "id": document.id, "kind": document.kind, "title": document_title(document),
            "number": document.number, "issued_on": document.issued_on},
        "signature": None if result.signature is None else result.signature.as_dict(),
    }


__all__ = [
    "VerifyResult", "allocate_serial", "content_sha256", "find_document", "inspection_record_context",
    "issue_document", "issue_inspection_record", "preview_document", "verify_hash", "verify_pdf",
]


# --- looking a document up by its 核验码 (the public verification page) ------------------------

VERIFICATION_CODE_LENGTH = 12
VERIFICATION_CODE_GROUP = 4
# Read as sealing.envelope.normalise_code reads reveal codes: Crockford's readings of the letters
# it leaves out, and any separators a reader types between the groups (spaces, hyphens, the dashes
# and the middle dot an input method gives).
_VERIFICATION_READINGS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_VERIFICATION_SEPARATORS = str.maketrans("", "", "-_ \t\u00b7\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u3000")
# A Chinese keyboard may type full-width letters, digits and dashes (Ａ, ７, －): read as ASCII.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}


def normalise_verification_code(text) -> str | None:
    """The canonical 核验码 (7KQ2-MXW9-PA4T) of `text` as typed or heard, or None if it cannot be one.

    Any case, with or without dashes or spaces, O read as 0 and I or L as 1; full-width letters,
    digits and dashes (a Chinese keyboard's) read as their ASCII forms."""
    if not isinstance(text, str):
        return None
    symbols = (text.translate(_FULL_WIDTH).strip().upper()
               .translate(_VERIFICATION_SEPARATORS).translate(_VERIFICATION_READINGS))
    if len(symbols) != VERIFICATION_CODE_LENGTH or any(symbol not in CODE_ALPHABET for symbol in symbols):
        return None
    step = VERIFICATION_CODE_GROUP
    return "-".join(symbols[i:i + step] for i in range(0, VERIFICATION_CODE_LENGTH, step))


def find_by_verification_code(text) -> Document | None:
    """The document whose 核验码 `text` is (read by `normalise_verification_code`), or None."""
    code = normalise_verification_code(text)
    if code is None:
        return None
    return db.session.scalar(sa.select(Document).where(Document.verification_code == code))
