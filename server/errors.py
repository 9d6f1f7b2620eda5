"""Errors as RFC 9457 problem details for the API, and as Chinese pages for the web.

Services raise `Problem` subclasses; the handlers below turn them (and every HTTP or unexpected
error) into `application/problem+json` under /api/ so that clients never see a traceback.
"""

from __future__ import annotations

import logging

from flask import jsonify, render_template, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from .api.messages import translate, translate_all, use_chinese_messages
from .observability.request_id import current_request_id

log = logging.getLogger(__name__)

# Before any schema class exists (server/__init__.py imports this module first): fields copy their
# messages when they are created, so switching later would leave them English.
use_chinese_messages()

# Plain HTTP errors use "about:blank" (RFC 9457 §4.2.1); domain problems name their kind.
PROBLEM_TYPE_BASE = "urn:anfang:problem:"

TITLES = {
    400: "请求无效",
    401: "需要登录",
    403: "无权访问",
    404: "未找到",
    405: "方法不允许",
    409: "状态冲突",
    413: "内容过大",
    415: "不支持的媒体类型",
    422: "内容校验失败",
    429: "请求过于频繁",
    500: "服务器内部错误",
    503: "服务器繁忙",
}

# Seconds a client is asked to wait when the database stayed locked for the whole busy timeout.
BUSY_RETRY_AFTER = 2


class Problem(Exception):
    """A domain error carrying what the problem+json answer says."""

    status = 400
    slug = "bad-request"
    default_title: str | None = None  # a subclass's own title, where the status's is too generic

    def __init__(self, detail: str, *, errors: dict | None = None, title: str | None = None, **extra):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.title = title or self.default_title or TITLES.get(self.status, "错误")
        self.extra = extra


class NotFound(Problem):
    status = 404
    slug = "not-found"


class Forbidden(Problem):
    status = 403
    slug = "forbidden"


class Unauthorized(Problem):
    status = 401
    slug = "unauthorized"


class Conflict(Problem):
    status = 409
    slug = "conflict"


class Invalid(Problem):
    status = 422
    slug = "invalid"


class BadRequest(Problem):
    """A request malformed below the body schema (headers, raw bodies)."""

    status = 400
    slug = "bad-request"


class PayloadTooLarge(Problem):
    status = 413
    slug = "payload-too-large"


class UnsupportedMediaType(Problem):
    status = 415
    slug = "unsupported-media-type"


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def problem_response(status: int, *, detail: str, title: str | None = None, slug: str | None = None,
                     errors: dict | None = None, headers=None, **extra):
    body = {
        "type": PROBLEM_TYPE_BASE + slug if slug else "about:blank",
        "title": title or TITLES.get(status, "错误"),
        "status": status,
        "detail": translate(detail),
        "instance": request.path,
        # Quoted by the person who got this answer, it finds every log line of the request.
        "request_id": current_request_id(),
    }
    if errors:
        # webargs words its own messages ("Invalid JSON body."), past marshmallow's defaults.
        body["errors"] = translate_all(errors)
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    if headers:
        response.headers.extend(headers)
    return response


DEFAULT_DETAILS = {
    400: "请求格式不正确。",
    401: "请先登录或提供有效的访问令牌。",
    403: "当前账号无权执行此操作。",
    404: "请求的资源不存在。",
    405: "该地址不支持此请求方法。",
    413: "上传内容超过大小限制。",
    415: "不支持该内容类型。",
    422: "请求内容未通过校验，请查看 errors 中各字段的说明。",
    429: "请求过于频繁，请稍后再试。",
    500: "服务器处理请求时出错，已记录，请稍后重试。",
    503: "服务器繁忙，请稍后重试。",
}


def _field_errors(data: dict) -> dict | None:
    """webargs puts {location: {field: [messages]}} in data['messages']; flatten the locations."""
    if isinstance(data.get("errors"), dict):
        return data["errors"]
    messages = data.get("messages")
    if not isinstance(messages, dict):
        return None
    flat: dict = {}
    for location_errors in messages.values():
        if isinstance(location_errors, dict):
            flat.update(location_errors)
        else:
            flat.setdefault("_schema", []).extend(location_errors)
    return flat


def _detail(exc: HTTPException, data: dict) -> str:
    if data.get("message"):
        return str(data["message"])
    # Werkzeug's stock English descriptions are replaced by Chinese ones; custom ones are kept.
    stock = type(exc).description
    if exc.description and exc.description != stock:
        return str(exc.description)
    return DEFAULT_DETAILS.get(exc.code or 500, str(stock or ""))


def handle_http_exception(exc: HTTPException):
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    detail = _detail(exc, data)
    if is_api_request():
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() not in ("content-type", "content-length")]
        headers.extend((data.get("headers") or {}).items())
        return problem_response(status, detail=detail, errors=_field_errors(data), headers=headers)
    return render_template("error.html", status=status, title=TITLES.get(status, exc.name), detail=detail), status


def handle_problem(exc: Problem):
    if is_api_request():
        return problem_response(exc.status, detail=exc.detail, title=exc.title, slug=exc.slug,
                                errors=exc.errors, **exc.extra)
    return render_template("error.html", status=exc.status, title=exc.title, detail=exc.detail), exc.status


def _database_busy(exc: Exception) -> bool:
    """SQLite gave up waiting for its write lock: a moment of contention, not a fault."""
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


def handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    if _database_busy(exc):
        # Nothing was written (the transaction rolls back); the client retries, as for any 503.
        log.warning("database busy on %s %s", request.method, request.path)
        detail = "数据库正忙，本次请求未保存任何内容，请稍后重试。"
        headers = {"Retry-After": str(BUSY_RETRY_AFTER)}
        if is_api_request():
            return problem_response(503, detail=detail, slug="database-busy", headers=headers)
        return render_template("error.html", status=503, title=TITLES[503], detail=detail), 503, headers
    log.exception("unhandled error on %s %s", request.method, request.path)
    return handle_http_exception(InternalServerError())


def register_error_handlers(app) -> None:
    app.register_error_handler(Problem, handle_problem)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
