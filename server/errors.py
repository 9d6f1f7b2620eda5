"""Errors as RFC 9457 problem details for the API, and as Chinese pages for the web.

Services raise `Problem` subclasses; the handlers below turn them (and every HTTP or unexpected
error) into `application/problem+json` under /api/ so that clients never see a traceback.
"""

from __future__ import annotations

import logging

from flask import current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "https://anfang.invalid/problems/"

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
}


class Problem(Exception):
    """A domain error carrying what the problem+json answer says."""

    status = 400
    slug = "bad-request"

    def __init__(self, detail: str, *, errors: dict | None = None, title: str | None = None, **extra):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.title = title or TITLES.get(self.status, "错误")
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


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def problem_response(status: int, *, detail: str, title: str | None = None, slug: str | None = None,
                     errors: dict | None = None, headers=None, **extra):
    body = {
        "type": PROBLEM_TYPE_BASE + (slug or str(status)),
        "title": title or TITLES.get(status, "错误"),
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    if headers:
        response.headers.extend(headers)
    return response


def _field_errors(exc: HTTPException) -> dict | None:
    """webargs puts {location: {field: [messages]}} in exc.data['messages']; flatten locations."""
    data = getattr(exc, "data", None) or {}
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


def handle_problem(exc: Problem):
    if is_api_request():
        return problem_response(exc.status, detail=exc.detail, title=exc.title, slug=exc.slug,
                                errors=exc.errors, **exc.extra)
    return render_template("error.html", status=exc.status, title=exc.title, detail=exc.detail), exc.status


def handle_http_exception(exc: HTTPException):
    status = exc.code or 500
    if is_api_request():
        errors = _field_errors(exc)
        detail = exc.description if status != 422 else "请求内容未通过校验，请查看 errors 中各字段的说明。"
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() not in ("content-type", "content-length")]
        return problem_response(status, detail=str(detail), errors=errors, headers=headers)
    return render_template("error.html", status=status, title=TITLES.get(status, exc.name),
                           detail=exc.description), status


def handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    if current_app.config.get("PROPAGATE_UNEXPECTED"):
        raise exc
    return handle_http_exception(InternalServerError("服务器处理请求时出错，已记录，请稍后重试。"))


def register_error_handlers(app) -> None:
    app.register_error_handler(Problem, handle_problem)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
