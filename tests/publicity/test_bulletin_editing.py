"""Editing a draft through the services: items added, moved and removed one at a time, the
issue's own wording per item kept across reordering and masked in what is printed, the version
guard, and no editing once submitted."""

from __future__ import annotations

from datetime import date

import pytest
from material_world import make_assignment, material_world, world  # noqa: F401  (fixtures)
from test_bulletin_service import approved_items

from server.audit.models.audit import AuditEvent
from server.errors import Conflict, Invalid, NotFound
from server.publicity import bulletin_print
from server.publicity import bulletins as service
from server.publicity import materials


def draft(material_world):
    return service.create_bulletin(actor=material_world.users["propaganda"], title="编辑测试",
                                   period_start=date(2026, 3, 1), period_end=date(2026, 3, 31))


def ids(bulletin):
    return [entry.material_item_id for entry in bulletin.entries]


def test_add_move_remove_keep_the_wording(db, material_world):
    a, b, c, d = approved_items(material_world)
    propaganda = material_world.users["propaganda"]
    bulletin = draft(material_world)
    for item in (a, b, c):
        service.add_item(bulletin, item.id, actor=propaganda)
    assert ids(bulletin) == [a.id, b.id, c.id]
    assert [entry.position for entry in bulletin.entries] == [1, 2, 3]
    with pytest.raises(Invalid):
        service.add_item(bulletin, a.id, actor=propaganda)
    service.set_item_wording(bulletin, b.id, heading="本期标题", text="本期正文。", actor=propaganda)
    service.move_item(bulletin, b.id, -1, actor=propaganda)
    service.move_item(bulletin, c.id, +1, actor=propaganda)  # already last: stays
    assert ids(bulletin) == [b.id, a.id, c.id]
    assert [entry.position for entry in bulletin.entries] == [1, 2, 3]
    service.remove_item(bulletin, a.id, actor=propaganda)
    assert ids(bulletin) == [b.id, c.id]
    entry = bulletin.entries[0]
    assert (entry.heading, entry.text) == ("本期标题", "本期正文。")
    # replacing the whole list (API) keeps the wording of the items it keeps
    service.update_bulletin(bulletin, actor=propaganda, item_ids=[c.id, b.id, d.id])
    assert ids(bulletin) == [c.id, b.id, d.id] and bulletin.entries[1].heading == "本期标题"
    with pytest.raises(NotFound):
        service.move_item(bulletin, a.id, 1, actor=propaganda)
    kinds = {event.action for event in db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.object_type == "bulletin", AuditEvent.object_id == str(bulletin.id)))}
    assert {"bulletin.item_added", "bulletin.item_moved", "bulletin.item_removed", "bulletin.item_worded"} <= kinds


def test_wording_is_masked_in_the_printed_context(db, material_world):
    a, *_ = approved_items(material_world)
    propaganda = material_world.users["propaganda"]
    operator = material_world.world.venue.operator_name
    bulletin = draft(material_world)
    service.add_item(bulletin, a.id, actor=propaganda)
    service.set_item_wording(bulletin, a.id, heading=f"{operator}的做法", text=f"{operator}电话13812345678。\n第二段。",
                             actor=propaganda)
    [printed] = bulletin_print.build_context(bulletin)["positive"] + bulletin_print.build_context(bulletin)["negative"]
    assert operator not in printed["title"] and operator not in "".join(printed["paragraphs"])
    # a sentence that only gives a telephone number goes, masked or not; the rest stays
    assert printed["paragraphs"] == ["第二段。"]
    # blank goes back to the library's (masked) wording
    service.set_item_wording(bulletin, a.id, heading=" ", text="", actor=propaganda)
    [printed] = bulletin_print.build_context(bulletin)["positive"] + bulletin_print.build_context(bulletin)["negative"]
    # (the note's first sentence, taken from the text as printed: no "联系电话…" left in it)
    library = materials.masked_title(a)
    assert printed["title"].startswith(library[:library.index("，") + 1]) and "联系电话" not in printed["title"]


def test_version_guard_and_no_edits_after_submission(db, material_world):
    a, b, *_ = approved_items(material_world)
    propaganda = material_world.users["propaganda"]
    bulletin = draft(material_world)
    service.add_item(bulletin, a.id, actor=propaganda)
    stale = bulletin.version - 1
    with pytest.raises(Conflict):
        service.add_item(bulletin, b.id, actor=propaganda, version=stale)
    assert ids(bulletin) == [a.id]
    service.transition(bulletin, "submit", actor=propaganda)
    for attempt in (lambda: service.add_item(bulletin, b.id, actor=propaganda),
                    lambda: service.remove_item(bulletin, a.id, actor=propaganda),
                    lambda: service.move_item(bulletin, a.id, 1, actor=propaganda),
                    lambda: service.set_item_wording(bulletin, a.id, heading="改", text=None, actor=propaganda)):
        with pytest.raises(Conflict):
            attempt()
