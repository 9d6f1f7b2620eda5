"""tus 1.0 photo uploads at /api/v1/uploads/: core, creation, checksum, termination, expiration.

Raw Flask views, because tus speaks in headers and octet streams rather than JSON bodies; any
tus client (tus-js-client, tuspy, TUSKit) can upload. The service does the work; see
`server.field.uploads` for why PATCH commits inside its file lock. Every answer, errors
included, carries `Tus-Resumable`.
"""

from flask import current_app, make_response, request
from flask_login import current_user
from flask_smorest import Blueprint
from sqlalchemy.exc import InvalidRequestError
from werkzeug.http import http_date

from ...access import api_auth_required
from ...api.problem import ProblemSchema
from ...errors import NotFound, problem_response
from ...extensions import db
from .. import uploads as service
from ..upload_problems import KeptProblem

blp = Blueprint("uploads", __name__, url_prefix="/api/v1/uploads", description="照片上传（tus 1.0 可续传协议）")

UPLOADER_ROLES = ("inspector", "office", "admin")


@blp.before_request
def _require_tus_version():
    # OPTIONS is how a client discovers the version, so it alone may come without one.
    if request.method != "OPTIONS" and request.headers.get("Tus-Resumable") != service.TUS_VERSION:
        return problem_response(412, title="协议版本不符", slug="tus-version",
                                detail=f"请求头 Tus-Resumable 必须为 {service.TUS_VERSION}。",
                                headers={"Tus-Version": service.TUS_VERSION})
    return None


@blp.after_request
def _tus_headers(response):
    response.headers["Tus-Resumable"] = service.TUS_VERSION
    return response


def _user():
    return current_user._get_current_object()


def _reread(upload) -> None:
    """Read the row again now that the file lock is ours: a request that held it before may
    have completed or terminated the upload. Committing first ends the transaction whose
    snapshot (SQLite) predates that; it holds only the token's last-use time."""
    db.session.commit()
    try:
        db.session.refresh(upload)
    except InvalidRequestError:  # terminated or cleaned meanwhile
        raise NotFound("上传不存在。") from None


def _expires(expires_at) -> dict:
    return {} if expires_at is None else {"Upload-Expires": http_date(expires_at)}


def _empty(status: int, headers: dict):
    response = make_response("", status)
    del response.headers["Content-Type"]  # tus answers have no body
    response.headers.update(headers)
    return response


@blp.route("/", methods=["OPTIONS"], strict_slashes=False)
@blp.doc(responses={"204": {"description": "协议信息在响应头中（Tus-Version、Tus-Extension、Tus-Max-Size 等）"}})
def discover():
    """tus discovery: protocol version, extensions, checksum algorithms and the size limit."""
    return _empty(204, {
        "Tus-Version": service.TUS_VERSION,
        "Tus-Extension": service.TUS_EXTENSIONS,
        "Tus-Checksum-Algorithm": ",".join(service.CHECKSUM_ALGORITHMS),
        "Tus-Max-Size": str(current_app.config["MAX_UPLOAD_BYTES"]),
    })


@blp.route("/", methods=["POST"], strict_slashes=False)
@api_auth_required(*UPLOADER_ROLES)
@blp.doc(responses={"201": {"description": "已创建，Location 为上传地址"}})
@blp.alt_response(400, response="BAD_REQUEST", description="tus 请求头缺失或格式不正确，或连接中断")
@blp.alt_response(412, response="PRECONDITION_FAILED", description="缺少 Tus-Resumable: 1.0.0 请求头")
@blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE", description="文件超过大小上限")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY", description="文件为空、缺少 sha256 或文件名不合规")
def create():
    """tus creation: Upload-Length and Upload-Metadata (sha256 required; filename, filetype).

    Answers 201 with the upload's Location; 413 above the size limit.
    """
    upload = service.create_upload(_user(), length_header=request.headers.get("Upload-Length"),
                                   metadata_header=request.headers.get("Upload-Metadata"))
    return _empty(201, {"Location": f"{blp.url_prefix}/{upload.id}", "Upload-Offset": "0",
                        **_expires(service.upload_progress(upload).expires_at)})


