"""A submitted inspection with real photo evidence (JPEGs carrying EXIF GPS) and example notes
full of personal data, for material and bulletin tests.

Import the fixtures: `from material_world import material_world, make_jpeg, world, make_assignment`.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path

import pytest
from assignment_world import World, make_assignment, world  # noqa: F401  (fixtures)
from PIL import Image

from server.accounts.models.user import User
from server.columns import utcnow
from server.field.evidence_store import original_path
from server.field.models.evidence import EvidenceFile
from server.field.models.inspection import ExampleNote, Inspection, Photo

CHECKED_IN_AT = datetime(2026, 3, 10, 1, 30, tzinfo=timezone.utc)
GPS_IFD, ORIENTATION = 0x8825, 0x0112


def make_jpeg(width: int = 640, height: int = 480, *, orientation: int | None = None, seed: int = 0) -> bytes:
    """A JPEG with GPS (金华) and a maker note in EXIF, and a gradient so that pixels differ."""
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    image.paste((40 + seed * 20 % 200, 120, 200), (width // 3, height // 3, width // 2, height // 2))
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    exif[GPS_IFD] = {1: "N", 2: (29.0, 4.0, 43.0), 3: "E", 4: (119.0, 38.0, 50.0)}
    if orientation:
        exif[ORIENTATION] = orientation
    buffer = BytesIO()
    image.save(buffer, "JPEG", quality=90, exif=exif.tobytes())
    return buffer.getvalue()


def store_evidence(app, db, data: bytes, uploader: User) -> EvidenceFile:
    sha256 = hashlib.sha256(data).hexdigest()
    existing = db.session.scalar(db.select(EvidenceFile).where(EvidenceFile.sha256 == sha256))
    if existing is not None:
        return existing
    original = Path(app.config["EVIDENCE_DIR"]) / original_path(sha256)
    original.parent.mkdir(parents=True, exist_ok=True)
    original.write_bytes(data)
    with Image.open(BytesIO(data)) as image:
        width, height = image.size
    evidence = EvidenceFile(sha256=sha256, size=len(data), media_type="image/jpeg", width=width, height=height,
                            gps_lat=29.078, gps_lon=119.647, stored_path=original_path(sha256), variants={},
                            uploaded_by_id=uploader.id)
    db.session.add(evidence)
    db.session.flush()
    return evidence


NOTES = [
    ("positive", "某店主张三主动登记顾客健康码，联系电话13812345678，值得推广。"),
    ("positive", "工作人员严格测温，负责人身份证330702199001011234已登记备查。"),
    ("negative", "包厢超员，经营者拒不整改，车牌浙G·12345的车辆停在门口，举报人手机 139 1234 5678。"),
    ("negative", "未查验行程卡，值班人员李四称不知情。"),
]


@dataclass
class MaterialWorld:
    world: World
    inspection: Inspection
    photos: list[Photo]
    notes: list[ExampleNote]

    @property
    def users(self) -> dict[str, User]:
        return self.world.users


@pytest.fixture
def material_world(app, db, world, make_assignment) -> MaterialWorld:
    assignment = make_assignment("submitted")
    leader = world.users["team_leader"]
    inspection = Inspection(uuid=str(uuid.uuid4()), assignment_id=assignment.id, device_id=str(uuid.uuid4()),
                            inspector_id=leader.id, checked_in_at=CHECKED_IN_AT, status="complete",
                            submitted_at=CHECKED_IN_AT, submission_received_at=utcnow(), latitude=29.07,
                            longitude=119.64)
    db.session.add(inspection)
    db.session.flush()
    photos = []
    for n in range(4):
        data = make_jpeg(orientation=6 if n == 1 else None, seed=n + int(world.tag[:4], 16))
        evidence = store_evidence(app, db, data, leader)
        photo = Photo(uuid=str(uuid.uuid4()), inspection_id=inspection.id, sha256=evidence.sha256, size=len(data),
                      filename=f"{n}.jpg", media_type="image/jpeg", caption=f"现场{n}，{world.venue.operator_name}在场",
                      exif_latitude=29.078, exif_longitude=119.647, taken_at=CHECKED_IN_AT,
                      evidence_file_id=evidence.id, received_at=utcnow())
        db.session.add(photo)
        photos.append(photo)
    notes = []
    for kind, text in NOTES:
        text = text.replace("张三", world.venue.operator_name).replace("某店", world.venue.name)
        note = ExampleNote(uuid=str(uuid.uuid4()), inspection_id=inspection.id, kind=kind, text=text,
                           created_at=CHECKED_IN_AT)
        db.session.add(note)
        notes.append(note)
    db.session.flush()
    return MaterialWorld(world=world, inspection=inspection, photos=photos, notes=notes)


def bearer(user: User) -> dict:
    from server.accounts.auth import issue_device_token

    raw, token = issue_device_token(user, "测试电脑", channel="api")
    token.last_used_at = utcnow()  # so that requests do not write to the token row
    return {"Authorization": f"Bearer {raw}"}


def assert_no_exif_or_gps(data: bytes) -> None:
    """Parse the JPEG: no EXIF at all (hence no GPS IFD), no XMP, no ICC profile."""
    with Image.open(BytesIO(data)) as image:
        assert image.format == "JPEG"
        exif = image.getexif()
        assert len(exif) == 0 and not exif.get_ifd(GPS_IFD)
        assert "exif" not in image.info and "icc_profile" not in image.info and "xmp" not in image.info
        assert not any(marker == 0xFFE1 for marker, *_ in getattr(image, "applist", []))
