"""The bulletin 样稿 through a queue: the editor waits on "生成中…", the worker renders, the page
opens the file; an edit to the issue makes a new draft, an unchanged issue reuses the file; the
admin retries a failed job from the page (with its confirmation)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from material_world import make_assignment, material_world, world  # noqa: F401
from job_queue import queued  # noqa: F401  (fixture)
from web_session import csrf, login

from server.extensions import db as _db
from server.jobs.models.job import Job
from server.jobs.running import run_job
from server.publicity import bulletins, materials
from server.publicity.models.material import MaterialItem


def _previews() -> list[Job]:
    return list(_db.session.scalars(sa.select(Job).where(Job.kind == "bulletin.preview").order_by(Job.id)))


def _bulletin_with_an_item(material_world):  # noqa: F811
    office, propaganda = material_world.users["office"], material_world.users["propaganda"]
    materials.collect_note_candidates(office)
    item = _db.session.scalars(sa.select(MaterialItem).where(
        MaterialItem.inspection_id == material_world.inspection.id).order_by(MaterialItem.id)).first()
    materials.review_material(item, "approved", actor=office)
    bulletin = bulletins.create_bulletin(actor=propaganda, title="后台生成样稿", period_start=date(2026, 3, 1),
                                         period_end=date(2026, 3, 31))
    bulletins.add_item(bulletin, item.id, actor=propaganda, version=bulletin.version)
    _db.session.commit()
    return bulletin


def test_the_editor_waits_then_gets_the_draft(app, client, material_world, queued):  # noqa: F811
    bulletin = _bulletin_with_an_item(material_world)
    login(client, material_world.users["propaganda"])
    url = f"/bulletins/{bulletin.id}/preview.pdf"
    asked = client.get(url)
    [job] = _previews()
    assert asked.status_code == 303 and asked.headers["Location"] == f"/jobs/{job.id}"
    waiting = client.get(f"/jobs/{job.id}")
    assert waiting.status_code == 202 and "生成中…" in waiting.get_data(as_text=True)
    assert queued.count == 1 and run_job(job.id)
    ready = client.get(url)
    assert ready.status_code == 200 and ready.data.startswith(b"%PDF-")
    assert client.get(url).data == ready.data and len(_previews()) == 1  # unchanged: the same file
    # An edit to the wording: a new draft is made.
    page = f"/bulletins/{bulletin.id}"
    entry = bulletin.entries[0]
    response = client.post(f"{page}/items/{entry.material_item_id}/wording", data={
        f"e{entry.material_item_id}-csrf_token": csrf(client, page), f"e{entry.material_item_id}-heading": "新的标题",
        f"e{entry.material_item_id}-text": "新的正文。"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert client.get(url).status_code == 303 and len(_previews()) == 2


def test_the_admin_retries_a_failed_job_with_confirmation(app, client, material_world, queued):  # noqa: F811
    bulletin = _bulletin_with_an_item(material_world)
    login(client, material_world.users["propaganda"])
    client.get(f"/bulletins/{bulletin.id}/preview.pdf")
    [job] = _previews()
    job.state, job.error, job.attempts = "failed", "任务超时未完成。", 3
    _db.session.commit()
    queued.connection.flushdb()
    login(client, material_world.users["admin"])
    url = f"/admin/jobs/{job.id}/retry"
    refused = client.post(url, data={"csrf_token": csrf(client, "/admin/jobs")})
    assert refused.status_code == 302
    assert "请勾选确认后再提交" in client.get("/admin/jobs").get_data(as_text=True)
    _db.session.expire_all()
    assert _db.session.get(Job, job.id).state == "failed"
    done = client.post(url, data={"csrf_token": csrf(client, "/admin/jobs"), "confirm": "y"})
    assert done.status_code == 302
    assert f"任务 {job.id} 已重新排队" in client.get("/admin/jobs").get_data(as_text=True)
    _db.session.expire_all()
    assert _db.session.get(Job, job.id).state == "queued" and queued.count == 1
    # Others do not see the page.
    login(client, material_world.users["office"])
    assert client.get("/admin/jobs").status_code == 403
