"""Bulletin benchmark: publish an issue with 20 photos from 12-megapixel originals and a
200-row table; seconds and peak memory.

Runs on a new SQLite database under a temporary folder (migrations and reference data applied).
The originals (4000 × 3000 JPEGs of noise over gradients, with EXIF GPS) are made in a child
process, so the peak resident memory reported is that of making the redacted images and
rendering. Four approved items (two positive, two negative) carry five photos each; the
statistics table of the context is widened to 200 rows (the real one has one row per county).

Figures:
- bulletin_redact_seconds: the office approving the four items, which makes their 20 redacted
  images from the originals (as saving boxes does), in up to four threads;
- bulletin_cold_render_seconds: rendering the issue with no redacted image made yet (the
  fetcher makes each on first use, one after the other);
- bulletin_rerender_seconds: rendering the published context again (median of --repeat);
- bulletin_render_seconds: publishing the approved issue — context, number, PDF rendered with
  its 20 photos and the 200-row table, stored, audited (the figure the ≤ 3 s target is for);
- bulletin_peak_mib: peak resident set size of this process.

Run: .venv/bin/python bench/bulletin.py [--repeat N]
Prints the headline figures last, one per line, as `name: value unit`.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from server import create_app  # noqa: E402
from server.accounts.models.user import User
from server.draws.models.draw import Assignment, AssignmentMember, Draw
from server.draws.server_keys import wrap_secret  # noqa: E402
from server.extensions import db  # noqa: E402
from server.field.evidence_store import original_path  # noqa: E402
from server.field.models.evidence import EvidenceFile
from server.field.models.inspection import Inspection, Photo
from server.publicity import bulletin_print  # noqa: E402
from server.publicity import bulletins as service  # noqa: E402
from server.publicity import materials  # noqa: E402
from server.publicity.models.material import MaterialItem, MaterialPhoto
from server.registry.loader import load_reference  # noqa: E402
from server.registry.models.reference import County, VenueCategory
from server.registry.models.venue import Venue

PHOTOS = 20
WIDTH, HEIGHT = 4000, 3000
ROWS = 200


def make_original(arguments: tuple[int, str]) -> tuple[str, int]:
    """One 12-megapixel JPEG with EXIF GPS, written under `folder`; returns (sha256, size)."""
    from PIL import Image

    n, folder = arguments
    noise = Image.effect_noise((WIDTH, HEIGHT), 48 + n)
    red = Image.linear_gradient("L").resize((WIDTH, HEIGHT))
    blue = red.transpose(Image.Transpose.ROTATE_90).resize((WIDTH, HEIGHT))
    image = Image.merge("RGB", (Image.blend(red, noise, 0.5), noise, Image.blend(blue, noise, 0.4)))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (29.0, 4.0, 43.0), 3: "E", 4: (119.0, 38.0, 50.0)}
    buffer = BytesIO()
    image.save(buffer, "JPEG", quality=88, exif=exif.tobytes())
    data = buffer.getvalue()
    sha256 = hashlib.sha256(data).hexdigest()
    path = Path(folder) / original_path(sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return sha256, len(data)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def build_world(originals: list[tuple[str, int]]):
    county = db.session.scalar(db.select(County).order_by(County.id))
    category = db.session.scalar(db.select(VenueCategory).order_by(VenueCategory.id))
    office = User(username="bench-office", display_name="基准办公室", role="office", password_hash="!")
    propaganda = User(username="bench-prop", display_name="基准宣传", role="propaganda", password_hash="!")
    inspector = User(username="bench-insp", display_name="王五", role="inspector", password_hash="!")
    venue = Venue(name="基准测试场所", category=category, county=county, address="测试路1号", operator_name="赵六",
                  contact_phone="13800001111")
    db.session.add_all([office, propaganda, inspector, venue])
    db.session.flush()
    now = datetime.now(timezone.utc)
    seed = os.urandom(32)
    digest = hashlib.sha256(b"bench").hexdigest()
    draw = Draw(created_by_id=office.id, parameters={"bench": True}, window_start=now - timedelta(hours=2),
                window_end=now, commitment=hashlib.sha256(seed).hexdigest(), sealed_seed=wrap_secret(seed, "draw-seed"),
                parameters_digest=digest, venues_digest=digest, inspectors_digest=digest, result_digest=digest,
                venues_snapshot=b"x", inspectors_snapshot=b"x")
    db.session.add(draw)
    db.session.flush()
    assignment = Assignment(draw_id=draw.id, position=1, venue=venue, visit_date=now.date(),
                            window_start=now - timedelta(hours=2), window_end=now, wrapped_key=b"x",
                            status="submitted")
    assignment.members.append(AssignmentMember(user_id=inspector.id, position=1, is_leader=True))
    db.session.add(assignment)
    db.session.flush()
    inspection = Inspection(uuid=str(uuid.uuid4()), assignment_id=assignment.id, device_id=str(uuid.uuid4()),
                            inspector_id=inspector.id, checked_in_at=now, status="complete", submitted_at=now)
    db.session.add(inspection)
    db.session.flush()
    photos = []
    for n, (sha256, size) in enumerate(originals):
        evidence = EvidenceFile(sha256=sha256, size=size, media_type="image/jpeg", width=WIDTH, height=HEIGHT,
                                stored_path=original_path(sha256), variants={}, uploaded_by_id=inspector.id)
        db.session.add(evidence)
        db.session.flush()
        photo = Photo(uuid=str(uuid.uuid4()), inspection_id=inspection.id, sha256=sha256, size=size,
                      filename=f"{n}.jpg", caption=f"现场照片{n + 1}", taken_at=now, evidence_file_id=evidence.id,
                      received_at=now)
        db.session.add(photo)
        photos.append(photo)
    db.session.flush()
    items = []
    for n, kind in enumerate(("positive", "positive", "negative", "negative")):
        item = MaterialItem(source="photos", inspection_id=inspection.id, kind=kind, title=f"典型{n + 1}",
                            text=f"店主赵六（电话13800001111）在场。第{n + 1}条材料的事实经过。" * 6,
                            venue_display="mask" if kind == "negative" else "show", state="candidate",
                            flagged_by_id=office.id)
        for position, photo in enumerate(photos[n * 5:(n + 1) * 5], start=1):
            item.photos.append(MaterialPhoto(position=position, photo_id=photo.id,
                                             boxes=[[0.1, 0.1, 0.2, 0.25], [0.6, 0.55, 0.25, 0.2]], boxes_version=1))
        db.session.add(item)
        items.append(item)
    db.session.flush()
    db.session.commit()
    return office, propaganda, items


def compose(office, propaganda, items):
    now = datetime.now(timezone.utc)
    bulletin = service.create_bulletin(actor=propaganda, title="正反典型通报（基准）", period_start=now.date(),
                                       period_end=now.date(), editorial="基准测试用的编者按。\n" * 5,
                                       item_ids=[item.id for item in items], channel="cli")
    service.transition(bulletin, "submit", actor=propaganda, channel="cli")
    service.transition(bulletin, "approve", actor=office, channel="cli")
    db.session.commit()
    return bulletin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    figures: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        evidence_dir = f"{folder}/evidence"
        started = time.perf_counter()
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            originals = pool.map(make_original, [(n, evidence_dir) for n in range(PHOTOS)])
        print(f"made {PHOTOS} originals of {WIDTH}×{HEIGHT} in {time.perf_counter() - started:.1f} s "
              f"({sum(size for _, size in originals) / 2**20:.0f} MiB)")
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder}/bench.sqlite3",
                         EVIDENCE_DIR=evidence_dir)
        with app.app_context():
            upgrade(directory=app.config["MIGRATIONS_DIR"])
            load_reference()
            db.session.commit()
            office, propaganda, items = build_world(originals)
            # The office approves the items: their redacted images are made then (timed).
            started = time.perf_counter()
            for item in items:
                materials.review_material(item, "approved", actor=office, channel="cli")
            db.session.commit()
            redact_seconds = time.perf_counter() - started
            bulletin = compose(office, propaganda, items)
            # Warm up fonts and templates on a small unrelated render, so the figure is the bulletin's.
            bulletin_print.render_bulletin({**bulletin_print.build_context(bulletin), "positive": [], "negative": []},
                                           number="第　期", user=propaganda, draft=True)
            wide = bulletin_print.build_context

            def with_wide_table(bulletin, issued_on=None):
                context = wide(bulletin, issued_on)
                context["statistics"]["rows"] = [{"county": f"第{n}片区", "violations": n % 17}
                                                 for n in range(1, ROWS + 1)]
                context["statistics"]["total"] = sum(row["violations"] for row in context["statistics"]["rows"])
                return context

            service.build_context = with_wide_table  # where publish_bulletin looks it up
            started = time.perf_counter()
            service.publish_bulletin(bulletin, actor=propaganda, issued_on=date.today(), channel="cli")
            db.session.commit()
            publish_seconds = time.perf_counter() - started
            # Cold: the same issue's context rendered after deleting the redacted images, which the
            # fetcher then makes one by one while WeasyPrint renders.
            for path in Path(evidence_dir, "redacted").rglob("*.jpg"):
                path.unlink()
            started = time.perf_counter()
            bulletin_print.render_bulletin(bulletin.context, number=bulletin.context["number"], user=propaganda,
                                           draft=False)
            cold_seconds = time.perf_counter() - started
            print(f"published {service.bulletin_number(bulletin)}: {bulletin.pdf_size / 2**20:.1f} MiB PDF, "
                  f"{sum(len(item.photos) for item in items)} photos, {ROWS}-row table")
            timings = []
            for _ in range(args.repeat):
                started = time.perf_counter()
                bulletin_print.render_bulletin(bulletin.context, number=bulletin.context["number"], user=propaganda,
                                               draft=False)
                timings.append(time.perf_counter() - started)
            figures += [("bulletin_redact_seconds", redact_seconds, "s"),
                        ("bulletin_cold_render_seconds", cold_seconds, "s"),
                        ("bulletin_rerender_seconds", statistics.median(timings), "s"),
                        ("bulletin_pdf_mib", bulletin.pdf_size / 2**20, "MiB"),
                        ("bulletin_render_seconds", publish_seconds, "s"),
                        ("bulletin_peak_mib", peak_mib(), "MiB")]
    print()
    for name, value, unit in figures:
        print(f"{name}: {value:.3f} {unit}")


if __name__ == "__main__":
    main()
