"""PDF rendering (WeasyPrint) of the official documents in report_templates/, with a restricted
url_fetcher and CJK font discovery."""

import weasyprint  # noqa: F401  (imported whole here, before anything else of it)
from PIL import ImageFile

# Importing WeasyPrint sets Pillow's process-wide ImageFile.LOAD_TRUNCATED_IMAGES to True. The
# evidence store must refuse a truncated photo (server/field/photo_checks.py decodes every upload
# to prove it is whole), so Pillow's default is restored; documents embed only re-encoded,
# complete variants and lose nothing by it.
ImageFile.LOAD_TRUNCATED_IMAGES = False
