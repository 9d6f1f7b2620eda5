"""The 检查记录 says who signed on site and who refused: each signature's image with the signer's
role, written name and signing time in Beijing time; a refusal with its witness note. Checked on
the issued PDF with poppler (pdftotext, pdfimages)."""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from assignment_world import make_assignment, world  # noqa: F401  (fixtures)
from test_signatures import bearer, now_text, operation, pushed, signature_op, signature_payload, signature_png

from server.enforcement import documents as service
from server.enforcement.models.document import Document
from server.errors import NotFound
from server.extensions import db as _db
from server.field.models.inspection import Inspection
from server.field.signature_images import signature_png as stored_signature_png
from server.pdf.fetcher import RefusedURL, RestrictedURLFetcher
from server.pdf.rendering import templates_dir


@pytest.fixture(autouse=True)
def evidence_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(tmp_path / "evidence"))


def run(*command: str) -> str:
    result = subprocess.run(command, capture_output=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.decode("utf-8")


def flat_text(path: Path) -> str:
    """The text without spaces and line breaks, so that a phrase wrapped over two lines is found."""
    return "".join(run("pdftotext", "-enc", "UTF-8", str(path), "-").split())


def images(path: Path) -> list[list[str]]:
    """`pdfimages -list` rows of real images (an alpha channel's soft mask is listed apart)."""
    rows = [line.split() for line in run("pdfimages", "-list", str(path)).splitlines()[2:]]
    return [row for row in rows if row[2] == "image"]


def record(client, world, make_assignment, signatures) -> str:  # noqa: F811
    """A visit by the world's team, signed with `signatures(inspection_uuid)` payloads and submitted
    (no photos, so it is complete at once); its UUID."""
    assignment = make_assignment("dispatched")
    inspection_uuid = str(uuid.uuid4())
    moment = now_text()
    operations = [
        operation("assignment_reveal", assignment.uuid, {"assignment_uuid": assignment.uuid, "how": "code",
                                                         "revealed_at": moment, "device_time": moment}),
        operation("inspection", inspection_uuid, {"uuid": inspection_uuid, "assignment_uuid": assignment.uuid,
                                                  "checked_in_at": moment, "latitude": None, "longitude": None,
                                                  "device_time": moment, "status": "draft"}),
    ]
    leader, member = bearer(world.users["team_leader"]), bearer(world.users["team_member"])
    results = pushed(client, leader, operations)
    for headers, payload in signatures(inspection_uuid, leader, member):
        assert [r["status"] for r in pushed(client, headers, [signature_op(payload)])] == [200]
    results = pushed(client, leader, [operation("inspection_submission", inspection_uuid, {
        "inspection_uuid": inspection_uuid, "submitted_at": moment, "device_time": moment})])
    assert [r["status"] for r in results] == [200], results
    return inspection_uuid


def issue(client, world, inspection_uuid: str) -> Path:
    _db.session.commit()
    response = client.post(f"/api/v1/inspections/{inspection_uuid}/record-document",
                            headers=bearer(world.users["office"]))
    assert response.status_code == 201, response.get_data(as_text=True)
    return service.document_path(_db.session.get(Document, response.get_json()["id"]))


def test_the_record_prints_each_signature_and_the_refusal(client, db, world, make_assignment):  # noqa: F811
    def signatures(inspection_uuid, leader, member):
        return [
            # 02:15 UTC is 10:15 in Beijing: the time a person reads on the record.
            (leader, signature_payload(inspection_uuid, name="孙建国", png=signature_png(0),
                                       signed_at="2026-12-03T02:15:00+00:00")),
            (member, signature_payload(inspection_uuid, name="周丽华", png=signature_png(25),
                                       signed_at="2026-12-03T02:16:00+00:00")),
            (leader, signature_payload(inspection_uuid, role="venue_person", name="钱某某", refused=True,
                                       witness_note="负责人阅后拒绝签字，由保安李某见证",
                                       signed_at="2026-12-03T02:17:00+00:00")),
        ]

    path = issue(client, world, record(client, world, make_assignment, signatures))
    text = flat_text(path)
    for item in ("现场签字", "督查人员：孙建国", "签字时间：2026-12-0310:15", "督查人员：周丽华", "2026-12-0310:16",
                 "被检查场所负责人：钱某某", "拒绝签字（2026-12-0310:17）", "见证情况：负责人阅后拒绝签字，由保安李某见证"):
        assert item in text, item
    assert "02:15" not in text and "2026-12-0302:1" not in text  # never UTC
    assert "（签名）：" not in text  # both roles accounted for: no blank signature line
    assert len(images(path)) == 2  # one per signed signature, none for the refusal
    assert service.verify_pdf(path.read_bytes()).status == "genuine"


def test_an_unsigned_record_keeps_the_lines_for_signing_by_hand(client, db, world, make_assignment):  # noqa: F811
    path = issue(client, world, record(client, world, make_assignment, lambda *_: []))
    text = flat_text(path)
    assert "检查人员（签名）：" in text and "被检查单位负责人（签名）：" in text
    assert "现场签字" not in text and "现场未签字" not in text
    assert images(path) == []


def test_a_venue_that_did_not_sign_is_named_so(client, db, world, make_assignment):  # noqa: F811
    def signatures(inspection_uuid, leader, member):
        return [(leader, signature_payload(inspection_uuid, name="孙建国"))]

    text = flat_text(issue(client, world, record(client, world, make_assignment, signatures)))
    assert "督查人员：孙建国" in text and "被检查单位负责人（签名）：＿＿＿＿＿＿＿＿（现场未签字）" in text
    assert "检查人员（签名）" not in text


def test_only_readers_of_the_record_may_embed_its_signature(client, db, world, make_assignment):  # noqa: F811
    png = signature_png(40)

    def signatures(inspection_uuid, leader, member):
        return [(leader, signature_payload(inspection_uuid, png=png))]

    inspection_uuid = record(client, world, make_assignment, signatures)
    digest = hashlib.sha256(png).hexdigest()
    assert stored_signature_png(digest, world.users["office"]) == png
    assert stored_signature_png(digest, world.users["team_member"]) == png
    for outsider in ("outsider", "propaganda", "other_county"):
        with pytest.raises(NotFound):
            stored_signature_png(digest, world.users[outsider])
    assert db.session.scalar(sa.select(Inspection.status).where(Inspection.uuid == inspection_uuid)) == "complete"


def test_the_sample_record_renders_with_its_signatures(db, tmp_path):
    path = tmp_path / "sample.pdf"
    path.write_bytes(service.preview_document("inspection_record"))
    text = flat_text(path)
    assert "督查人员：孙某" in text and "被检查场所负责人：钱某某" in text and "拒绝签字" in text


def test_the_fetcher_takes_a_signature_by_its_sha256_only(db):
    png = signature_png()
    asked = []

    def resolve(scheme, parts):
        asked.append((scheme, parts))
        return png

    fetcher = RestrictedURLFetcher(templates_dir(), resolve)
    digest = hashlib.sha256(png).hexdigest()
    response = fetcher.fetch(f"anfang-signature:{digest}")
    assert response.content_type == "image/png" and asked == [("anfang-signature", (digest,))]
    for url in ("anfang-signature:../../etc/passwd", f"anfang-signature:{digest.upper()}",
                f"anfang-signature:{digest}/print"):
        with pytest.raises(RefusedURL):
            fetcher.fetch(url)
    with pytest.raises(RefusedURL):
        RestrictedURLFetcher(templates_dir()).fetch(f"anfang-signature:{digest}")  # no resolver: nothing embedded
