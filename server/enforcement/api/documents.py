"""Official documents: metadata, the PDF, verification of a file or a hash, template previews,
and issuing the 检查记录 of a submitted inspection.

Every answer is `Cache-Control: no-store`: documents name parties, ID numbers and addresses.
"""

from __future__ import annotations

import marshmallow as ma
from flask import current_app, request, send_file
from flask_login import current_user
from flask_smorest import Blueprint

from ...access import api_auth_required, authorize
from ...errors import Invalid, PayloadTooLarge
from ...extensions import db
from .. import documents as service
from ..schemas.document import DocumentSchema, HashVerifyArgsSchema, HashVerifySchema, VerifyResultSchema

blp = Blueprint("documents", __name__, url_prefix="/api/v1", description="文书：出具、下载、核验与样稿")

ISSUER_ROLES = ("office", "enforcement", "admin")
PDF_RESPONSE = {"content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}


def _user():
    return current_user._get_current_object()


def _pdf(data: bytes, filename: str):
    from io import BytesIO

    return send_file(BytesIO(data), mimetype="application/pdf", download_name=filename)


@blp.get("/documents/<document_id>")
@api_auth_required()
@blp.response(200, DocumentSchema)
@blp.alt_response(403, response="FORBIDDEN", description="当前角色无权执行此操作")
@blp.alt_response(404, response="NOT_FOUND", description="文书不存在")
def get_document(document_id):
    """One issued document's metadata: kind, number, subject, hashes, who issued it and when."""
    authorize(_user(), "read", service.Document)
    return service.summary(service.find_document(document_id))


@blp.get("/documents/<document_id>/pdf")
@api_auth_required(*ISSUER_ROLES)
@blp.doc(responses={"200": {"description": "文书 PDF 原件", **PDF_RESPONSE}})
@blp.alt_response(404, response="NOT_FOUND", description="文书不存在")
def get_document_pdf(document_id):
    """Download the issued PDF, byte for byte as stored (office, enforcement, admin)."""
    authorize(_user(), "download", service.Document)
    document = service.find_document(document_id)
    return send_file(service.document_path(document), mimetype="application/pdf", etag=document.pdf_sha256,
                     download_name=f"{document.kind}-{document.year}-{document.serial}.pdf")


@blp.get("/documents/<document_id>/verify")
@api_auth_required()
@blp.arguments(HashVerifyArgsSchema, location="query", unknown=ma.RAISE)
@blp.response(200, HashVerifySchema)
@blp.alt_response(404, response="NOT_FOUND", description="文书不存在")
def verify_document_hash(args, document_id):
    """Check a SHA-256 against a document: the PDF file's hash or its content code.

    `genuine` is true when it matches either; `matched` says which (`pdf` or `content`).
    """
    authorize(_user(), "verify", service.Document)
    document = service.find_document(document_id)
    matched = service.verify_hash(document, args["sha256"])
    title = service.document_title(document)
    message = {"pdf": f"与{title} {document.number} 的 PDF 原件一致。",
               "content": f"与{title} {document.number} 的内容校验码一致。"}.get(
        matched, f"与{title} {document.number} 不一致：文件或校验码可能被改动。")
    return {"genuine": matched is not None, "matched": matched, "message": message, "document_id": document.id,
            "number": document.number, "kind": document.kind, "title": title}


@blp.post("/documents/verify")
@api_auth_required()
@blp.doc(requestBody={"required": True, "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}})
@blp.response(200, VerifyResultSchema)
@blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE", description="文件过大")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="请求体为空或不是 PDF")
def verify_document_file():
    """Verify a PDF (the request body): genuine, altered or unknown.

    Genuine: byte-identical to a document this server issued. Altered: it names a document but its
    bytes differ (edited, appended to, or re-saved). Unknown: it names no document issued here.
    """
    authorize(_user(), "verify", service.Document)
    limit = current_app.config["DOCUMENT_VERIFY_MAX_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"文件超过 {limit} 字节的上限。")
    data = request.get_data(cache=False)
    if len(data) > limit:
        raise PayloadTooLarge(f"文件超过 {limit} 字节的上限。")
    if not data.startswith(b"%PDF-"):
        raise Invalid("请求体须为 PDF 文件本身（以 %PDF- 开头）。")
    return service.verification_answer(service.verify_pdf(data))


@blp.get("/document-templates/<kind>/preview")
@api_auth_required(*ISSUER_ROLES)
@blp.doc(responses={"200": {"description": "样稿 PDF", **PDF_RESPONSE}})
@blp.alt_response(404, response="NOT_FOUND", description="没有这种文书")
def preview_sample(kind):
    """A preview (样稿) of a document kind from its sample data: number blank, nothing stored."""
    return _pdf(service.preview_document(kind), f"{kind}-preview.pdf")


@blp.post("/document-templates/<kind>/preview")
@api_auth_required(*ISSUER_ROLES)
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
         responses={"200": {"description": "样稿 PDF", **PDF_RESPONSE}})
@blp.alt_response(404, response="NOT_FOUND", description="没有这种文书")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="缺少法定事项（errors 逐项列出）")
def preview_context(kind):
    """A preview (样稿) of a document kind from the context in the body.

    The context is checked exactly as when the document is issued: a missing item the law
    requires is a 422 naming it.
    """
    context = request.get_json(silent=True)
    if not isinstance(context, dict):
        raise Invalid("请求体须为 JSON 对象（文书内容）。")
    return _pdf(service.preview_document(kind, context), f"{kind}-preview.pdf")


@blp.post("/inspections/<inspection_uuid>/record-document")
@api_auth_required(*ISSUER_ROLES)
@blp.response(201, DocumentSchema)
@blp.alt_response(404, response="NOT_FOUND", description="督查记录不存在")
@blp.alt_response(409, response="CONFLICT", description="尚未提交、照片未齐，或已出具检查记录（document_id）")
def issue_record(inspection_uuid):
    """Issue the 检查记录 (inspection record) of a submitted inspection with all its photos.

    One per inspection: a second request is a 409 naming the document already issued.
    """
    user = _user()
    authorize(user, "download", service.Document)
    if db.session.get_bind().dialect.name == "sqlite":
        # End the snapshot the bearer lookup opened, then wait for the write lock (take_write_lock).
        user_id = user.id
        db.session.rollback()
        service.take_write_lock()
        user = db.session.get(service.User, user_id)
    inspection = service.find_inspection(inspection_uuid)
    return service.summary(service.issue_inspection_record(inspection, user, channel="api"))