@blp.route("/<upload_id>", methods=["HEAD"])
@api_auth_required(*UPLOADER_ROLES)
@blp.doc(responses={"200": {"description": "Upload-Offset 为服务器已接收的字节数"}})
@blp.alt_response(404, response="NOT_FOUND", description="上传不存在")
@blp.alt_response(410, response="GONE", description="上传已过期")
@blp.alt_response(412, response="PRECONDITION_FAILED", description="缺少 Tus-Resumable: 1.0.0 请求头")
@blp.alt_response(423, response="LOCKED", description="该上传正由另一个请求写入")
def status(upload_id):
    """tus HEAD: how many bytes the server holds (Upload-Offset), to resume from there."""
    upload = service.find_upload(upload_id, _user())
    with service.settled_upload(upload) as waited:
        if waited:
            _reread(upload)
        progress = service.upload_progress(upload)
    return _empty(200, {"Upload-Offset": str(progress.offset), "Upload-Length": str(upload.upload_length),
                        **_expires(progress.expires_at)})


@blp.route("/<upload_id>", methods=["PATCH"])
@api_auth_required(*UPLOADER_ROLES)
@blp.doc(responses={"204": {"description": "已接收，Upload-Offset 为新的偏移量"}})
@blp.alt_response(400, response="BAD_REQUEST", description="tus 请求头缺失或格式不正确，或连接中断")
@blp.alt_response(404, response="NOT_FOUND", description="上传不存在")
@blp.alt_response(409, response="CONFLICT", description="Upload-Offset 与已接收的字节数不符，或上传已完成")
@blp.alt_response(410, response="GONE", description="上传已过期")
@blp.alt_response(412, response="PRECONDITION_FAILED", description="缺少 Tus-Resumable: 1.0.0 请求头")
@blp.alt_response(413, response="REQUEST_ENTITY_TOO_LARGE", description="数据超过声明的长度")
@blp.alt_response(415, response="UNSUPPORTED_MEDIA_TYPE",
                  description="Content-Type 不是 application/offset+octet-stream")
@blp.alt_response(422, response="UNPROCESSABLE_ENTITY",
                  description="文件与声明的 SHA-256 不符或不是允许的照片，上传已删除")
@blp.alt_response(423, response="LOCKED", description="该上传正由另一个请求写入")
# 460 is tus's own status (checksum extension): no shared response component names it.
@blp.alt_response(460, schema=ProblemSchema, content_type="application/problem+json",
                  description="本块数据的校验和不符")
@blp.alt_response(507, response="INSUFFICIENT_STORAGE", description="服务器存储空间不足")
def append(upload_id):
    """tus PATCH: bytes at Upload-Offset (409 if it differs), optional Upload-Checksum (460).

    The chunk that completes the file is verified against the declared SHA-256 and the image
    rules; if refused (422) the upload is deleted and the client uploads again.
    """
    # What this request read stays valid across the commit before the body: writers of this
    # upload queue behind its file lock. Reloading would cost a query and a transaction per chunk.
    db.session().expire_on_commit = False
    upload = service.find_upload(upload_id, _user())
    with service.locked_upload_file(upload) as handle:
        if handle is None:  # completed, terminated or lost while this request waited
            _reread(upload)
        try:
            offset = service.receive_chunk(upload, handle, offset_header=request.headers.get("Upload-Offset"),
                                           content_type=request.headers.get("Content-Type"),
                                           checksum_header=request.headers.get("Upload-Checksum"),
                                           stream=request.stream, content_length=request.content_length,
                                           before_body=db.session.commit)
        except KeptProblem:
            # What the service did on disk is done: keep the rows that describe it.
            db.session.commit()
            raise
        # A completion is committed under the file lock, so the next PATCH on this upload sees it.
        db.session.commit()
    return _empty(204, {"Upload-Offset": str(offset), **_expires(service.upload_progress(upload).expires_at)})


@blp.route("/<upload_id>", methods=["DELETE"])
@api_auth_required(*UPLOADER_ROLES)
@blp.doc(responses={"204": {"description": "上传已删除"}})
@blp.alt_response(404, response="NOT_FOUND", description="上传不存在")
@blp.alt_response(410, response="GONE", description="上传已过期")
@blp.alt_response(412, response="PRECONDITION_FAILED", description="缺少 Tus-Resumable: 1.0.0 请求头")
@blp.alt_response(423, response="LOCKED", description="该上传正由另一个请求写入")
def terminate(upload_id):
    """tus termination: the upload and its partial bytes are removed (stored evidence stays)."""
    upload = service.find_upload(upload_id, _user())
    with service.locked_upload_file(upload):
        _reread(upload)
        service.terminate_upload(upload)
        db.session.commit()
    return _empty(204, {})
