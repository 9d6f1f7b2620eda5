"""Whether a file is an acceptable photo, judged by its content, and the EXIF facts it carries.

Only allowed image formats are decoded, whatever the file's name or declared type says; the file
must be complete to its last byte, and a decompression bomb is refused before its pixels are
decoded. From EXIF come the time the photo was taken and where (GPS), kept with the evidence.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ..columns import CHINA_STANDARD_TIME
from ..errors import Invalid

try:  # HEIC is what iPhones shoot; the opener registers the "HEIF" format with Pillow.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - pillow-heif is an install requirement
    HEIF_SUPPORTED = False

# Allow-list by content: Pillow only tries these decoders, whatever the name or declared type says.
MEDIA_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}
if HEIF_SUPPORTED:
    MEDIA_TYPES["HEIF"] = "image/heic"

EXIF_IFD, GPS_IFD = 0x8769, 0x8825
EXIF_DATETIME, EXIF_DATETIME_ORIGINAL, EXIF_OFFSET_TIME_ORIGINAL = 0x0132, 0x9003, 0x9011


@dataclass(frozen=True)
class ImageFacts:
    media_type: str
    width: int
    height: int
    taken_at: datetime | None
    gps_lat: float | None
    gps_lon: float | None


def inspect_image(path: Path, max_pixels: int) -> ImageFacts:
    """Prove the file is an allowed, complete, reasonably sized photo, and read its EXIF facts."""
    with warnings.catch_warnings():
        # Pillow warns above MAX_IMAGE_PIXELS and raises above twice that; both refuse here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path, formats=list(MEDIA_TYPES)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise Invalid(f"图片尺寸 {width}×{height} 超过 {max_pixels} 像素的上限。")
                media_type = MEDIA_TYPES[image.format]
                _prove_complete(image)
            with Image.open(path, formats=list(MEDIA_TYPES)) as image:  # verify() leaves a PNG unusable
                exif = _exif(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise Invalid("图片像素数过大（疑似解压炸弹），拒绝处理。") from None
        except UnidentifiedImageError:
            allowed = "、".join("HEIC" if name == "HEIF" else name for name in MEDIA_TYPES)
            raise Invalid(f"文件内容不是可接受的图片格式（仅限 {allowed}）。") from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise Invalid(f"图片数据损坏或不完整：{exc}") from None
    lat, lon = _gps(exif)
    return ImageFacts(media_type, width, height, _taken_at(exif), lat, lon)


def _prove_complete(image: Image.Image) -> None:
    """A truncated or damaged file fails here, before anything is stored, as cheaply as each
    format allows: PNG checks the CRC of every chunk up to IEND without inflating the pixels;
    JPEG decodes every scan at 1/8 scale (the DCT does the scaling, the whole entropy-coded
    stream is still read); HEIC is decoded. PNG's verify() must come directly after open."""
    if image.format == "PNG":
        image.verify()
    elif image.format == "JPEG":
        image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
        image.load()
    else:
        image.load()


def _exif(image: Image.Image) -> Image.Exif:
    """EXIF without decoding pixels. A PNG's getexif() inflates the whole image to look for an
    eXIf chunk after the pixel data; cameras write EXIF to JPEG and HEIC, so a PNG's EXIF is read
    only from a chunk before the pixels."""
    if image.format != "PNG":
        return image.getexif()
    exif = Image.Exif()
    if isinstance(image.info.get("exif"), bytes):
        exif.load(image.info["exif"])
    return exif


def _taken_at(exif) -> datetime | None:
    """EXIF time has no zone unless OffsetTimeOriginal says; devices here run on China time."""
    sub = exif.get_ifd(EXIF_IFD)
    text = sub.get(EXIF_DATETIME_ORIGINAL) or exif.get(EXIF_DATETIME)
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.strptime(text.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    zone = CHINA_STANDARD_TIME
    offset = sub.get(EXIF_OFFSET_TIME_ORIGINAL)
    if isinstance(offset, str):
        match = re.match(r"^([+-])(\d\d):(\d\d)", offset.strip())
        if match:
            delta = timedelta(hours=int(match[2]), minutes=int(match[3]))
            zone = timezone(delta if match[1] == "+" else -delta)
    return moment.replace(tzinfo=zone).astimezone(UTC)


def _gps(exif) -> tuple[float | None, float | None]:
    gps = exif.get_ifd(GPS_IFD)
    try:
        lat = _degrees(gps[2], gps.get(1))
        lon = _degrees(gps[4], gps.get(3))
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
        return None, None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return lat, lon


def _degrees(value, ref) -> float:
    degrees, minutes, seconds = (float(part) for part in value)
    result = degrees + minutes / 60 + seconds / 3600
    if isinstance(ref, bytes):
        ref = ref.decode("ascii", "replace")
    return -result if (ref or "").strip().upper() in ("S", "W") else result
