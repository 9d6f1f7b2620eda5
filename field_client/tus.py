"""A small tus 1.0 client (core + creation + checksum) on the standard library.

Why not tuspy: its per-chunk checksum is fixed to SHA-1 (the contract asks for SHA-256), it would
bring requests, aiohttp and tinydb onto every inspector's device, and it keeps resume state in its
own fingerprint store and treats every refusal alike, where the field client must keep the upload
URL and offset in its own SQLite store, resend a chunk on 460, start over on 422 and give up for
this run (keeping its place) on anything else. tuspy stays a test dependency: it proves that a
client that is not ours can upload to the server.

This module only speaks the protocol; `sync.upload_photo` decides what to do with each answer.
Like `http.py`, it believes only proper answers: a success without the `Tus-Resumable` header (a
captive portal's 200 page, a proxy's error page) is a failure, never progress.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request

TUS_VERSION = "1.0.0"
TIMEOUT_SECONDS = 60


class TusError(Exception):
    """A tus request that did not succeed (Chinese message); `status` is None for a network failure."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def encode_metadata(metadata: dict[str, str]) -> str:
    """Upload-Metadata: `key base64(value)` pairs, comma separated."""
    return ",".join(f"{key} {base64.b64encode(value.encode('utf-8')).decode('ascii')}"
                    for key, value in metadata.items())


def chunk_checksum(chunk: bytes) -> str:
    return "sha256 " + base64.b64encode(hashlib.sha256(chunk).digest()).decode("ascii")


class TusClient:
    def __init__(self, endpoint: str, token: str, *, timeout: float = TIMEOUT_SECONDS):
        self.endpoint = endpoint
        self.token = token
        self.timeout = timeout

    def _request(self, method: str, url: str, *, headers: dict | None = None, data: bytes | None = None):
        """(status, headers) of a successful tus answer; TusError for anything else."""
        all_headers = {"Tus-Resumable": TUS_VERSION, "Authorization": f"Bearer {self.token}",
                       "User-Agent": "anfang-field"}
        all_headers.update(headers or {})
        request = urllib.request.Request(url, data=data, headers=all_headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read(64 * 1024)  # tus answers have no body; a portal's page is discarded
                status, answer = response.status, response.headers
        except urllib.error.HTTPError as error:
            with error:
                detail = _problem_detail(error)
            raise TusError(f"上传被服务器拒绝：{detail or '请求失败'}（HTTP {error.code}）。", error.code) from None
        except (TimeoutError, urllib.error.URLError, ConnectionError, OSError, http.client.HTTPException) as error:
            reason = getattr(error, "reason", error)
            raise TusError(f"上传连接中断：{reason}。") from None
        if answer.get("Tus-Resumable") != TUS_VERSION:
            raise TusError("服务器的回答不是 tus 协议的回答（可能连上了需要登录的公共 Wi-Fi 页面）。", status)
        return status, answer

    def create(self, length: int, metadata: dict[str, str]) -> str:
        """tus creation: the new upload's absolute URL."""
        status, answer = self._request("POST", self.endpoint, headers={
            "Upload-Length": str(length), "Upload-Metadata": encode_metadata(metadata), "Content-Length": "0"},
            data=b"")
        location = answer.get("Location")
        if status != 201 or not location:
            raise TusError(f"服务器未能创建上传（HTTP {status}）。", status)
        return urllib.parse.urljoin(self.endpoint, location)

    def offset(self, url: str) -> tuple[int, int | None]:
        """tus HEAD: (bytes the server holds, declared length)."""
        status, answer = self._request("HEAD", url)
        offset = _integer(answer.get("Upload-Offset"))
        if status not in (200, 204) or offset is None:
            raise TusError(f"服务器没有给出上传偏移量（HTTP {status}）。", status)
        return offset, _integer(answer.get("Upload-Length"))

    def patch(self, url: str, offset: int, chunk: bytes) -> int:
        """tus PATCH with a SHA-256 chunk checksum: the server's new offset."""
        status, answer = self._request("PATCH", url, data=chunk, headers={
            "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream",
            "Upload-Checksum": chunk_checksum(chunk), "Content-Length": str(len(chunk))})
        new_offset = _integer(answer.get("Upload-Offset"))
        if status != 204 or new_offset is None:
            raise TusError(f"服务器对上传数据的回答不正确（HTTP {status}）。", status)
        return new_offset

    def terminate(self, url: str) -> None:
        self._request("DELETE", url)


def _integer(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None


def _problem_detail(error: urllib.error.HTTPError) -> str | None:
    content_type = error.headers.get_content_type() if error.headers else ""
    if not (content_type == "application/json" or content_type.endswith("+json")):
        return None
    try:
        answer = json.loads(error.read(64 * 1024).decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return (answer.get("detail") or answer.get("title")) if isinstance(answer, dict) else None
