"""The evidence store: photos kept by content hash, their re-encoded variants, and who may read them.

Originals live at EVIDENCE_DIR/sha256/ab/cdef…, exactly the bytes the device sent (`uploads` puts
them there once an upload completes and passes `photo_checks`); nothing ever rewrites them.
Re-encoded variants are made under EVIDENCE_DIR/variants/ the first time one is asked for
(`variant_file`): decoding and re-encoding a 12-megapixel photo three times costs more than
receiving it, and the inspector's sync should not wait for pictures nobody has looked at yet.
"""

from __future__ import annotations

import re
import warnings
from io import BytesIO
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from PIL import Image, ImageOps

from ..access import Scope, authorize, grant, register_policy
from ..accounts.models.user import User
from ..errors import Invalid, NotFound, Problem
from ..extensions import db
from ..pdf.fetcher import EVIDENCE_SCHEME, SIGNATURE_SCHEME, RefusedURL, Resolver
from .evidence_backend import evidence_store
from .evidence_backend import write_durably  # noqa: F401  (publicity and oversight write files with it)
from .models.evidence import EvidenceFile
from .photo_checks import MEDIA_TYPES
from .signature_images import signature_png

# Longest edge in pixels. thumbnail: lists; print: PDFs; public: bulletins (no EXIF, no GPS).
VARIANTS = {"thumbnail": 320, "print": 1600, "public": 1280}
VARIANT_QUALITY = 85

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


# --- access --------------------------------------------------------------------------------------


def _uploaded_by_user(user: User, evidence: EvidenceFile) -> bool:
    return evidence.uploaded_by_id == user.id


UPLOADER = Scope("uploader", _uploaded_by_user, lambda user: EvidenceFile.uploaded_by_id == user.id)

register_policy(EvidenceFile, "证据照片")
# Originals (with EXIF time and GPS) are evidence for cases: the office, the enforcement bureau
# and admins read them all, an inspector the photos they uploaded. Propaganda reads no evidence
# file at all: it gets only the redacted images of its material (DESIGN.md §6: never originals,
# GPS or unmasked faces), through the material pages, so knowing a hash gives it nothing.
# Department and county viewers get photos with the inspections they may read, which later
# work links to evidence.
grant(EvidenceFile, "read", ("office", "admin", "enforcement"))
grant(EvidenceFile, "read", "inspector", UPLOADER)
grant(EvidenceFile, "read_public", ("office", "admin", "enforcement"))
grant(EvidenceFile, "read_public", "inspector", UPLOADER)


def find_evidence(sha256: str, user: User, variant: str | None = None) -> tuple[EvidenceFile, Path]:
    """The evidence row and the file to send, or NotFound — also when the caller may not see it,
    so that a hash's existence is not revealed to those outside its scope."""
    missing = NotFound("证据照片不存在或不在您的范围内。")
    if not isinstance(sha256, str) or not SHA256_HEX.match(sha256):
        raise missing
    evidence = db.session.scalar(sa.select(EvidenceFile).where(EvidenceFile.sha256 == sha256))
    if evidence is None:
        raise missing
    if variant is not None and variant not in VARIANTS:
        raise missing
    try:
        authorize(user, "read_public" if variant == "public" else "read", evidence)
    except Problem:
        raise missing from None
    if variant is None:
        return evidence, evidence_store().local_path(evidence.stored_path)
    return evidence, variant_file(evidence, variant)


def evidence_resolver(user: User | None) -> Resolver:
    """What a document rendered for `user` may embed of the store: re-encoded variants only,
    authorised exactly as the evidence API would (`find_evidence`); and the signatures made on
    site under records the user may read (`signature_images.signature_png`)."""

    def resolve(scheme: str, parts: tuple[str, ...]) -> bytes:
        if scheme not in (EVIDENCE_SCHEME, SIGNATURE_SCHEME):
            raise RefusedURL("该文书只能引用证据照片和现场签名")
        if user is None:
            raise RefusedURL("未指定出具人，不能读取证据照片")
        if scheme == SIGNATURE_SCHEME:
            return signature_png(parts[0], user)
        sha256, variant = parts
        return find_evidence(sha256, user, variant)[1].read_bytes()

    return resolve


# --- paths ---------------------------------------------------------------------------------------


def evidence_root() -> Path:
    """EVIDENCE_DIR on this machine: the local store's root, and whatever the store, where the parts
    of uploads being received and other temporary files live (evidence_backend says why)."""
    return Path(current_app.config["EVIDENCE_DIR"])


def original_path(sha256: str) -> str:
    return f"sha256/{sha256[:2]}/{sha256[2:]}"


def variant_path(sha256: str, name: str) -> str:
    return f"variants/{sha256[:2]}/{sha256}/{name}.jpg"


# --- variants ------------------------------------------------------------------------------------


def variant_file(evidence: EvidenceFile, name: str) -> Path:
    """The variant's file, made from the original if it is not there yet.

    Two requests making the same variant at once each write a temporary file and rename it:
    the contents are identical, whichever rename comes last stands.
    """
    store = evidence_store()
    relative = variant_path(evidence.sha256, name)
    if not store.exists(relative):
        make_variants(evidence.stored_path, evidence.sha256)
    return store.local_path(relative)


def make_variants(original: str, sha256: str) -> dict[str, str]:
    """Re-encoded JPEGs, orientation applied, no EXIF (hence no GPS), from the original at the
    store path `original`, which is only read."""
    store = evidence_store()
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with store.open(original) as handle, Image.open(handle, formats=list(MEDIA_TYPES)) as image:
                icc_profile = image.info.get("icc_profile")
                oriented = ImageOps.exif_transpose(image)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            # Its chunks were whole on arrival (PNG CRCs) but the pixels do not inflate.
            raise Invalid(f"原图无法解码，不能生成派生图：{exc}") from None
    flat = _flattened(oriented)
    paths = {}
    for name, edge in VARIANTS.items():
        variant = flat.copy()
        variant.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        variant.info = {}
        options = {"quality": VARIANT_QUALITY, "optimize": True, "exif": b""}
        if icc_profile and name != "public":
            options["icc_profile"] = icc_profile  # colour fidelity for internal use and print
        buffer = BytesIO()
        variant.save(buffer, "JPEG", **options)
        relative = variant_path(sha256, name)
        store.write(relative, buffer.getvalue())
        paths[name] = relative
    return paths


def _flattened(image: Image.Image) -> Image.Image:
    """RGB for JPEG: transparency is composed onto white rather than dropped to black."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")
