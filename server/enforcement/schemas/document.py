"""Schemas of the documents API."""

import marshmallow as ma
from marshmallow import fields, validate

from ...api.fields import StoredDateTime


class DocumentSchema(ma.Schema):
    id = fields.String(metadata={"description": "文书编号（UUID），印在每页页脚"})
    kind = fields.String()
    title = fields.String()
    number = fields.String(metadata={"description": "发文字号，如 金公（治）行罚决字〔2026〕123号"})
    year = fields.Integer()
    serial = fields.Integer()
    subject_type = fields.String()
    subject_id = fields.String()
    content_sha256 = fields.String(metadata={"description": "内容校验码：{kind, number, context} 规范 JSON 的 SHA-256"})
    pdf_sha256 = fields.String(metadata={"description": "PDF 原件字节的 SHA-256"})
    pdf_size = fields.Integer()
    issued_on = fields.Date()
    issued_at = StoredDateTime()
    issued_by = fields.String(allow_none=True)
    signed = fields.Boolean(metadata={"description": "PDF 原件是否加盖了出具机关的电子签章（PAdES）"})


class HashVerifyArgsSchema(ma.Schema):
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-fA-F]{64}$", error="须为 64 位十六进制 SHA-256。"))


class HashVerifySchema(ma.Schema):
    genuine = fields.Boolean()
    matched = fields.String(allow_none=True, metadata={"description": "pdf（PDF 原件）、content（内容校验码）或 null"})
    message = fields.String()
    document_id = fields.String()
    number = fields.String()
    kind = fields.String()
    title = fields.String()


class VerifiedDocumentSchema(ma.Schema):
    id = fields.String()
    kind = fields.String()
    title = fields.String()
    number = fields.String()
    issued_on = fields.Date()


class SignatureCheckSchema(ma.Schema):
    status = fields.String(metadata={"description": "valid | untrusted | wrong_organ | modified | invalid | unsigned | unreadable"})
    status_label = fields.String()
    valid = fields.Boolean(metadata={"description": "签名完好、证书链至受信任的根证书、签章机关即出具机关、签章后未被改动"})
    signer = fields.String(allow_none=True, metadata={"description": "签章证书的名称（机关）"})
    organization = fields.String(allow_none=True)
    signed_at = StoredDateTime(allow_none=True, metadata={"description": "签章时间（签章人声明的时间）"})
    message = fields.String()


class VerifyResultSchema(ma.Schema):
    status = fields.String(metadata={"description": "genuine | altered | unknown"})
    status_label = fields.String()
    genuine = fields.Boolean()
    sha256 = fields.String(metadata={"description": "所交文件的 SHA-256"})
    message = fields.String()
    document_id = fields.String(allow_none=True, metadata={"description": "文件中写明的文书编号"})
    document = fields.Nested(VerifiedDocumentSchema, allow_none=True)
    signature = fields.Nested(SignatureCheckSchema, allow_none=True, metadata={"description": "电子签章核验结果"})
