"""Entering the contribution that completes a draw's seed through each channel: the API (problems
for every refusal), the CLI (one Chinese line and exit 1) and the auditor's page."""

from __future__ import annotations

import re

import sqlalchemy as sa
from assignment_world import PASSWORD_HASH
from test_cli_draws import assert_one_line_error
from test_cli_draws import create as cli_create
from test_cli_draws import latest_draw
from test_cli_draws import world as cli_world  # noqa: F401  (the fixture)
from test_draws_api import assert_problem, bearer
from test_draws_api import create as api_create
from test_draws_api import world  # noqa: F401  (the fixture)
from web_session import csrf, login

from server.audit.models.audit import AuditEvent
from server.draws.models.draw import Assignment, Draw

SHARE = "9d8c7b6a5f4e3d2c1b0a99887766554433"


def assignments_of(db, draw_id: int) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Assignment).where(Assignment.draw_id == draw_id))


def test_api_creates_a_waiting_draw_and_the_auditor_completes_it(client, db, world):
    created = api_create(client, world)
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert body["status"] == "awaiting" and body["assignments"] == [] and body["result_digest"] is None
    url = f"/api/v1/draws/{body['id']}/contribution"

    problem = assert_problem(client.post(url, json={"value": SHARE}, headers=bearer(world.users["office"])), 403)
    assert "纪检监察人员" in problem["detail"]
    problem = assert_problem(client.post(url, json={"value": "short"}, headers=bearer(world.users["auditor"])), 422)
    assert "16" in problem["detail"]
    assert_problem(client.post(url, json={"value": 12345678901234567890}, headers=bearer(world.users["auditor"])),
                   422)
    assert_problem(client.post(url, json={}, headers=bearer(world.users["auditor"])), 422)
    assert assignments_of(db, body["id"]) == 0

    answer = client.post(url, json={"value": SHARE}, headers=bearer(world.users["auditor"]))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    formed = answer.get_json()
    assert formed["status"] == "committed" and len(formed["assignments"]) == 3 and formed["result_digest"]
    assert assignments_of(db, body["id"]) == 3
    assert_problem(client.post(url, json={"value": SHARE}, headers=bearer(world.users["auditor"])), 409)
    assert_problem(client.post("/api/v1/draws/999999/contribution", json={"value": SHARE},
                               headers=bearer(world.users["auditor"])), 404)
    for outsider in ("inspector", "county", "propaganda"):
        assert_problem(client.post(url, json={"value": SHARE}, headers=bearer(world.users[outsider])), 403)


def test_openapi_documents_the_contribution(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    operation = paths["/api/v1/draws/{draw_id}/contribution"]["post"]
    assert {"200", "403", "404", "409", "422"} <= set(operation["responses"])


def test_cli_contribute_with_a_share_generated_on_the_spot(cli, db, cli_world):
    world = cli_world
    assert cli_create(cli, world).exit_code == 0
    made = latest_draw(db)
    assert made.status == "awaiting"

    refused = cli.invoke(args=["draw", "contribute", str(made.id), "--random", "--by", world["office"].username])
    assert_one_line_error(refused, "纪检监察人员")
    assert_one_line_error(cli.invoke(args=["draw", "contribute", str(made.id), "--by", world["auditor"].username]),
                          "--value", "--random")
    assert_one_line_error(cli.invoke(args=["draw", "contribute", "abc", "--random", "--by",
                                           world["auditor"].username]))

    result = cli.invoke(args=["draw", "contribute", str(made.id), "--random", "--by", world["auditor"].username])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    made = db.session.get(Draw, made.id)
    assert re.fullmatch(r"[0-9a-f]{32}", made.contribution) and made.contribution in result.output
    assert "生成密封任务 3 项" in result.output and assignments_of(db, made.id) == 3
    assert_one_line_error(cli.invoke(args=["draw", "contribute", str(made.id), "--value", SHARE, "--by",
                                           world["auditor"].username]), "只能录入一次")


def test_the_auditors_page_takes_the_share_and_the_office_only_waits(client, db, world):
    for role in ("auditor", "office"):
        world.users[role].password_hash = PASSWORD_HASH
    body = api_create(client, world).get_json()
    url = f"/draws/{body['id']}/contribution"

    login(client, world.users["office"])
    detail = client.get(f"/draws/{body['id']}").get_data(as_text=True)
    assert "待录入随机数" in detail and "纪检监察人员录入随机数" in detail and url not in detail
    page = client.get(url).get_data(as_text=True)
    assert "等待纪检监察人员录入随机数" in page and 'name="value"' not in page
    # The office cannot post it either: the form is not taken from a role the policy does not name.
    token = csrf(client, f"/draws/{body['id']}")
    client.post(url, data={"value": SHARE, "csrf_token": token})
    assert assignments_of(db, body["id"]) == 0

    login(client, world.users["auditor"])
    assert f'href="{url}"' in client.get(f"/draws/{body['id']}").get_data(as_text=True)
    page = client.get(url).get_data(as_text=True)
    assert 'name="value"' in page and "data-seed-share" in page
    script = re.search(r'<script src="([^"]*seed_share\.js)"', page).group(1)
    with client.get(script) as served:  # a file response: closed here, not left to the collector
        assert served.status_code == 200 and b"crypto.getRandomValues" in served.data
    too_short = client.post(url, data={"value": "123", "csrf_token": csrf(client, url)})
    assert too_short.status_code == 422 and "至少 16 个字符" in too_short.get_data(as_text=True)
    done = client.post(url, data={"value": SHARE, "csrf_token": csrf(client, url)})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/draws/{body['id']}")
    assert assignments_of(db, body["id"]) == 3
    seeded = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "draw.seeded",
                                                           AuditEvent.object_id == str(body["id"])))
    assert seeded.channel == "web" and seeded.details["contribution"] == SHARE
    assert SHARE in client.get(url).get_data(as_text=True)
    assert SHARE in client.get(f"/draws/{body['id']}").get_data(as_text=True)


def test_the_auditors_home_lists_the_draws_waiting_for_a_share(client, db, world):
    world.users["auditor"].password_hash = PASSWORD_HASH
    waiting = api_create(client, world).get_json()["id"]
    done = api_create(client, world).get_json()["id"]
    client.post(f"/api/v1/draws/{done}/contribution", json={"value": SHARE}, headers=bearer(world.users["auditor"]))
    login(client, world.users["auditor"])
    home = client.get("/").get_data(as_text=True)
    assert "待录入随机数的抽查" in home
    assert f'href="/draws/{waiting}/contribution"' in home and f'href="/draws/{done}/contribution"' not in home
