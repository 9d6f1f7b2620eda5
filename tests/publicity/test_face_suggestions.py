"""Suggested face boxes: the Haar detector finds the face on the demo's public-domain portrait and
none on a generated demo scene or a blank photo; attaching a photo to an item stores what it
finds as suggested boxes that are masked from the start, the editor page pre-draws them for the
editor to confirm, move or delete, and a failing detector never stops an item."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from io import BytesIO

from material_world import make_assignment, material_world, store_evidence, world  # noqa: F401  (fixtures)
from PIL import Image
from web_session import csrf, login

from server.columns import CHINA_STANDARD_TIME, utcnow
from server.demo.week import FACE_PHOTO, scene_jpeg
from server.extensions import db
from server.field.models.inspection import Photo
from server.publicity import faces, materials, redaction
from server.publicity.models.material import MaterialItem

TAKEN = datetime(2026, 3, 9, 10, 0)


def _jpeg(image: Image.Image) -> bytes:
    buffer = BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def test_detector_finds_the_face_on_the_demo_portrait_and_none_on_plain_photos():
    assert FACE_PHOTO.stat().st_size <= 60_000
    with Image.open(FACE_PHOTO) as portrait:
        found = faces.detect_faces(portrait)
    assert len(found) >= 1
    x, y, w, h = found[0]
    assert 0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 - x and 0 < h <= 1 - y
    assert 0.3 < x + w / 2 < 0.7 and y + h / 2 < 0.5  # her face: centred, in the upper half
    for kind in ("positive", "negative"):
        plain = scene_jpeg("plain", kind, TAKEN, 29.08, 119.65)
        assert faces.detect_faces(Image.open(BytesIO(plain))) == []
    assert faces.detect_faces(Image.new("RGB", (1280, 960), (200, 200, 200))) == []
    # The demo scene with the portrait by the door (what a propaganda user opens) is pre-boxed.
    scene = scene_jpeg("face", "positive", TAKEN, 29.08, 119.65, face=True)
    with Image.open(BytesIO(scene)) as image:
        assert image.size == (1280, 960)
        assert len(faces.detect_faces(image)) >= 1


def _face_photo(app, material_world) -> Photo:
    data = scene_jpeg(f"face/{material_world.world.tag}", "positive", TAKEN, 29.08, 119.65, face=True)
    leader = material_world.users["team_leader"]
    evidence = store_evidence(app, db, data, leader)
    photo = Photo(uuid=str(uuid.uuid4()), inspection_id=material_world.inspection.id, sha256=evidence.sha256,
                  size=len(data), filename="face.jpg", media_type="image/jpeg", caption="入口查验",
                  taken_at=utcnow(), evidence_file_id=evidence.id, received_at=utcnow())
    db.session.add(photo)
    db.session.flush()
    return photo


def _dark_share(data: bytes, box: list[float]) -> float:
    with Image.open(BytesIO(data)) as image:
        grey = image.convert("L")
        width, height = grey.size
        x, y, w, h = box
        inner = grey.crop((int(x * width) + 2, int(y * height) + 2, int((x + w) * width) - 2,
                           int((y + h) * height) - 2))
        pixels = list(inner.tobytes())
    return sum(1 for value in pixels if value < 16) / len(pixels)


def test_suggestions_are_stored_masked_shown_and_confirmed_by_saving(app, client, material_world):
    propaganda = material_world.users["propaganda"]
    face = _face_photo(app, material_world)
    plain = material_world.photos[0]
    item = materials.flag_material(actor=propaganda, kind="positive", inspection_id=material_world.inspection.id,
                                   photo_ids=[face.id, plain.id], text="入口查验有序。")
    with_face, without = item.photos
    suggested = redaction.suggested_boxes(with_face.boxes)
    assert len(suggested) >= 1 and all(box.get("suggested") is True for box in with_face.boxes)
    assert without.boxes == [] and with_face.boxes_version == 0
    # Masked from the start: the redacted image is black where the suggestion is.
    redacted = redaction.redacted_file(with_face).read_bytes()
    assert _dark_share(redacted, suggested[0]) > 0.95

    view = materials.item_view(item, propaganda)
    assert view["photos"][0]["suggested"] == suggested == view["photos"][0]["boxes"]
    assert view["photos"][1]["suggested"] == []

    login(client, propaganda)
    url = f"/materials/{item.id}"
    page = client.get(url).get_data(as_text=True)
    assert "data-suggested='[[" in page and "系统自动识别到" in page and "已预先加框遮挡" in page
    assert page.count("data-suggested='[]'") == 1  # the plain photo has none
    numbers = ", ".join(f"{value:g}" for value in suggested[0])
    assert numbers in page  # pre-filled in the plain form's box list as well

    # Saving the boxes as they are confirms them: no longer suggested, the same image.
    digest = redaction.boxes_digest(with_face.boxes)
    response = client.post(f"{url}/photos/1/boxes", data={"csrf_token": csrf(client, url), "p1-boxes": numbers})
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    entry = db.session.get(MaterialItem, item.id).photos[0]
    assert entry.boxes == [suggested[0]] and redaction.suggested_boxes(entry.boxes) == []
    assert redaction.boxes_digest(entry.boxes) == digest and entry.boxes_version == 1, (entry.boxes, suggested)
    page = client.get(url).get_data(as_text=True)
    assert "系统自动识别到" not in page
    # Deleting a suggestion unmasks the face (the editor decided to show it).
    response = client.post(f"{url}/photos/1/boxes", data={"csrf_token": csrf(client, url), "p1-boxes": ""})
    assert response.status_code == 302
    db.session.expire_all()
    entry = db.session.get(MaterialItem, item.id).photos[0]
    assert entry.boxes == [] and _dark_share(redaction.redacted_file(entry).read_bytes(), suggested[0]) < 0.2


def test_collecting_note_candidates_suggests_boxes(app, material_world, monkeypatch):
    calls = []

    def fake(image):
        calls.append(image.size)
        return [[0.1, 0.1, 0.2, 0.25]]

    monkeypatch.setattr(redaction, "detect_faces", fake)
    assert materials.collect_note_candidates(material_world.users["office"]) == len(material_world.notes)
    items = db.session.scalars(db.select(MaterialItem).where(
        MaterialItem.inspection_id == material_world.inspection.id)).all()
    assert items and all(redaction.suggested_boxes(entry.boxes) == [[0.1, 0.1, 0.2, 0.25]]
                         for item in items for entry in item.photos)
    # Detection ran on a downscaled copy, never on the full-size original.
    assert calls and all(max(size) <= 1280 for size in calls)


def test_a_failing_detector_never_blocks_an_item(app, material_world, monkeypatch):
    def broken(image):
        raise RuntimeError("cascade exploded")

    monkeypatch.setattr(redaction, "detect_faces", broken)
    item = materials.flag_material(actor=material_world.users["office"], kind="negative",
                                   inspection_id=material_world.inspection.id,
                                   photo_ids=[material_world.photos[0].id], text="入口无人查验。")
    assert [entry.boxes for entry in item.photos] == [[]]

    def unavailable(image):
        raise faces.DetectorUnavailable("no OpenCV")

    monkeypatch.setattr(redaction, "detect_faces", unavailable)
    assert materials.collect_note_candidates(material_world.users["office"]) == len(material_world.notes)


def test_a_propaganda_user_gets_the_demo_face_pre_boxed(db, client):
    from server.accounts.models.user import User
    from server.demo.registry import DEMO_PASSWORD, seed_demo
    from server.demo.week import seed_week_inspections

    seed_demo()
    seed_week_inspections(7, end=date(2026, 3, 14))  # a week: one Monday, one portrait
    propaganda = db.session.scalar(db.select(User).where(User.username == "propaganda"))
    login(client, propaganda, DEMO_PASSWORD)
    assert client.get("/materials").status_code == 200  # opening the library collects the notes
    boxed = [item for item in db.session.scalars(db.select(MaterialItem))
             if any(redaction.suggested_boxes(entry.boxes) for entry in item.photos)]
    assert len(boxed) == 1 and boxed[0].kind == "positive"
    assert boxed[0].inspection.checked_in_at.astimezone(CHINA_STANDARD_TIME).weekday() == 0
    page = client.get(f"/materials/{boxed[0].id}").get_data(as_text=True)
    assert "系统自动识别到 1 处人脸，已预先加框遮挡" in page


def test_a_box_at_the_edge_saved_unchanged_keeps_its_numbers():
    # 0.5833 + 0.4167 is 1.0000000000000002 in floats: clamping to 1 - y must not turn 0.4167 into
    # 0.41669999999999996, or the same boxes would name a different redacted file.
    box = [0.18, 0.5833, 0.0854, 0.4167]
    assert redaction.normalise_boxes([box]) == [box]
    assert redaction.boxes_digest(redaction.normalise_boxes([box])) == redaction.boxes_digest([box])
