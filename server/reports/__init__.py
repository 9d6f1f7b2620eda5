"""PDF rendering (WeasyPrint) of the official documents in report_templates/, with a restricted
url_fetcher and CJK font discovery."""

from .catalogue import KINDS, DocumentCatalogueError, document_kind, load_catalogue
from .contexts import validate_context
from .fetcher import RefusedURL, RestrictedURLFetcher, asset_url, evidence_url
from .fonts import MissingCJKFont, cjk_font_families
from .rendering import embedded_document_id, render_html, render_pdf

__all__ = [
    "KINDS", "DocumentCatalogueError", "MissingCJKFont", "RefusedURL", "RestrictedURLFetcher", "asset_url",
    "cjk_font_families", "document_kind", "embedded_document_id", "evidence_url", "load_catalogue", "render_html",
    "render_pdf", "validate_context",
]
