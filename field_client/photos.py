"""Photo capture: the original bytes kept untouched as evidence, copied crash-safely into the store.

Order matters for a dead battery: the file is written under a temporary name, fsynced, renamed to
its content address (`<sha256>.<ext>`) and the directory fsynced; only then does one transaction
add the photo row and its outbox operation. A crash before the commit leaves at most a file that
no row names (an orphan, reported and cleaned by `status`), never a row without its file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
import warnings
from pathlib import Path

from PIL import ExifTags, Image, UnidentifiedImageError

from .store import fsync_directory

try:  # HEIC (iPhone photos) opens only when pillow-heif is installed.
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - depends on the device's installation
    pass

# Pillow format name -> (stored extension, media type).
ALLOWED_FORMATS = {"JPEG": ("jpg", "image/jpeg"), "PNG": ("png", "image/png"), "HEIF": ("heic", "image/heic")}
TEMPORARY_PREFIX = ".incoming-"
CHUNK = 2**20
# An orphan younger than this may belong to a `photo` command still running in another shell.
ORPHAN_GRACE_SECONDS = 300


class PhotoError(ValueError):
    """A file that cannot be taken as a photo (Chinese message)."""


def inspect_image(path: Path) -> tuple[str, str, dict]:
    """(extension, media type, EXIF facts) of an allowed image; PhotoError otherwise."""
    try:
        # A decompression bomb must be refused, not merely warned about.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image_format = image.format
                if image_format not in ALLOWED_FORMATS:
                    raise PhotoError(f"{path.name}：不支持的图片格式 {image_format}，只接受 JPEG、PNG、HEIC 照片。")
                facts = _exif_facts(image.getexif())
                # Decode once: a photo truncated by a failing card is caught here, at the site,
                # while it can still be taken again.
                image.load()
    except PhotoError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise PhotoError(f"{path.name}：图片尺寸异常巨大，已拒绝。") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise PhotoError(f"{path.name}：不是可识别的图片文件（只接受 JPEG、PNG、HEIC 照片）。") from None
    extension, media_type = ALLOWED_FORMATS[image_format]
    return extension, media_type, facts


def copy_into_store(source: Path, photos_dir: Path, extension: str) -> tuple[str, int, str]:
    """Copy `source` byte for byte into `photos_dir` durably; (sha256, size, stored filename)."""
    digest = hashlib.sha256()
    size = 0
    temporary = photos_dir / f"{TEMPORARY_PREFIX}{os.getpid()}-{time.monotonic_ns()}"
    try:
        with source.open("rb") as reader, open(temporary, "xb") as writer:
            while chunk := reader.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
                writer.write(chunk)
            writer.flush()
            os.fsync(writer.fileno())
        filename = f"{digest.hexdigest()}.{extension}"
        # Same bytes, same name: replacing an identical earlier copy changes nothing.
        os.replace(temporary, photos_dir / filename)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    fsync_directory(photos_dir)
    return digest.hexdigest(), size, filename


def orphan_files(photos_dir: Path, referenced: set[str], *, grace_seconds: float = ORPHAN_GRACE_SECONDS) -> list[Path]:
    """Files in the photo folder that no photo row names (left by an interrupted `photo`)."""
    cutoff = time.time() - grace_seconds
    orphans = []
    for path in sorted(photos_dir.iterdir()):
        if path.is_file() and path.name not in referenced and path.stat().st_mtime <= cutoff:
            orphans.append(path)
    return orphans


def _exif_facts(exif) -> dict:
    facts = {"exif_time": None, "latitude": None, "longitude": None, "orientation": None}
    if not exif:
        return facts
    detail = exif.get_ifd(ExifTags.IFD.Exif)
    taken = detail.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    if isinstance(taken, str) and taken.strip():
        facts["exif_time"] = taken.strip()
    orientation = exif.get(ExifTags.Base.Orientation)
    if isinstance(orientation, int) and 1 <= orientation <= 8:
        facts["orientation"] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    facts["latitude"] = _coordinate(gps.get(ExifTags.GPS.GPSLatitude), gps.get(ExifTags.GPS.GPSLatitudeRef), "S")
    facts["longitude"] = _coordinate(gps.get(ExifTags.GPS.GPSLongitude), gps.get(ExifTags.GPS.GPSLongitudeRef), "W")
    return facts


def _coordinate(value, reference, negative: str) -> float | None:
    """Degrees from EXIF's (degrees, minutes, seconds) rationals; None when absent or malformed."""
    try:
        degrees, minutes, seconds = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    result = degrees + minutes / 60 + seconds / 3600
    if isinstance(reference, bytes):
        reference = reference.decode("ascii", "replace")
    if isinstance(reference, str) and reference.strip().upper() == negative:
        result = -result
    return round(result, 7)
