"""Signatures on site as `signature` sync operations: an inspector's or the venue person's PNG, or
a refusal with a witness note; only on a draft of the caller's team's record; the same signature
again is success, other content under its UUID 409, a bad image 422. The record's page shows them."""

from __future__ import annotations

import base64
import hashlib
import io
import uuid

import pytest
import sqlalchemy as sa
from assignment_world import make_assignment, world  # noqa: F401  (fixtures)
from PIL import Image, ImageDraw
from test_sync_api import now_text, operation
from web_session import login

from server.accounts.auth import issue_device_token
from server.audit.models.audit import AuditEvent
from server.columns import utcnow
from server.extensions import db as _db
from server.field.models.inspection import Inspection
from server.field.models.signature import Signature

PUSH = "/api/v1/sync/push"


def signature_png(stroke: int = 0) -> bytes:
    """A signature as the phone app draws it: dark strokes on a transparent canvas."""
    image = Image.new("RGBA", (300, 100), (255, 255, 255, 0))
    ImageDraw.Draw(image).line([(10, 70), (60, 20 + stroke), (120, 80), (200, 15), (290, 60)], fill=(0, 0, 0, 255),
                               width=5)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def signature_payload(inspection_uuid: str, *, role: str = "inspector", name: str = "孙某",
                      png: bytes | None = None, refused: bool = False, witness_note: str | None = None,
                      signature_uuid: str | None = None, **overrides) -> dict:
    png = None if refused else (png if png is not None else signature_png())
    payload = {"uuid": signature_uuid or str(uuid.uuid4()), "inspection_uuid": inspection_uuid, "role": role,
               "signer_name": name, "signed_at": now_text(), "refused": refused, "witness_note": witness_note,
               "png_base64": base64.b64encode(png).decode() if png is not None else None,
               "png_sha256": hashlib.sha256(png).hexdigest() if png is not None else None}
    payload.update(overrides)
    return payload


def signature_op(payload: dict) -> dict:
    return operation("signature", payload["uuid"], payload)


def bearer(user) -> dict:
    raw, token = issue_device_token(user, "测试手机", channel="api")
    token.last_used_at = utcnow()
    return {"Authorization": f"Bearer {raw}"}


def pushed(client, headers: dict, operations: list[dict]) -> list[dict]:
    _db.session.commit()
    response = client.post(PUSH, headers=headers, json={"device_id": str(uuid.uuid4()), "device_time": now_text(),
                                                        "operations": operations})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["results"]


def statuses(results: list[dict]) -> list[int]:
    return [result["status"] for result in results]


@pytest.fixture
def leader(db, world):  # noqa: F811
    return bearer(world.users["team_leader"])


@pytest.fixture
def checked_in(client, db, world, make_assignment, leader):  # noqa: F811
    """The world's team revealed its assignment and checked in: a draft record; its UUID."""
    assignment = make_assignment("dispatched")
    inspection_uuid = str(uuid.uuid4())
    moment = now_text()
    results = pushed(client, leader, [
        operation("assignment_reveal", assignment.uuid, {"assignment_uuid": assignment.uuid, "how": "code",
                                                         "revealed_at": moment, "device_time": moment}),
        operation("inspection", inspection_uuid, {"uuid": inspection_uuid, "assignment_uuid": assignment.uuid,
                                                  "checked_in_at": moment, "latitude": None, "longitude": None,
                                                  "device_time": moment, "status": "draft"})])
    assert statuses(results) == [200, 200], results
    return inspection_uuid


def held(db, signature_uuid: str) -> Signature | None:
    return db.session.scalar(sa.select(Signature).where(Signature.uuid == signature_uuid)
                             .execution_options(populate_existing=True))


