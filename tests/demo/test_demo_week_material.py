"""The demo week carries bulletin material: example notes with personal data in their text and
site photos with EXIF GPS, stored as accepted uploads; the issue's story walked on it —
propaganda composes a bulletin with two positive and two negative examples, the office approves,
propaganda publishes and downloads a PDF with no mobile number in its text and no GPS in its
images."""

from __future__ import annotations

import re
import subprocess
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
from material_world import assert_no_exif_or_gps

from server.accounts.models.user import User
from server.columns import as_utc
from server.demo.registry import seed_demo
from server.demo.week import seed_week_inspections
from server.columns import china_today
from server.field.evidence_store import evidence_root, original_path, variant_path
from server.field.models.evidence import EvidenceFile
from server.field.models.inspection import ExampleNote, Inspection, Photo
from server.field.photo_checks import inspect_image
from server.publicity import bulletins, materials
from server.publicity.masking import contains_mobile_number
from server.publicity.models.material import MaterialItem
from server.registry.models.venue import Venue

END = date(2026, 3, 14)
YEAR = 2034  # a year no other test publishes in
MOBILE = re.compile(r"1[3-9]\d{9}")
PLATE = re.compile(r"浙G·\d{5}")


def _demo_material(db) -> list[tuple]:
    notes = db.session.execute(
        sa.select(ExampleNote.uuid, ExampleNote.kind, ExampleNote.text).join(Inspection)
        .where(Inspection.device_id == "demo-week").order_by(ExampleNote.uuid)).all()
    photos = db.session.execute(
        sa.select(Photo.uuid, Photo.sha256).join(Inspection)
        .where(Inspection.device_id == "demo-week").order_by(Photo.uuid)).all()
    return [tuple(row) for row in notes] + [tuple(row) for row in photos]


def _user(db, username: str) -> User:
    return db.session.scalar(sa.select(User).where(User.username == username))


def test_demo_week_notes_and_photos_are_stored_like_uploads_deterministic_and_idempotent(db):
    seed_demo()
    savepoint = db.session.begin_nested()
    first = seed_week_inspections(7, end=END)
    fingerprint = _demo_material(db)
    savepoint.rollback()
    again = seed_week_inspections(7, end=END)
    assert (again.notes, again.photos) == (first.notes, first.photos)
    assert _demo_material(db) == fingerprint  # same seed, same texts and the same photo bytes
    assert first.notes == 14 and 14 <= first.photos <= 28  # a positive and a negative per day, 1–2 photos each
    repeat = seed_week_inspections(7, end=END)
    assert (repeat.inspections, repeat.notes, repeat.photos) == (0, 0, 0)
    assert _demo_material(db) == fingerprint

    notes = db.session.scalars(sa.select(ExampleNote).join(Inspection).where(Inspection.device_id == "demo-week")).all()
    assert {note.kind for note in notes} == {"positive", "negative"}
    for note in notes:
        inspection = db.session.get(Inspection, note.inspection_id)
        venue = db.session.get(Venue, inspection.assignment.venue_id)
        assert MOBILE.search(note.text) and venue.operator_name in note.text
        assert inspection.status == "complete" and 1 <= len(inspection.photos) <= 2
    assert any(PLATE.search(note.text) for note in notes)

    photos = db.session.scalars(sa.select(Photo).join(Inspection).where(Inspection.device_id == "demo-week")).all()
    for photo in photos:
        evidence = db.session.get(EvidenceFile, photo.evidence_file_id)
        inspection = db.session.get(Inspection, photo.inspection_id)
        assert photo.received_at is not None and photo.sha256 == evidence.sha256
        assert evidence.stored_path == original_path(evidence.sha256)
        assert evidence.variants == {name: variant_path(evidence.sha256, name)
                                     for name in ("thumbnail", "print", "public")}
        assert evidence.uploaded_by_id == inspection.inspector_id
        assert (evidence.media_type, evidence.width, evidence.height) == ("image/jpeg", 1280, 960)
        original = evidence_root() / evidence.stored_path
        facts = inspect_image(original, 80_000_000)
        # The original keeps what the phone wrote: the stripping later has something to strip.
        assert facts.gps_lat is not None and facts.gps_lon is not None and facts.taken_at is not None
        assert (evidence.gps_lat, as_utc(evidence.exif_taken_at)) == (facts.gps_lat, facts.taken_at)
        assert as_utc(photo.taken_at) == facts.taken_at  # the EXIF time is the China time of the visit
        assert original.stat().st_size == evidence.size and not original.stat().st_mode & 0o222

    # Days generated before the demo carried material get it on the next run.
    for row in db.session.scalars(sa.select(ExampleNote).join(Inspection).where(Inspection.device_id == "demo-week")):
        db.session.delete(row)
    for row in db.session.scalars(sa.select(Photo).join(Inspection).where(Inspection.device_id == "demo-week")):
        db.session.delete(row)
    db.session.flush()
    backfilled = seed_week_inspections(7, end=END)
    assert (backfilled.inspections, backfilled.notes, backfilled.photos) == (0, first.notes, first.photos)
    assert _demo_material(db) == fingerprint


