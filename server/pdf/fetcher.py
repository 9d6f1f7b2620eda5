"""The only way a document being rendered reaches anything outside its HTML (DESIGN.md §6).

Two kinds of URL are served, everything else is refused:

- `anfang-asset:<folder>/<file>`: a stylesheet or image of report_templates/ (css, svg, png,
  jpg), resolved inside that folder — `..`, absolute paths and symlinks out are refused;
- `anfang-evidence:<sha256>/<variant>`: a re-encoded evidence variant (`print`, or `public`
  for bulletins), named by its SHA-256. Originals are never embedded: they carry EXIF time and
  GPS.

- `anfang-material:<item id>/<photo position>/<boxes digest>`: the redacted image of a photo
  chosen for a bulletin's material item (boxes burned in, no EXIF/GPS); the digest names the
  boxes version, so a published bulletin's image is the one it was rendered with. Bulletins
  embed only these, never evidence by hash.
- `anfang-signature:<sha256>`: the PNG of a signature made on site, named by its SHA-256 (the
  检查记录 prints who signed with their signature).

This module checks the form of those URLs and knows no domain: what a well-formed evidence,
material or signature URL names is read by the caller's resolver
(`field.evidence_store.evidence_resolver`, `publicity.bulletin_print.material_resolver`), which
authorises the user the document is rendered for exactly as the evidence or material API (or
the record's page) would. Without a resolver all are refused.

`file:`, `http(s):`, `ftp:`, `data:` and every other scheme are refused, so a value in a
document's context (autoescaped, but still a string someone typed) cannot make the server read
its own files or call the network. Refusals are kept in `refused` and logged; WeasyPrint then
renders without the resource.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote

from weasyprint.urls import URLFetcher, URLFetcherResponse

from ..errors import Problem

log = logging.getLogger(__name__)

ASSET_SCHEME = "anfang-asset"
EVIDENCE_SCHEME = "anfang-evidence"
MATERIAL_SCHEME = "anfang-material"
SIGNATURE_SCHEME = "anfang-signature"
ASSET_SUFFIXES = {".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg",
                  ".jpeg": "image/jpeg"}
EVIDENCE_VARIANTS = ("print", "public")
_EVIDENCE = re.compile(r"^([0-9a-f]{64})/([a-z]+)$")
_MATERIAL = re.compile(r"^([1-9][0-9]{0,9})/([1-9][0-9]{0,3})/([0-9a-f]{16})$")
_SIGNATURE = re.compile(r"^([0-9a-f]{64})$")


class RefusedURL(ValueError):
    """A URL the document may not load."""


# Reads what a well-formed evidence or material URL names: resolve(scheme, parts) -> bytes, where
# parts are the URL's fields (sha256, variant), (item id, position, boxes digest) or (sha256,). It raises
# RefusedURL or a Problem (its detail becomes the refusal) when the document may not have it.
Resolver = Callable[[str, tuple[str, ...]], bytes]


def asset_url(relative: str) -> str:
    return f"{ASSET_SCHEME}:{relative}"


def evidence_url(sha256: str, variant: str = "print") -> str:
    return f"{EVIDENCE_SCHEME}:{sha256}/{variant}"


def material_url(item_id: int, position: int, digest: str) -> str:
    return f"{MATERIAL_SCHEME}:{item_id}/{position}/{digest}"


def signature_url(png_sha256: str) -> str:
    return f"{SIGNATURE_SCHEME}:{png_sha256}"


class RestrictedURLFetcher(URLFetcher):
    """Serves report assets from `templates_dir`, and evidence and material images through
    `resolve`; refuses the rest."""

    def __init__(self, templates_dir: str | Path, resolve: Resolver | None = None):
        super().__init__(allowed_protocols=(ASSET_SCHEME, EVIDENCE_SCHEME, MATERIAL_SCHEME, SIGNATURE_SCHEME))
        self.root = Path(templates_dir).resolve()
        self.resolve = resolve
        self.refused: list[str] = []
        self.served: list[str] = []

    def fetch(self, url, headers=None):
        try:
            response = self._serve(url)
        except RefusedURL as exc:
            self.refused.append(url)
            log.warning("document rendering refused %.200s: %s", url, exc)
            raise
        self.served.append(url)
        return response

    def _serve(self, url: str) -> URLFetcherResponse:
        scheme, _, rest = str(url).partition(":")
        if scheme == ASSET_SCHEME:
            return self._asset(unquote(rest))
        if scheme == EVIDENCE_SCHEME:
            return self._evidence(rest)
        if scheme == MATERIAL_SCHEME:
            return self._material(rest)
        if scheme == SIGNATURE_SCHEME:
            return self._signature(rest)
        raise RefusedURL("只允许本系统的文书样式资源和证据照片")

    def _asset(self, relative: str) -> URLFetcherResponse:
        if not relative or relative.startswith(("/", "\\")) or "\\" in relative or "\x00" in relative:
            raise RefusedURL("资源路径必须是模板目录内的相对路径")
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root):
            raise RefusedURL("资源路径超出模板目录")
        media_type = ASSET_SUFFIXES.get(path.suffix.lower())
        if media_type is None:
            raise RefusedURL("只允许样式表和图片资源")
        if not path.is_file():
            raise RefusedURL("资源不存在")
        return URLFetcherResponse(url=asset_url(relative), body=path.read_bytes(),
                                  headers={"Content-Type": media_type})

    def _evidence(self, rest: str) -> URLFetcherResponse:
        match = _EVIDENCE.match(rest)
        if match is None or match[2] not in EVIDENCE_VARIANTS:
            raise RefusedURL("证据照片须以 SHA-256 和派生图名称（print 或 public）指定")
        body = self._resolved(EVIDENCE_SCHEME, (match[1], match[2]))
        return URLFetcherResponse(url=evidence_url(match[1], match[2]), body=body,
                                  headers={"Content-Type": mimetypes.types_map[".jpg"]})

    def _material(self, rest: str) -> URLFetcherResponse:
        match = _MATERIAL.match(rest)
        if match is None:
            raise RefusedURL("材料图片须以材料编号、照片序号和遮挡版本指定")
        body = self._resolved(MATERIAL_SCHEME, (match[1], match[2], match[3]))
        return URLFetcherResponse(url=f"{MATERIAL_SCHEME}:{rest}", body=body,
                                  headers={"Content-Type": mimetypes.types_map[".jpg"]})

    def _signature(self, rest: str) -> URLFetcherResponse:
        match = _SIGNATURE.match(rest)
        if match is None:
            raise RefusedURL("签名图片须以 SHA-256 指定")
        body = self._resolved(SIGNATURE_SCHEME, (match[1],))
        return URLFetcherResponse(url=signature_url(match[1]), body=body, headers={"Content-Type": "image/png"})

    def _resolved(self, scheme: str, parts: tuple[str, ...]) -> bytes:
        if self.resolve is None:
            raise RefusedURL("该文书不能引用照片")
        try:
            return self.resolve(scheme, parts)
        except Problem as exc:
            raise RefusedURL(exc.detail) from None