def test_signatures_and_a_refusal_are_kept_with_who_pushed_them(client, db, world, leader, checked_in):
    png = signature_png()
    inspector = signature_payload(checked_in, name="孙某", png=png)
    venue = signature_payload(checked_in, role="venue_person", name="钱某某", refused=True,
                              witness_note="负责人看过记录后拒绝签字，由保安李某见证。")
    results = pushed(client, leader, [signature_op(inspector), signature_op(venue)])
    assert statuses(results) == [200, 200], results

    signed = held(db, inspector["uuid"])
    assert signed.png == png and signed.png_sha256 == hashlib.sha256(png).hexdigest()
    assert signed.role == "inspector" and signed.signer_name == "孙某" and not signed.refused
    assert signed.signer_user_id == world.users["team_leader"].id  # the written name tied to the account
    refusal = held(db, venue["uuid"])
    assert refusal.refused and refusal.png is None and refusal.png_sha256 is None
    assert refusal.witness_note == "负责人看过记录后拒绝签字，由保安李某见证。" and refusal.signer_user_id is None

    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "inspection.signed",
                                                            AuditEvent.object_id == checked_in)
                                .order_by(AuditEvent.id)).all()
    assert [(e.details["role"], e.details["signer"], e.details["refused"]) for e in events] == [
        ("inspector", "孙某", False), ("venue_person", "钱某某", True)]


def test_the_same_signature_again_is_success_and_other_content_is_409(client, db, world, leader, checked_in):
    payload = signature_payload(checked_in)
    first = pushed(client, leader, [signature_op(payload)])
    again = pushed(client, leader, [signature_op(payload)])  # the same change queued twice, another op_id
    assert statuses(first) == statuses(again) == [200]
    changed = dict(payload, signer_name="孙某某")
    redrawn = dict(payload, **{key: value for key, value in signature_payload(checked_in, png=signature_png(30)).items()
                                 if key in ("png_base64", "png_sha256")})
    results = pushed(client, leader, [signature_op(changed), signature_op(redrawn)])
    assert statuses(results) == [409, 409], results
    assert "内容不同" in results[0]["detail"] and "signer_name" in results[0]["detail"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Signature)
                             .where(Signature.uuid == payload["uuid"])) == 1
    assert held(db, payload["uuid"]).signer_name == "孙某"
    events = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "inspection.signed", AuditEvent.object_id == checked_in))
    assert events == 1


def _bad_png_payloads(inspection_uuid: str) -> dict[str, tuple[dict, str]]:
    png = signature_png()
    jpeg = io.BytesIO()
    Image.new("RGB", (20, 20), "white").save(jpeg, "JPEG")
    huge = png + b"\0" * (256 * 1024)
    return {
        "not base64": (signature_payload(inspection_uuid, png_base64="这不是base64!", png_sha256="0" * 64), "base64"),
        "not a PNG": (signature_payload(inspection_uuid, png=jpeg.getvalue()), "PNG"),
        "too large": (signature_payload(inspection_uuid, png=huge), "256 KiB"),
        "hash mismatch": (signature_payload(inspection_uuid, png=png, png_sha256=hashlib.sha256(b"x").hexdigest()),
                          "SHA-256"),
        "refused without witness": (signature_payload(inspection_uuid, refused=True, witness_note=None), "见证"),
        "refused with blank witness": (signature_payload(inspection_uuid, refused=True, witness_note="  "), "见证"),
        "refused with an image": (signature_payload(inspection_uuid, refused=True, witness_note="见证人李某",
                                                    png_base64=base64.b64encode(png).decode(),
                                                    png_sha256=hashlib.sha256(png).hexdigest()), "不能附签名图片"),
        "signed without an image": (signature_payload(inspection_uuid, png_base64=None, png_sha256=None), "须附签名图片"),
        "unknown role": (signature_payload(inspection_uuid, role="witness"), "inspector"),
        "name too long": (signature_payload(inspection_uuid, name="张" * 65), "1–64"),
        "witness note too long": (signature_payload(inspection_uuid, refused=True, witness_note="见" * 501), "500"),
    }