def test_the_bulletin_story_on_the_demo_week(db, cli, tmp_path):
    seed_demo()
    result = cli.invoke(args=["demo", "inspections", "--days", "7"])
    assert result.exit_code == 0, result.output
    assert "典型记录 14 条" in result.output
    office, propaganda = _user(db, "office"), _user(db, "propaganda")
    yesterday = china_today() - timedelta(days=1)

    # The office opens the library: every demo note is a candidate with its inspection's photos.
    materials.collect_note_candidates(office)
    candidates = db.session.scalars(
        sa.select(MaterialItem).join(Inspection, Inspection.id == MaterialItem.inspection_id)
        .where(Inspection.device_id == "demo-week", MaterialItem.state == "candidate")
        .order_by(MaterialItem.id)).all()
    positive = [item for item in candidates if item.kind == "positive" and item.photos]
    negative = [item for item in candidates if item.kind == "negative" and item.photos]
    assert len(positive) >= 2 and len(negative) >= 2
    chosen = positive[:2] + negative[:2]
    for item in chosen:
        view = materials.item_view(item, propaganda)  # what propaganda reads in the library
        operator = item.inspection.assignment.venue.operator_name
        assert MOBILE.search(item.text) and not contains_mobile_number(view["masked_text"])
        assert operator in item.text and operator not in view["masked_text"]
        assert "text" not in view
        materials.review_material(item, "approved", actor=office)

    # Propaganda composes 2 + 2, submits; the office approves; propaganda publishes.
    bulletin = bulletins.create_bulletin(actor=propaganda, title="近一周督查正反典型",
                                         period_start=yesterday - timedelta(days=6), period_end=yesterday,
                                         editorial="现将近一周暗访督查中发现的正反典型通报如下。",
                                         item_ids=[item.id for item in chosen])
    bulletins.transition(bulletin, "submit", actor=propaganda)
    bulletins.transition(bulletin, "approve", actor=office)
    bulletins.publish_bulletin(bulletin, actor=propaganda, issued_on=date(YEAR, 1, 5))
    assert bulletin.state == "published" and bulletin.serial is not None
    pdf = bulletins.published_pdf(bulletin, propaganda)

    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                          check=True).stdout.decode()
    flat = "".join(text.split())
    assert "先进典型" in flat and "反面典型" in flat
    assert not contains_mobile_number(text) and not MOBILE.search(flat)
    assert not PLATE.search(flat)
    for item in chosen:
        assert item.inspection.assignment.venue.operator_name not in flat
    assert not re.search(r"1[3-9]\d\*{4}\d{4}", flat)  # no phone number, not even masked
    out = tmp_path / "img"
    subprocess.run(["pdfimages", "-all", str(pdf), str(out)], capture_output=True, check=True)
    images = sorted(tmp_path.glob("img-*"))
    assert len(images) == sum(len(item.photos) for item in chosen) >= 4
    for path in images:
        assert_no_exif_or_gps(Path(path).read_bytes())
