"""`anfang-field amend` reaching findings, penalties and notes: the local store shows the corrected
record at once (nothing deleted), and the server, once synced, holds the same."""

from __future__ import annotations

import json

import sqlalchemy as sa
from test_field_cli import login_and_pull, ok, refused, rows, world  # noqa: F401  (world: fixture)


def server_rows(server, model, *where):
    from server.extensions import db

    with server.server.app.app_context():
        found = db.session.scalars(sa.select(model).where(*where)).all()
        db.session.expunge_all()
        db.session.remove()
        return found


def test_amend_adds_and_withdraws_findings_penalties_and_notes(world, tmp_path):  # noqa: F811
    from server.field.models.inspection import Amendment, ExampleNote, Finding, Penalty

    server, dispatched = world
    assignment = dispatched[0]
    home = tmp_path / "device"
    login_and_pull(home, server.url, assignment.username)
    ok(home, "reveal", assignment.id, "--code", assignment.code, "--lat", "29.1", "--lon", "119.6")
    half = assignment.capacity // 2
    ok(home, "record", assignment.id, "--set", f"k3_visitors={half + 1}")
    ((finding,),) = rows(home, "SELECT uuid FROM findings WHERE withdrawn_at IS NULL")
    ok(home, "penalty", assignment.id, "--finding", finding[:8], "--type", "fine", "--amount", "2000")
    ok(home, "note", assignment.id, "--negative", "入口未限流")
    ((fine,),) = rows(home, "SELECT uuid FROM penalties")
    ((note,),) = rows(home, "SELECT uuid FROM notes")
    ok(home, "submit", assignment.id)

    # Each part is checked before anything is written.
    for args, words in ((("--add-finding", "K1:未关停"), "不适用"), (("--add-finding", "K3"), "规则:问题描述"),
                        (("--add-penalty", f"{finding[:8]}:fine"), "金额"),
                        (("--add-penalty", f"{finding[:8]}:warning:300"), "不需要金额"),
                        (("--add-penalty", f"{finding[:8]}:jail"), "处罚种类"),
                        (("--withdraw-penalty", "ffffffff"), "不存在或已撤回"),
                        (("--add-note", "neutral:x"), "positive:文字"),
                        (("--withdraw-finding", finding[:8], "--add-penalty", f"{finding[:8]}:warning"), "本次更正中撤回")):
        assert words in refused(home, "amend", assignment.id, "--reason", "试", *args)
    assert rows(home, "SELECT COUNT(*) FROM amendments") == [(0,)]

    output = ok(home, "amend", assignment.id, "--reason", "罚款改为警告，补充问题和正面典型",
                "--set", f"k3_visitors={half}", "--add-finding", "K3:出口未设置限流提示",
                "--withdraw-penalty", fine[:8], "--add-penalty", f"{finding[:8]}:警告",
                "--add-note", "positive:测温扫码到位", "--withdraw-note", note[:8])
    assert "补充问题" in output and "撤回 2 项记录" in output and "已追加更正记录" in output
    ((amendment, payload),) = rows(home, "SELECT uuid, payload FROM amendments")
    payload = json.loads(payload)
    assert payload["observations"] == {"k3_visitors": half}
    assert payload["penalties_withdrawn"] == [fine] and payload["notes_withdrawn"] == [note]
    assert [(p["finding_uuid"], p["type"], p["amount"]) for p in payload["penalties_added"]] == [
        (finding, "warning", None)]
    # Nothing deleted: withdrawn rows keep everything and name the amendment.
    assert rows(home, "SELECT amount, withdrawn_by FROM penalties WHERE uuid = ?", (fine,)) == [(2000, amendment)]
    assert rows(home, "SELECT text, withdrawn_by FROM notes WHERE uuid = ?", (note,)) == [("入口未限流", amendment)]
    assert rows(home, "SELECT rule_code, source FROM findings WHERE amendment_uuid = ?", (amendment,)) == [
        ("K3", "manual")]

    shown = ok(home, "show", assignment.id)
    assert f"k3_visitors = {half}（已更正，原记录 {half + 1}）" in shown
    assert "出口未设置限流提示" in shown and "测温扫码到位" in shown
    assert "已撤回（更正）" in shown and "处罚建议 1" in shown

    # Withdrawing a finding takes its live penalties with it.
    ((added_penalty,),) = rows(home, "SELECT uuid FROM penalties WHERE amendment_uuid IS NOT NULL")
    ok(home, "amend", assignment.id, "--reason", "问题核实不存在", "--withdraw-finding", finding[:8])
    assert rows(home, "SELECT withdrawn_at IS NOT NULL FROM penalties WHERE uuid = ?", (added_penalty,)) == [(1,)]
    assert "不存在或已撤回" in refused(home, "amend", assignment.id, "--reason", "再撤", "--withdraw-note", note[:8])

    # The server accepts the outbox as it is and holds the same corrected record.
    ok(home, "sync")
    assert rows(home, "SELECT COUNT(*) FROM outbox WHERE state != 'done'") == [(0,)]
    assert len(server_rows(server, Amendment, Amendment.uuid == amendment)) == 1
    [server_fine] = server_rows(server, Penalty, Penalty.uuid == fine)
    assert server_fine.withdrawn_at is not None and server_fine.amount == 2000
    [server_note] = server_rows(server, ExampleNote, ExampleNote.uuid == note)
    assert server_note.withdrawn_at is not None
    [server_finding] = server_rows(server, Finding, Finding.uuid == finding)
    assert server_finding.withdrawn_by_amendment_id is not None
    [server_added] = server_rows(server, Penalty, Penalty.uuid == added_penalty)
    assert server_added.type == "warning" and server_added.withdrawn_at is not None