@pytest.mark.parametrize("case", list(_bad_png_payloads(str(uuid.uuid4()))))
def test_a_bad_signature_is_refused_with_a_chinese_reason(client, db, leader, checked_in, case):
    payload, reason = _bad_png_payloads(checked_in)[case]
    results = pushed(client, leader, [signature_op(payload)])
    assert statuses(results) == [422], results
    assert results[0]["detail"].startswith("签字内容无效") and reason in results[0]["detail"], results[0]["detail"]
    assert held(db, payload["uuid"]) is None


def test_no_new_signature_after_submission_but_the_same_one_again_is_success(client, db, leader, checked_in):
    before = signature_payload(checked_in)
    moment = now_text()
    submission = operation("inspection_submission", checked_in, {"inspection_uuid": checked_in,
                                                                 "submitted_at": moment, "device_time": moment})
    assert statuses(pushed(client, leader, [signature_op(before), submission])) == [200, 200]
    late = signature_payload(checked_in, role="venue_person", name="钱某某")
    results = pushed(client, leader, [signature_op(late), signature_op(before)])
    assert statuses(results) == [409, 200], results
    assert "已提交" in results[0]["detail"]
    assert held(db, late["uuid"]) is None


def test_submission_does_not_wait_for_signatures(client, db, leader, checked_in):
    moment = now_text()
    results = pushed(client, leader, [operation("inspection_submission", checked_in, {
        "inspection_uuid": checked_in, "submitted_at": moment, "device_time": moment})])
    assert statuses(results) == [200]
    inspection = db.session.scalar(sa.select(Inspection).where(Inspection.uuid == checked_in)
                                   .execution_options(populate_existing=True))
    assert inspection.status != "draft"


def test_another_team_cannot_sign_the_record(client, db, world, checked_in):
    payload = signature_payload(checked_in, name="外人")
    results = pushed(client, bearer(world.users["outsider"]), [signature_op(payload)])
    assert statuses(results)[0] in (403, 404), results
    assert held(db, payload["uuid"]) is None
    unknown = signature_payload(str(uuid.uuid4()))
    assert statuses(pushed(client, bearer(world.users["team_leader"]), [signature_op(unknown)])) == [404]


def test_the_entity_id_must_name_the_signature(client, db, leader, checked_in):
    payload = signature_payload(checked_in)
    results = pushed(client, leader, [operation("signature", str(uuid.uuid4()), payload)])
    assert statuses(results) == [422]


# --- the record's page ---------------------------------------------------------------------------


def test_the_record_page_shows_each_signature_to_its_readers_only(app, client, db, world, leader, checked_in):
    png = signature_png()
    signed = signature_payload(checked_in, name="孙某", png=png)
    refused = signature_payload(checked_in, role="venue_person", name="钱某某", refused=True,
                                witness_note="拒绝签字，保安李某见证")
    assert statuses(pushed(client, leader, [signature_op(signed), signature_op(refused)])) == [200, 200]
    inspection = db.session.scalar(sa.select(Inspection).where(Inspection.uuid == checked_in))
    page = f"/inspections/{inspection.id}"
    image = f"{page}/signatures/{hashlib.sha256(png).hexdigest()}.png"

    web = app.test_client()
    login(web, world.users["team_member"])
    html = web.get(page).get_data(as_text=True)
    assert "现场签字" in html and "督查人员：孙某" in html and image in html
    assert "被检查场所负责人：钱某某" in html and "拒绝签字" in html and "拒绝签字，保安李某见证" in html
    response = web.get(image)
    assert response.status_code == 200 and response.mimetype == "image/png" and response.data == png
    assert response.headers["Cache-Control"] == "private, no-store"
    assert web.get(f"{page}/signatures/{'0' * 64}.png").status_code == 404

    login(web, world.users["outsider"])  # another inspector: not the record's team
    assert web.get(image).status_code == 404
