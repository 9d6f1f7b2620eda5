"""The API's side of jobs: a draft asked for with a queue answers 202, the job and a Location to
poll; the job says when its file is ready and where; nobody else sees it. Without a queue the
draft comes at once, as before."""

from __future__ import annotations

from job_queue import queued  # noqa: F401  (fixture)
from material_world import make_assignment, material_world, world  # noqa: F401
from test_bulletin_preview_job import _bulletin_with_an_item

from server.accounts.auth import issue_device_token
from server.extensions import db as _db
from server.jobs.running import run_job


def _bearer(user) -> dict:
    raw, _ = issue_device_token(user, "测试")
    _db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


def test_with_a_queue_the_draft_is_a_job_to_poll(client, material_world, queued):  # noqa: F811
    bulletin = _bulletin_with_an_item(material_world)
    # Tokens first: a request ends the session the world's rows belong to.
    propaganda, office, admin = (_bearer(material_world.users[role]) for role in ("propaganda", "office", "admin"))
    accepted = client.get(f"/api/v1/bulletins/{bulletin.id}/preview", headers=propaganda)
    assert accepted.status_code == 202, accepted.get_data(as_text=True)
    body = accepted.get_json()
    assert body["state"] == "queued" and body["state_label"] == "排队中" and body["label"] == "生成简报样稿"
    assert body["file_url"] is None and accepted.headers["Retry-After"] == "2"
    location = accepted.headers["Location"]
    assert location == f"/api/v1/jobs/{body['id']}"
    assert client.get(location, headers=propaganda).get_json()["state"] == "queued"
    # Someone else (the office may also preview) does not see this job, nor its file.
    assert client.get(location, headers=office).status_code == 404
    assert client.get(f"{location}/file", headers=propaganda).status_code == 404  # not yet
    assert run_job(body["id"])
    done = client.get(location, headers=propaganda).get_json()
    assert done["state"] == "done" and done["file_url"] == f"{location}/file" and done["finished_at"].endswith("+00:00")
    pdf = client.get(done["file_url"], headers=propaganda)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")
    assert client.get(done["file_url"], headers=office).status_code == 404
    # Asking again for the unchanged issue gives the file at once.
    again = client.get(f"/api/v1/bulletins/{bulletin.id}/preview", headers=propaganda)
    assert again.status_code == 200 and again.data == pdf.data
    # The administrator sees every job.
    assert client.get(location, headers=admin).status_code == 200


def test_without_a_queue_the_draft_comes_at_once(client, material_world):  # noqa: F811
    bulletin = _bulletin_with_an_item(material_world)
    answer = client.get(f"/api/v1/bulletins/{bulletin.id}/preview", headers=_bearer(material_world.users["office"]))
    assert answer.status_code == 200 and answer.data.startswith(b"%PDF-")
