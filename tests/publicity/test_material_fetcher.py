"""The PDF fetcher's `anfang-material:` scheme: redacted images for authorised users only."""

from __future__ import annotations

import pytest
from material_world import assert_no_exif_or_gps, make_assignment, material_world, world  # noqa: F401

from server.pdf.fetcher import RefusedURL, RestrictedURLFetcher, material_url
from server.pdf.rendering import templates_dir
from server.publicity import bulletin_print, materials, redaction
from server.publicity.models.material import MaterialItem


def test_material_images_are_served_redacted_to_readers_and_refused_to_others(db, material_world):
    materials.collect_note_candidates(material_world.users["office"])
    item = db.session.scalar(db.select(MaterialItem).where(MaterialItem.inspection_id == material_world.inspection.id))
    entry = item.photos[0]
    url = material_url(item.id, entry.position, redaction.boxes_digest(entry.boxes))
    resolver = bulletin_print.material_resolver(material_world.users["propaganda"])
    served = RestrictedURLFetcher(templates_dir(), resolver).fetch(url)
    assert_no_exif_or_gps(served.read())
    for user, bad in ((material_world.users["county"], url), (material_world.users["enforcement"], url), (None, url),
                      (material_world.users["office"], f"anfang-material:{item.id}/1/{'0' * 16}"),
                      (material_world.users["office"], f"anfang-material:{item.id}/99/{'0' * 16}"),
                      (material_world.users["office"], f"anfang-material:{item.id}/1/../../etc"),
                      (material_world.users["office"], f"anfang-material:{entry.photo.evidence_file.sha256}")):
        with pytest.raises(RefusedURL):
            RestrictedURLFetcher(templates_dir(), bulletin_print.material_resolver(user)).fetch(bad)
