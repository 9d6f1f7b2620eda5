"""Talking to the server: JSON over HTTP with the standard library (no extra dependency).

Only a JSON answer counts. Hotel and village Wi-Fi often answer any request with a 200 HTML
login page (a captive portal); taking that for a server answer would mark things as done that
never reached the server, so anything that is not JSON is an error here.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT_SECONDS = 30
# A pull of a few hundred assignments with envelopes is well under this; a portal page or a
# misdirected download is refused before it fills the phone.
MAX_ANSWER_BYTES = 32 * 2**20


class ServerError(Exception):
    """The server could not be reached or did not give the JSON answer expected (Chinese message)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def normalise_server_url(url: str) -> str:
    parsed = urllib.parse.urlsplit(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ServerError(f"服务器地址不正确：{url}（应形如 https://anfang.example.cn）")
    return urllib.parse.urlunsplit((parsed.scheme, parsed.netloc, parsed.path.rstrip("/"), "", ""))


def request_json(method: str, url: str, *, token: str | None = None, body: dict | None = None):
    """Send a request and return the decoded JSON answer; ServerError for anything else."""
    headers = {"Accept": "application/json", "User-Agent": "anfang-field"}
    data = None
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            return _decode(response.status, response.headers.get_content_type(), _read(response))
    except urllib.error.HTTPError as error:
        with error:
            raw = _read(error)
            content_type = error.headers.get_content_type() if error.headers else ""
        raise ServerError(_problem_message(error.code, content_type, raw), error.code) from None
    except (TimeoutError, urllib.error.URLError, ConnectionError, OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        raise ServerError(f"无法连接服务器 {url}：{reason}。请检查网络后重试。") from None


def _read(response) -> bytes:
    raw = response.read(MAX_ANSWER_BYTES + 1)
    if len(raw) > MAX_ANSWER_BYTES:
        raise ServerError("服务器的回答过大，已拒绝。")
    return raw


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


def _decode(status: int, content_type: str, raw: bytes):
    if not _is_json(content_type):
        raise ServerError("服务器的回答不是 JSON（可能连上了需要登录的公共 Wi-Fi 页面），本次未做任何更改。", status)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ServerError("服务器的回答无法解析，本次未做任何更改。", status) from None


def _problem_message(status: int, content_type: str, raw: bytes) -> str:
    """The server's own explanation (problem+json `detail`) when there is one."""
    detail = None
    if _is_json(content_type):
        try:
            answer = json.loads(raw.decode("utf-8"))
            if isinstance(answer, dict):
                detail = answer.get("detail") or answer.get("title")
        except (UnicodeDecodeError, ValueError):
            pass
    if status == 401:
        return f"服务器拒绝：{detail or '未登录或登录已失效'}（HTTP 401）。请重新运行 anfang-field login。"
    return f"服务器拒绝：{detail or '请求失败'}（HTTP {status}）。"
