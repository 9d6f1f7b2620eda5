"""Redaction boxes and redacted images of the material library's photos.

Propaganda sees an item's masked text and redacted images only (DESIGN.md §6). A redacted image
is made from the original with its EXIF orientation applied (as the variants are), scaled to the
public size, the item's rectangles filled solid into the pixels, and re-encoded as a JPEG with no
EXIF, GPS or ICC data. It is stored under EVIDENCE_DIR/redacted/ named by the original's SHA-256
and the digest of the boxes: changing the boxes makes a new file, and a published bulletin keeps
the one it embedded. It is reached through the item and the photo's position, never by the
original's SHA-256.

Suggested face boxes (decision): when a photo is attached to an item, a face detector
(server/publicity/faces.py) proposes a box for every face it finds, stored among the photo's
boxes as {"x", "y", "w", "h", "suggested": true}. Suggested boxes count as masked from the start
— they are burned into the redacted image like any other — and the editor removes those that
cover no face, moves or resizes the others; saving the photo's boxes confirms what remains. A
propaganda office expects a photo to leave the building with faces covered unless someone
decided to show one: a forgotten confirmation must not publish a face, while a needless box
costs only a black patch someone can delete. A failing detector never stops an item: it is
logged and the photo simply has no suggestions. Plates are not detected.

This module knows the library's photos (MaterialPhoto) but not the library: which items exist,
who may see them and how they are reviewed is server/publicity/materials.py, which uses it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from ..access import authorize
from ..accounts.models.user import User
from ..audit.chain import record_event
from ..columns import utcnow
from ..errors import Invalid, NotFound
from ..extensions import db
from ..field.evidence_store import VARIANTS, _flattened, evidence_root, write_durably
from ..field.models.inspection import Photo
from ..field.photo_checks import MEDIA_TYPES
from .faces import DETECT_EDGE, DetectorUnavailable, detect_faces
from .models.material import MaterialItem, MaterialPhoto

log = logging.getLogger(__name__)

REDACTED_DIR = "redacted"
REDACTED_EDGE = VARIANTS["public"]
REDACTED_QUALITY = 85
FILL = (0, 0, 0)
ORIENTATION = 0x0112
MAX_BOXES = 50


def normalise_boxes(boxes) -> list[list[float]]:
    """[[x, y, w, h], …] in 0–1 of the oriented image; each box inside the image, not empty."""
    if not isinstance(boxes, list) or len(boxes) > MAX_BOXES:
        raise Invalid(f"遮挡框须为列表，至多 {MAX_BOXES} 个。", errors={"boxes": ["格式不正确。"]})
    clean = []
    for n, box in enumerate(boxes, start=1):
        if isinstance(box, dict):
            box = [box.get("x"), box.get("y"), box.get("w"), box.get("h")]
        if (not isinstance(box, (list, tuple)) or len(box) != 4
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in box)):
            raise Invalid("遮挡框须为 [x, y, 宽, 高] 四个数。", errors={"boxes": [f"第 {n} 个遮挡框格式不正确。"]})
        x, y, w, h = (round(float(v), 6) for v in box)
        if not (0 <= x < 1 and 0 <= y < 1 and w > 0 and h > 0 and x + w <= 1.000001 and y + h <= 1.000001):
            raise Invalid("遮挡框须在图片范围内（0–1 的相对坐标）且不为空。",
                          errors={"boxes": [f"第 {n} 个遮挡框超出图片范围或为空。"]})
        # Rounded again: 1 - x carries float noise (1 - 0.5833 = 0.41669999999999996), and the
        # redacted file is named by these numbers, so a box saved unchanged must keep them exactly.
        clean.append([x, y, round(min(w, 1 - x), 6), round(min(h, 1 - y), 6)])
    return clean


def rectangles(boxes: list) -> list[list[float]]:
    """Every stored box as [x, y, w, h], suggested or confirmed alike: all of them are masked."""
    return [[box["x"], box["y"], box["w"], box["h"]] if isinstance(box, dict) else list(box) for box in boxes]


def suggested_boxes(boxes: list) -> list[list[float]]:
    """The boxes the face detector proposed that nobody has confirmed yet."""
    return [[box["x"], box["y"], box["w"], box["h"]] for box in boxes if isinstance(box, dict) and box.get("suggested")]


def boxes_digest(boxes: list) -> str:
    """Names the redacted file by what is burned in: confirming a suggestion unchanged keeps the file."""
    return hashlib.sha256(json.dumps(rectangles(boxes), separators=(",", ":")).encode()).hexdigest()[:16]


def find_material_photo(item: MaterialItem, position) -> MaterialPhoto:
    try:
        index = int(position)
    except (TypeError, ValueError):
        index = 0
    for entry in item.photos:
        if entry.position == index:
            return entry
    raise NotFound("该典型材料没有这张照片。")


def set_boxes(item: MaterialItem, position, boxes, *, actor: User, channel: str = "api") -> MaterialPhoto:
    """Replace the rectangles of one chosen photo (office or propaganda)."""
    authorize(actor, "manage", item)
    entry = find_material_photo(item, position)
    clean = normalise_boxes(boxes)
    if clean == entry.boxes:
        return entry
    entry.boxes = clean
    entry.boxes_version += 1
    entry.boxes_updated_by_id, entry.boxes_updated_at = actor.id, utcnow()
    db.session.flush()
    prepare_redacted([entry])
    record_event("material.boxes_set", actor=actor, channel=channel, object_type="material_item", object_id=item.id,
                 details={"position": entry.position, "boxes": clean, "version": entry.boxes_version})
    return entry


def redacted_relative(sha256: str, digest: str) -> str:
    return f"{REDACTED_DIR}/{sha256[:2]}/{sha256}/{digest}.jpg"


def _oriented(original: Path, edge: int) -> Image.Image:
    """The original decoded, EXIF orientation applied, flattened to RGB, at least `edge` px on its
    longer side where the original is that large.

    JPEG originals are decoded at the smallest DCT scale that still gives `edge` (a 12 MP photo
    decodes at half size for the public size, four times less work)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(original, formats=list(MEDIA_TYPES)) as image:
            if image.format == "JPEG":
                scale = edge / max(image.size)
                if scale < 1:
                    image.draft("RGB", (math.ceil(image.width * scale), math.ceil(image.height * scale)))
            image.load()
            # exif_transpose copies the whole image even when there is nothing to turn.
            turned = image.getexif().get(ORIENTATION, 1) not in (None, 1)
            return _flattened(ImageOps.exif_transpose(image) if turned else image)


