"""Suggested redaction boxes for faces on material photos (a pure function of an image).

The detector is OpenCV's Haar cascades, whose trained models ship inside the
`opencv-python-headless` wheel (`cv2.data.haarcascades`): nothing is downloaded at run time and
the same detector runs on every machine. Frontal faces use `frontalface_alt2` (fewer false
alarms on walls and signs than `frontalface_default`); faces in profile use `profileface`, run a
second time on the mirrored image because that cascade finds faces turned one way only.

Detection runs on a grey copy no larger than DETECT_EDGE pixels (a 12 MP photo would take
seconds; faces that matter in a site photo stay well above MIN_FACE at this size), with the
histogram equalised so that shaded faces are found too. A Haar box covers eyes to mouth; each is
widened by MARGIN on every side so hair, ears and chin are covered as well. Boxes are returned
normalised to 0–1 of the image given, like the redaction boxes they become.

A detector is a suggestion, not a guarantee: it misses small, turned or covered faces, so the
editor still looks at every photo (the box editor says so). It recognises no one: it only says
where a face-like pattern is.
"""

from __future__ import annotations

import math
import threading

from PIL import Image

DETECT_EDGE = 640
MIN_FACE = 20  # pixels of the downscaled copy: smaller is noise at this size
SCALE_FACTOR = 1.1
MIN_NEIGHBOURS = 5  # the usual value; lower finds more faces and more wallpaper
MARGIN = 0.2
MAX_FACES = 20  # a crowd: more boxes than this are more likely noise than faces
FRONTAL = "haarcascade_frontalface_alt2.xml"
PROFILE = "haarcascade_profileface.xml"

# CascadeClassifier objects are not safe to share between threads; the web server may run several.
_local = threading.local()


class DetectorUnavailable(RuntimeError):
    """OpenCV or its cascade files are not installed."""


def _cascades():
    cascades = getattr(_local, "cascades", None)
    if cascades is None:
        try:
            import cv2
        except ImportError as exc:  # a broken install must not stop the material library
            raise DetectorUnavailable(f"OpenCV is not installed: {exc}") from None
        cascades = []
        for name in (FRONTAL, PROFILE):
            classifier = cv2.CascadeClassifier(cv2.data.haarcascades + name)
            if classifier.empty():
                raise DetectorUnavailable(f"cascade {name} not found in {cv2.data.haarcascades}")
            cascades.append(classifier)
        _local.cascades = cascades
    return cascades


def _overlap(a: tuple, b: tuple) -> float:
    """Intersection over the smaller box: a face found by two cascades counts once."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    if right <= left or bottom <= top:
        return 0.0
    return (right - left) * (bottom - top) / min(a[2] * a[3], b[2] * b[3])


def detect_faces(image: Image.Image) -> list[list[float]]:
    """Boxes [x, y, w, h] (0–1 of `image`, already oriented) around the faces found, largest first."""
    import cv2
    import numpy as np

    frontal, profile = _cascades()
    grey = image.convert("L")
    grey.thumbnail((DETECT_EDGE, DETECT_EDGE), Image.Resampling.BILINEAR)
    width, height = grey.size
    pixels = cv2.equalizeHist(np.asarray(grey))
    options = {"scaleFactor": SCALE_FACTOR, "minNeighbors": MIN_NEIGHBOURS, "minSize": (MIN_FACE, MIN_FACE)}
    found = [tuple(int(v) for v in box) for box in frontal.detectMultiScale(pixels, **options)]
    found += [tuple(int(v) for v in box) for box in profile.detectMultiScale(pixels, **options)]
    found += [(width - x - w, y, w, h) for x, y, w, h in profile.detectMultiScale(cv2.flip(pixels, 1), **options)]
    kept: list[tuple] = []
    for box in sorted(found, key=lambda b: b[2] * b[3], reverse=True):
        if all(_overlap(box, other) < 0.5 for other in kept):
            kept.append(box)
    boxes = []
    for x, y, w, h in kept[:MAX_FACES]:
        # Outwards to four decimals: rounding never uncovers an edge of the face.
        left = math.floor(max(0.0, (x - MARGIN * w) / width) * 10**4) / 10**4
        top = math.floor(max(0.0, (y - MARGIN * h) / height) * 10**4) / 10**4
        right = min(1.0, math.ceil((x + w * (1 + MARGIN)) / width * 10**4) / 10**4)
        bottom = min(1.0, math.ceil((y + h * (1 + MARGIN)) / height * 10**4) / 10**4)
        boxes.append([left, top, round(right - left, 4), round(bottom - top, 4)])
    return boxes
