"""The signed-in page that checks a document's PDF file (纪检审计, and the office, enforcement and
admin who read documents): upload a file, see what it is — the check `anfang document verify` and
the public page /v/<核验码> make (documents.verify_pdf), with the facts the public page shows, the
party's name in full, and the uploaded file's own SHA-256.

Audited, unlike the public page: the reader is a signed-in officer, so the chain records who
checked which file and what it was (`document.verified`), and only accounts — never an anonymous
visitor — take the chain head's lock. The upload's size limit and CSRF check follow the public page
(the form checks its token itself, after the limit is set).
"""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, current_app, render_template, request
from werkzeug.exceptions import RequestEntityTooLarge

from ...access import authorize, web_role_required
from ...audit.chain import record_event
from ...extensions import csrf
from ...web.navigation import add_nav_item
from ...web.signed_in import signed_in_user
from .. import documents as service
from ..documents import STATUS_LABELS, VerifyResult
from ..public_document_facts import file_verdict, public_facts
from .public_verification import EXPIRED, MULTIPART_ALLOWANCE, CheckFileForm, size_text, too_large_message

bp = Blueprint("web_document_verification", __name__, template_folder="templates")

# Those who read issued documents whole (server.enforcement.documents' grants): they may see the
# party's name unmasked; everyone else has the public page.
READERS = ("auditor", "office", "enforcement", "admin")

add_nav_item("文书核验", "web_document_verification.page", ("auditor",))


@bp.get("/documents/verify")
@web_role_required(*READERS)
def page():
    """The upload form."""
    return _page(CheckFileForm(formdata=None))


@bp.post("/documents/verify")
@csrf.exempt  # the form checks its token itself, after the size limit is set (see the module docstring)
@web_role_required(*READERS)
def check():
    """Check an uploaded PDF: an issued original, a changed copy of one, or no document of ours."""
    user = signed_in_user()
    authorize(user, "verify", service.Document)
    limit = current_app.config["DOCUMENT_VERIFY_MAX_BYTES"] + MULTIPART_ALLOWANCE
    if request.content_length is not None and request.content_length > limit:
        return _refused(too_large_message(), 413)
    request.max_content_length = limit  # a body sent without a length is cut off at the limit too
    try:
        form = CheckFileForm()
        valid = form.validate()
    except RequestEntityTooLarge:
        return _refused(too_large_message(), 413)
    if "csrf_token" in form.errors:
        return _refused(EXPIRED, 400)
    if not valid:
        return _page(form), 413 if too_large_message() in form.pdf.errors else 422
    result = service.verify_pdf(form.pdf_bytes)
    record_event("document.verified", actor=user, channel="web", object_type="document",
                 object_id=result.claimed_id,
                 details={"status": result.status, "sha256": result.sha256,
                          "signature": result.signature.status if result.signature else None})
    return _page(CheckFileForm(formdata=None), result=result)


def _answer(result: VerifyResult) -> dict:
    """What the page says of a checked file: the verdict, and the facts of the document it names."""
    document = result.document
    if document is None:
        return {"matches": False, "message": result.message, "facts": None}
    verdict = file_verdict(document, result)
    facts = public_facts(document)
    party = (document.context or {}).get("party")
    if isinstance(party, dict) and party.get("name"):
        facts = replace(facts, party=party["name"])  # the reader may read the document whole
    return {"matches": verdict.matches, "message": verdict.message, "facts": facts}


def _page(form, *, result: VerifyResult | None = None):
    answer = _answer(result) if result is not None else None
    return render_template("document_verification/page.html", form=form, result=result, answer=answer,
                           status_labels=STATUS_LABELS,
                           limit=size_text(current_app.config["DOCUMENT_VERIFY_MAX_BYTES"]))


def _refused(message: str, status: int):
    form = CheckFileForm(formdata=None)
    form.pdf.errors = [message]
    return _page(form), status
