"""QR codes drawn into a document as inline SVG.

An inline <svg> element is drawn by WeasyPrint as vector paths and needs no URL: the restricted
fetcher (fetcher.py) refuses data: URIs, and a QR code is no resource of report_templates/.
"""

from __future__ import annotations

import segno
from markupsafe import Markup

# Medium error correction: a printed page that is folded or stamped over still scans.
ERROR_CORRECTION = "m"
# The quiet zone around the symbol, in modules (2 is enough on a white page margin).
QUIET_ZONE = 2


def qr_svg(text: str, css_class: str = "qr") -> Markup:
    """The QR code of `text` as an <svg> element sized by the stylesheet (viewBox only)."""
    code = segno.make(str(text), error=ERROR_CORRECTION, micro=False)
    # segno escapes nothing it does not write itself: the element holds only numbers and the class.
    return Markup(code.svg_inline(scale=1, border=QUIET_ZONE, omitsize=True, svgclass=css_class, lineclass=None,
                                  dark="#000"))
