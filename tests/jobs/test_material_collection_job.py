"""Opening the material library with a queue asks the worker to collect new notes (face
detection takes seconds) instead of doing it inside the GET; without a queue the visit collects
them itself; a visit that loses the race to collect (PostgreSQL's UNIQUE) still shows the page."""

from __future__ import annotations

import sqlalchemy as sa
from job_queue import queued  # noqa: F401  (fixture)
from material_world import make_assignment, material_world, world  # noqa: F401
from sqlalchemy.exc import IntegrityError
from web_session import login

from server.extensions import db as _db
from server.jobs.models.job import Job
from server.jobs.running import run_job
from server.publicity import materials
from server.publicity.models.material import MaterialItem


def _items() -> int:
    return _db.session.scalar(sa.select(sa.func.count()).select_from(MaterialItem))


def test_with_a_queue_the_library_asks_once_and_the_worker_collects(client, material_world, queued):  # noqa: F811
    login(client, material_world.users["propaganda"])
    assert client.get("/materials").status_code == 200
    assert _items() == 0  # nothing detected inside the request
    [job] = _db.session.scalars(sa.select(Job).where(Job.kind == "materials.collect")).all()
    assert queued.count == 1
    client.get("/materials")  # reloading asks for nothing new
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 1 and queued.count == 1
    assert run_job(job.id)
    _db.session.expire_all()
    assert _items() == len(material_world.notes) and _db.session.get(Job, job.id).result == {
        "collected": len(material_world.notes)}
    page = client.get("/materials").get_data(as_text=True)
    assert f"共 {len(material_world.notes)} 条" in page  # the candidates are listed now
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 1  # none waiting: no job


def test_without_a_queue_the_visit_collects(client, material_world):  # noqa: F811
    login(client, material_world.users["propaganda"])
    assert client.get("/materials").status_code == 200
    assert _items() == len(material_world.notes)
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0


def test_a_visit_that_loses_the_race_to_collect_still_shows_the_page(client, material_world,  # noqa: F811
                                                                     monkeypatch):
    def collected_meanwhile(actor=None):
        raise IntegrityError("INSERT INTO material_item", {}, Exception("duplicate key example_note_id"))

    monkeypatch.setattr(materials, "collect_note_candidates", collected_meanwhile)
    login(client, material_world.users["propaganda"])
    assert client.get("/materials").status_code == 200
