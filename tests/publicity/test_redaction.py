"""Redacted public images: EXIF/GPS gone (parsed), orientation applied, boxes burned into the
pixels, a new file for new boxes while the old one stays; the public variant likewise clean."""

from __future__ import annotations

import pytest
from material_world import assert_no_exif_or_gps, make_assignment, material_world, world  # noqa: F401
from PIL import Image

from server.errors import Invalid
from server.field.evidence_store import evidence_root, variant_file
from server.publicity import materials, redaction
from server.publicity.models.material import MaterialItem


def first_item(db, material_world) -> MaterialItem:
    materials.collect_note_candidates(material_world.users["office"])
    return db.session.scalar(db.select(MaterialItem).where(
        MaterialItem.inspection_id == material_world.inspection.id).order_by(MaterialItem.id))


def test_originals_carry_gps_but_public_variants_and_redacted_images_do_not(app, db, material_world):
    photo = material_world.photos[0]
    with Image.open(evidence_root() / photo.evidence_file.stored_path) as original:
        assert original.getexif().get_ifd(0x8825)  # the fixture really has GPS to strip
    assert_no_exif_or_gps(variant_file(photo.evidence_file, "public").read_bytes())
    item = first_item(db, material_world)
    for entry in item.photos:
        assert_no_exif_or_gps(redaction.redacted_file(entry).read_bytes())


def test_orientation_is_applied_like_the_variants(db, material_world):
    item = first_item(db, material_world)
    rotated = item.photos[1]  # EXIF orientation 6: stored 640×480, shown 480×640
    with Image.open(redaction.redacted_file(rotated)) as image:
        assert image.size == (480, 640)


def test_boxes_are_burned_into_the_pixels(db, material_world):
    item = first_item(db, material_world)
    office = material_world.users["office"]
    box = [0.25, 0.25, 0.5, 0.5]
    entry = redaction.set_boxes(item, 1, [box], actor=office)
    with Image.open(redaction.redacted_file(entry)) as image:
        pixels = image.convert("RGB").load()
        width, height = image.size
        left, top, right, bottom = int(width * .25), int(height * .25), int(width * .75), int(height * .75)
        margin = 16  # JPEG blocks straddling the edge blur it; inside, the fill is exact
        inside = [pixels[x, y] for x in range(left + margin, right - margin, 7)
                  for y in range(top + margin, bottom - margin, 7)]
        assert inside and all(value == redaction.FILL for value in inside)
        outside = [pixels[x, y] for x in range(0, width, 37) for y in range(0, top - margin, 11)]
        assert any(value != redaction.FILL for value in outside)


def test_changing_boxes_makes_a_new_file_and_keeps_the_old(db, material_world):
    item = first_item(db, material_world)
    office = material_world.users["office"]
    first = redaction.set_boxes(item, 1, [[0.1, 0.1, 0.2, 0.2]], actor=office)
    digest = redaction.boxes_digest(first.boxes)
    old = redaction.redacted_file(first)
    old_bytes = old.read_bytes()
    redaction.set_boxes(item, 1, [[0.5, 0.5, 0.3, 0.3]], actor=office)
    new = redaction.redacted_file(first)
    assert new != old and new.read_bytes() != old_bytes
    assert redaction.redacted_file(first, digest).read_bytes() == old_bytes
    assert first.boxes_version == 2


@pytest.mark.parametrize("boxes", [
    [[0.5, 0.5, 0.6, 0.1]], [[-0.1, 0, 0.2, 0.2]], [[0.1, 0.1, 0, 0.2]], [[0.1, 0.1, 0.2]], "box",
    [[0.1, 0.1, float("nan"), 0.2]], [[True, 0.1, 0.2, 0.2]],
])
def test_bad_boxes_are_refused(db, material_world, boxes):
    item = first_item(db, material_world)
    with pytest.raises(Invalid):
        redaction.set_boxes(item, 1, boxes, actor=material_world.users["office"])
