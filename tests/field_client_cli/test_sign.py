"""`anfang-field sign`: a signature on site (a PNG) or a refusal with a witness note, written with
its outbox operation in one transaction, listed by `show`, pushed by `sync` like any other
operation and kept by the live server."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path

import sqlalchemy as sa
from PIL import Image, ImageDraw
from test_field_cli import login_and_pull, ok, outbox_entities, refused, rows, world  # noqa: F401  (fixture)


def signature_file(path: Path) -> Path:
    image = Image.new("RGBA", (240, 80), (255, 255, 255, 0))
    ImageDraw.Draw(image).line([(10, 60), (70, 15), (130, 65), (230, 20)], fill=(0, 0, 0, 255), width=4)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    path.write_bytes(buffer.getvalue())
    return path


def test_signatures_are_recorded_offline_shown_and_synced(world, tmp_path):  # noqa: F811
    server, dispatched = world
    assignment = dispatched[-1]
    home = tmp_path / "field"
    login_and_pull(home, server.url, assignment.username)
    assert "尚未揭封签到" in refused(home, "sign", assignment.id, "--role", "inspector", "--name", "孙某",
                                   "--png", signature_file(tmp_path / "early.png"))
    ok(home, "reveal", assignment.id, "--code", assignment.code)

    png = signature_file(tmp_path / "sign.png")
    assert "已记录督查人员孙建国的签字" in ok(home, "sign", assignment.id, "--role", "inspector", "--name", "孙建国",
                                        "--png", png)
    output = ok(home, "sign", assignment.id, "--role", "venue_person", "--name", "钱某某", "--refused",
                "--witness", "负责人阅后拒绝签字，保安李某见证")
    assert "拒绝签字" in output

    # Refused before anything is written: one of --png/--refused, a witness for a refusal, a real PNG.
    jpeg = tmp_path / "photo.jpg"
    Image.new("RGB", (20, 20), "white").save(jpeg, "JPEG")
    assert "PNG" in refused(home, "sign", assignment.id, "--role", "inspector", "--name", "周某", "--png", jpeg)
    assert "--witness" in refused(home, "sign", assignment.id, "--role", "venue_person", "--name", "钱某某",
                                  "--refused")
    assert "二者取一" in refused(home, "sign", assignment.id, "--role", "inspector", "--name", "周某")
    assert "二者取一" in refused(home, "sign", assignment.id, "--role", "inspector", "--name", "周某", "--png", png,
                               "--refused", "--witness", "x")
    assert "1–64" in refused(home, "sign", assignment.id, "--role", "inspector", "--name", "张" * 65, "--png", png)
    too_large = tmp_path / "large.png"
    too_large.write_bytes(png.read_bytes() + b"\0" * (256 * 1024))
    assert "256 KiB" in refused(home, "sign", assignment.id, "--role", "inspector", "--name", "周某",
                                "--png", too_large)

    stored = rows(home, "SELECT role, signer_name, refused, witness_note, png, png_sha256 FROM signatures"
                        " ORDER BY role")
    assert stored == [("inspector", "孙建国", 0, None, png.read_bytes(), hashlib.sha256(png.read_bytes()).hexdigest()),
                      ("venue_person", "钱某某", 1, "负责人阅后拒绝签字，保安李某见证", None, None)]
    assert outbox_entities(home) == ["assignment_reveal", "inspection", "signature", "signature"]
    ((payload,),) = rows(home, "SELECT payload FROM outbox WHERE entity = 'signature' ORDER BY seq LIMIT 1")
    payload = json.loads(payload)
    assert set(payload) == {"uuid", "inspection_uuid", "role", "signer_name", "signed_at", "refused", "witness_note",
                            "png_base64", "png_sha256"}
    assert base64.b64decode(payload["png_base64"]) == png.read_bytes() and payload["refused"] is False

    shown = ok(home, "show", assignment.id)
    assert "现场签字" in shown and "孙建国" in shown and "已签字" in shown
    assert "钱某某" in shown and "拒绝签字" in shown and "保安李某见证" in shown

    ok(home, "sync")
    assert rows(home, "SELECT COUNT(*) FROM outbox WHERE state != 'done'") == [(0,)]
    from server.extensions import db
    from server.field.models.signature import Signature

    with server.server.app.app_context():
        held = db.session.execute(sa.select(Signature.role, Signature.signer_name, Signature.refused, Signature.png)
                                  .order_by(Signature.role)).all()
        db.session.remove()
    assert [tuple(row) for row in held] == [("inspector", "孙建国", False, png.read_bytes()),
                                            ("venue_person", "钱某某", True, None)]

    ok(home, "submit", assignment.id)
    assert "amend" in refused(home, "sign", assignment.id, "--role", "venue_person", "--name", "钱某某",
                              "--png", png)
