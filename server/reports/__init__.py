"""PDF rendering (WeasyPrint) of the official documents in report_templates/, with a restricted
url_fetcher and CJK font discovery."""

import weasyprint  # noqa: F401  (imported whole here, before anything else of it)
from PIL import ImageFile

# Importing WeasyPrint sets Pillow's process-wide ImageFile.LOAD_TRUNCATED_IMAGES to True. The
# evidence store must refuse a truncated photo (server/services/evidence.py decodes every upload
# to prove it is whole), so Pillow's default is restored; documents embed only re-encoded,
# complete variants and lose nothing by it.
ImageFile.LOAD_TRUNCATED_IMAGES = False

from .catalogue import KINDS, DocumentCatalogueError, document_kind, load_catalogue
from .contexts import validate_context
from .fetcher import RefusedURL, RestrictedURLFetcher, asset_url, evidence_url, material_url
from .fonts import MissingCJKFont, cjk_font_families
from .rendering import embedded_document_id, render_html, render_pdf

__all__ = [
    "KINDS", "DocumentCatalogueError", "MissingCJKFont", "RefusedURL", "RestrictedURLFetcher", "asset_url",
    "cjk_font_families", "document_kind", "embedded_document_id", "evidence_url", "load_catalogue", "material_url", "render_html",
    "render_pdf", "validate_context",
]
