"""HTML → PDF: Jinja (autoescaped) over report_templates/, then WeasyPrint with the restricted
URL fetcher. The caller gives the validated context; this module adds nothing to it."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import jinja2
import pydyf
from flask import current_app

from .chinese_numbers import FILTERS as CHINESE_NUMBER_FILTERS
from .chinese_numbers import chinese_date
from .fetcher import Resolver, RestrictedURLFetcher, asset_url
from .fonts import cjk_font_families, font_configuration
from .qr import qr_svg

# Written into the PDF's Info dictionary, which is kept out of compressed object streams so that
# a verifier finds it in the raw bytes (and qpdf keeps it there when it re-saves a file).
INFO_DOCUMENT_ID = "AnfangDocumentId"
INFO_CONTENT_SHA256 = "AnfangContentSha256"


class _PlainDictionary(pydyf.Dictionary):
    compressible = False


def templates_dir() -> Path:
    return Path(current_app.config["REPORT_TEMPLATES_DIR"])


def cn_date(value) -> str:
    """成文日期 in Arabic numerals (GB/T 9704-2012 §7.3.5.4), e.g. 2026年11月28日 (Beijing)."""
    return chinese_date(value)


def book_title(law: str) -> str:
    """A law's name in 书名号, whether or not it was typed with them."""
    law = law.strip()
    return law if law.startswith("《") else f"《{law}》"


@lru_cache(maxsize=4)
def _environment(directory: str) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True,  # every value is text a person typed; none of it is markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    from .charts import bar_chart, day_chart

    environment.filters.update(cn_date=cn_date, book_title=book_title,
                               bar_chart=bar_chart, day_chart=day_chart, qr_svg=qr_svg)
    environment.filters.update(CHINESE_NUMBER_FILTERS)  # rmb, percent, cn_datetime, …
    environment.globals["asset"] = asset_url
    return environment


def render_html(kind: str, *, doc: dict, ctx: dict) -> str:
    return _environment(str(templates_dir())).get_template(f"{kind}/template.html").render(doc=doc, ctx=ctx)


def render_pdf(kind: str, *, doc: dict, ctx: dict, resolve: Resolver | None = None) -> bytes:
    """The PDF of one document. `doc`: kind, title, number, id, content_sha256, authority_mark,
    draft, and for an issued enforcement document verification_code and verification_url (its
    footer's QR code); `resolve` reads the photos it embeds (see fetcher). Refuses
    (MissingCJKFont) before anything is rendered when no Chinese font exists. Rendered with the
    fonts of REPORT_FONTCONFIG_FILE (the system's plus FandolFang, see fonts.py)."""
    from weasyprint import HTML

    fontconfig_file = current_app.config.get("REPORT_FONTCONFIG_FILE")
    cjk_font_families(fontconfig_file)
    html = render_html(kind, doc=doc, ctx=ctx)
    fetcher = RestrictedURLFetcher(templates_dir(), resolve)

    def finisher(_document, pdf):
        info = _PlainDictionary(pdf.info)
        if doc.get("id"):
            info[INFO_DOCUMENT_ID] = pydyf.String(doc["id"])
            info[INFO_CONTENT_SHA256] = pydyf.String(doc["content_sha256"])
        pdf.info = info

    return HTML(string=html, base_url=None, url_fetcher=fetcher).write_pdf(
        finisher=finisher, font_config=font_configuration(fontconfig_file))


_INFO_ID = re.compile(rb"/" + INFO_DOCUMENT_ID.encode() + rb"\s*\(([0-9a-f-]{36})\)")


def embedded_document_id(data: bytes) -> str | None:
    """The document id written into a PDF's Info dictionary, found in its raw bytes, or None."""
    matches = _INFO_ID.findall(data)
    return matches[-1].decode() if matches else None
