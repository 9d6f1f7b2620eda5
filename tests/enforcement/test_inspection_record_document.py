"""The 检查记录 of a submitted inspection, built from what the field client pushed: venue, team,
observations, findings, violations, penalty proposal, notes and every photo embedded (the SHA-256 of
each original kept in the stored context, off the printed page); issued once, through the API or the CLI."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from assignment_world import make_assignment, world  # noqa: F401  (fixtures)
from document_helpers import bearer, flat_text, pdffonts, qpdf_check, run
from PIL import Image

from server.enforcement import documents as service
from server.enforcement.models.document import Document
from server.extensions import db as _db
from server.field.models.inspection import Inspection
from server.registry.models.reference import County, VenueCategory


@pytest.fixture(autouse=True)
def evidence_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(tmp_path / "evidence"))


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def operation(entity: str, entity_id: str, payload: dict) -> dict:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return {"op_id": str(uuid.uuid4()), "entity": entity, "entity_id": entity_id, "payload": payload,
            "payload_sha256": hashlib.sha256(body).hexdigest()}


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (96, 64), os.urandom(96 * 64 * 3)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def push(client, headers, operations):
    _db.session.commit()
    response = client.post("/api/v1/sync/push", headers=headers, json={
        "device_id": str(uuid.uuid4()), "device_time": now(), "operations": operations})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert [r["status"] for r in response.get_json()["results"]] == [200] * len(operations)


def upload(client, headers, data: bytes) -> None:
    _db.session.commit()
    metadata = ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in (
        ("sha256", hashlib.sha256(data).hexdigest()), ("filename", "现场.jpg")))
    tus = {"Tus-Resumable": "1.0.0", **headers}
    created = client.post("/api/v1/uploads/", headers={**tus, "Upload-Length": str(len(data)),
                                                       "Upload-Metadata": metadata})
    assert created.status_code == 201
    patched = client.patch(created.headers["Location"], data=data, headers={
        **tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert patched.status_code == 204


@pytest.fixture
def recorded(client, db, world, make_assignment, make_venue):  # noqa: F811
    """A museum visited by the world's team: 450 visitors of 800 (K3 violated), a finding with a
    fine proposed, a note, two photos; pushed and submitted, photos not yet uploaded."""
    category = db.session.scalar(sa.select(VenueCategory).where(VenueCategory.code == "museum"))
    county = db.session.scalar(sa.select(County).where(County.code == "wucheng"))
    museum = make_venue(category=category, county=county, approved_capacity=800, name="婺城区民俗博物馆",
                        operator_name="钱某某")
    assignment = make_assignment("dispatched", venue=museum)
    leader = bearer(world.users["team_leader"])
    inspection_uuid, finding_uuid = str(uuid.uuid4()), str(uuid.uuid4())
    photos = [jpeg(), jpeg()]
    ops = [
        operation("assignment_reveal", assignment.uuid, {"assignment_uuid": assignment.uuid, "how": "code",
                                                         "revealed_at": now(), "device_time": now()}),
        operation("inspection", inspection_uuid, {"uuid": inspection_uuid, "assignment_uuid": assignment.uuid,
                                                  "checked_in_at": now(), "latitude": 29.08, "longitude": 119.65,
                                                  "device_time": now(), "status": "draft"}),
        operation("observation", f"{inspection_uuid}/k3_visitors", {
            "inspection_uuid": inspection_uuid, "item_code": "k3_visitors", "value": 450, "recorded_at": now()}),
        operation("finding", finding_uuid, {
            "uuid": finding_uuid, "inspection_uuid": inspection_uuid, "rule_code": "K3", "check_code": None,
            "description": "展厅内游客明显超过限流人数", "source": "manual", "created_at": now()}),
        operation("penalty", str(uuid.uuid4()), {"uuid": None, "finding_uuid": finding_uuid, "type": "fine",
                                                 "amount": 200, "basis_code": None, "created_at": now()}),
        operation("note", str(uuid.uuid4()), {"uuid": None, "inspection_uuid": inspection_uuid, "kind": "negative",
                                              "text": "入口无人查验健康码", "created_at": now()}),
    ]
    for op in ops[4:6]:  # their entity id is their uuid
        op["payload"]["uuid"] = op["entity_id"]
        op.update(operation(op["entity"], op["entity_id"], op["payload"]))
    for data, finding in zip(photos, (finding_uuid, None)):
        photo_uuid = str(uuid.uuid4())
        ops.append(operation("photo", photo_uuid, {
            "uuid": photo_uuid, "inspection_uuid": inspection_uuid, "finding_uuid": finding,
            "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "filename": f"{photo_uuid}.jpg",
            "original_name": "IMG_0001.jpg", "media_type": "image/jpeg", "caption": "展厅入口",
            "exif_time": None, "latitude": None, "longitude": None, "orientation": None, "created_at": now()}))
    ops.append(operation("inspection_submission", inspection_uuid, {
        "inspection_uuid": inspection_uuid, "submitted_at": now(), "device_time": now()}))
    push(client, leader, ops)
    return inspection_uuid, photos, leader


def test_the_record_is_issued_once_with_every_photo_and_keeps_its_sha256_off_the_page(client, db, world, recorded, tmp_path):  # noqa: F811
    inspection_uuid, photos, leader = recorded
    office = bearer(world.users["office"])
    _db.session.commit()
    url = f"/api/v1/inspections/{inspection_uuid}/record-document"
    waiting = client.post(url, headers=office)
    assert waiting.status_code == 409 and "照片" in waiting.get_json()["detail"]
    for data in photos:
        upload(client, leader, data)
    assert client.post(url, headers=bearer(world.users["team_leader"])).status_code == 403
    _db.session.commit()

    response = client.post(url, headers=office)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["kind"] == "inspection_record" and body["subject_id"] == inspection_uuid
    assert body["number"] == f"金市疫情防指办检〔{body['year']}〕{body['serial']}号"
    document = db.session.get(Document, body["id"])
    path = service.document_path(document)
    text = flat_text(path)
    for item in ("检查记录", "婺城区民俗博物馆", "钱某某", world.users["team_leader"].display_name, "组长",
                 "展厅内游客明显超过限流人数", "罚款200元", "入口无人查验健康码", "反面典型", "450",
                 body["number"], document.verification_code):
        assert item in text, item
    # The rule code and each photo's SHA-256 are the record's, not the page's.
    # (The random verification code may itself hold "K3": left out.)
    assert "K3" not in text.replace(document.verification_code, "") and "SHA-256" not in text
    for data in photos:
        assert hashlib.sha256(data).hexdigest() not in text
        assert hashlib.sha256(data).hexdigest() in {photo["sha256"] for photo in document.context["photos"]}
    images = run("pdfimages", "-list", str(path)).stdout.decode().splitlines()[2:]
    assert len(images) == 2, images  # both print variants embedded (the QR code is drawn as vectors)
    assert all(font["emb"] == "yes" for font in pdffonts(path))
    assert qpdf_check(path).returncode == 0

    again = client.post(url, headers=office)
    assert again.status_code == 409 and again.get_json()["document_id"] == document.id
    assert client.post(f"/api/v1/inspections/{uuid.uuid4()}/record-document", headers=office).status_code == 404
    assert service.verify_pdf(path.read_bytes()).status == "genuine"


def test_a_draft_inspection_has_no_record(client, db, world, make_assignment):  # noqa: F811
    assignment = make_assignment("in_progress")
    inspection = Inspection(uuid=str(uuid.uuid4()), assignment_id=assignment.id, device_id=str(uuid.uuid4()),
                            inspector_id=world.users["team_leader"].id, checked_in_at=datetime.now(UTC))
    db.session.add(inspection)
    office = bearer(world.users["office"])
    _db.session.commit()
    response = client.post(f"/api/v1/inspections/{inspection.uuid}/record-document", headers=office)
    assert response.status_code == 409 and "尚未提交" in response.get_json()["detail"]


def test_the_cli_issues_the_record_and_exports_it_again(cli, client, db, world, recorded, tmp_path):  # noqa: F811
    inspection_uuid, photos, leader = recorded
    for data in photos:
        upload(client, leader, data)
    out = tmp_path / "record.pdf"
    no_actor = cli.invoke(args=["document", "inspection-record", inspection_uuid, "--out", str(out)])
    assert no_actor.exit_code == 1 and "--by" in no_actor.output
    refused = cli.invoke(args=["document", "inspection-record", inspection_uuid, "--out", str(out),
                               "--by", world.users["propaganda"].username])
    assert refused.exit_code == 1 and "无权" in refused.output
    result = cli.invoke(args=["document", "inspection-record", inspection_uuid, "--out", str(out),
                              "--by", world.users["office"].username])
    assert result.exit_code == 0, result.output
    assert "已出具检查记录" in result.output
    assert service.verify_pdf(out.read_bytes()).status == "genuine"
    again = cli.invoke(args=["document", "inspection-record", inspection_uuid, "--out", str(tmp_path / "b.pdf"),
                             "--by", world.users["office"].username])
    assert again.exit_code == 0 and "未重复出具" in again.output
    assert (tmp_path / "b.pdf").read_bytes() == out.read_bytes()
    unknown = cli.invoke(args=["document", "inspection-record", str(uuid.uuid4()), "--out", str(out),
                               "--by", world.users["office"].username])
    assert unknown.exit_code == 1 and "不存在" in unknown.output