def redact_image(original: Path, boxes: list) -> bytes:
    """The public image with `boxes` filled solid: oriented, ≤ 1280 px, JPEG without metadata."""
    try:
        flat = _oriented(original, REDACTED_EDGE)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise Invalid(f"原图无法解码，不能生成遮挡图：{exc}") from None
    flat.thumbnail((REDACTED_EDGE, REDACTED_EDGE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    draw = ImageDraw.Draw(flat)
    width, height = flat.size
    for x, y, w, h in rectangles(boxes):
        # Outwards to whole pixels: a box never leaves a sliver of what it covers.
        left, top = math.floor(x * width), math.floor(y * height)
        right, bottom = math.ceil((x + w) * width) - 1, math.ceil((y + h) * height) - 1
        draw.rectangle((left, top, max(left, right), max(top, bottom)), fill=FILL)
    flat.info = {}
    buffer = BytesIO()
    flat.save(buffer, "JPEG", quality=REDACTED_QUALITY, exif=b"")
    return buffer.getvalue()


def _faces_in(original: Path) -> list[list[float]]:
    try:
        return normalise_boxes(detect_faces(_oriented(original, DETECT_EDGE)))
    except DetectorUnavailable as exc:
        log.warning("face detection unavailable: %s", exc)
    except Exception:  # a suggestion must never stop an item from being made
        log.exception("face detection failed on %s", original.name)
    return []


def suggest_face_boxes(photos: list[Photo]) -> dict[int, list[list[float]]]:
    """Face boxes [x, y, w, h] (0–1 of the oriented image) per photo id; none where detection fails.

    Several photos at once: OpenCV and Pillow's decoder run without the GIL. The database is read
    here, never in the worker threads."""
    work = [(photo.id, evidence_root() / photo.evidence_file.stored_path)
            for photo in photos if photo.evidence_file is not None]
    if not work:
        return {}
    if len(work) == 1:
        return {work[0][0]: _faces_in(work[0][1])}
    with ThreadPoolExecutor(max_workers=min(len(work), os.cpu_count() or 1, 4)) as pool:
        found = list(pool.map(lambda job: _faces_in(job[1]), work))
    return {photo_id: boxes for (photo_id, _), boxes in zip(work, found, strict=True)}


def prepare_redacted(entries: list[MaterialPhoto]) -> None:
    """Make the missing redacted images of `entries` for their current boxes, several at once.

    Called when boxes are saved and when an item is approved, so that publishing a bulletin
    finds its images ready. Decoding and encoding run in Pillow's C code without the GIL; the
    database is read here, never in the worker threads."""
    work = []
    for entry in entries:
        evidence = entry.photo.evidence_file
        if evidence is None:
            continue
        target = evidence_root() / redacted_relative(evidence.sha256, boxes_digest(entry.boxes))
        if not target.exists():
            work.append((evidence_root() / evidence.stored_path, list(entry.boxes), target))
    if not work:
        return

    def make(job) -> None:
        original, boxes, target = job
        write_durably(redact_image(original, boxes), target)

    if len(work) == 1:
        make(work[0])
        return
    with ThreadPoolExecutor(max_workers=min(len(work), os.cpu_count() or 1, 4)) as pool:
        list(pool.map(make, work))


def redacted_file(entry: MaterialPhoto, digest: str | None = None) -> Path:
    """The redacted image of `entry` for its current boxes (made if missing), or for an earlier
    boxes digest if that file exists (a bulletin rendered with it)."""
    evidence = entry.photo.evidence_file
    if evidence is None:
        raise NotFound("照片文件不存在。")
    current = boxes_digest(entry.boxes)
    path = evidence_root() / redacted_relative(evidence.sha256, digest or current)
    if path.exists():
        return path
    if digest is not None and digest != current:
        raise NotFound("该遮挡版本的图片不存在。")
    write_durably(redact_image(evidence_root() / evidence.stored_path, entry.boxes), path)
    return path
