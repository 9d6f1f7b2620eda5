"""Load: N field devices push and upload photos while M office, enforcement and viewer users browse.

`anfang serve` (gunicorn gthread, production configuration, its default workers unless --workers)
runs on a fresh PostgreSQL database seeded with the demo (`anfang demo seed`), rate limits in Redis.
Each device is a demo inspector leading a two-person team, with a device token of its own and
--records dispatched assignments; per record it pushes the visit (reveal, inspection, observation,
finding, note, 1–2 photo rows) in one batch, uploads the 1–2 noise JPEGs (~50 KB) by tus (creation,
then PATCH chunks with a sha256 Upload-Checksum), pushes the submission and pulls its changes,
pausing --think seconds (±50 %) between requests, as one phone does; devices start spread over
--ramp seconds. Page users (office, enforcement, department and county, round robin) log in once
through the login form (CSRF token; each from its own X-Forwarded-For address, as behind nginx)
and open the pages of their navigation bar in turn, --page-think seconds apart, until the devices
are done. Afterwards the database is checked: every operation, inspection, observation, finding,
note, photo and evidence file exactly once, every inspection complete, every stored photo hashing
to its name. Client figures are per request (an upload's POST and PATCHes each count); the
server's own durations come from its access log (`duration_ms`, commit included, gunicorn's queue
not), CPU from /proc per process group, what the database did from pg_stat_activity each second.

Slow work goes to `anfang worker` (started beside the server, jobs on their own Redis database):
draft PDFs, the material library's collection of new notes (face detection), photo variants.

Pace. By default a device pauses 10 s (±50 %) between requests — a phone syncing each record as
its inspector finishes it, on a night when a few hundred do — and a page user reads each page
5 s. Measured on this machine (2 cores, nothing else running, 5 workers × 4 threads, 200 devices,
20 page users): 21.3 req/s for 140 s, push p95 290 ms, upload p95 79 ms, page p95 165 ms, 0
errors, 0 lost, 0 duplicated; the machine 47 % busy, PostgreSQL's backends idle 96 % of samples.

Where the time goes at the limit (--think 1 --page-think 1: every device and person at once,
about 200 requests/s offered): the server tops out at 55 req/s, 99 % of both cores busy (gunicorn
48 CPU-seconds of 53 s, this generator 10.5, PostgreSQL 10.1), push p95 3.9 s, page p95 2.9 s —
most of it queued: a push spends ~0.4 s in the server and ~1.6 s waiting for a gunicorn thread.
In the server it is Python CPU (not split further: no profiler ran here) and one lock: every
audited write appends to the audit chain's single head row (`SELECT … FOR UPDATE` until commit).
A push appends its events at its end (`audit.chain.capture_events`), which took the limit from 46
to 55 req/s and push p95 from 6.0 to 3.9 s; uploads (evidence.stored) and logins still take the
head in their request, and 26 % of the backends' samples wait on it (Lock/tuple). Hashing and
PDF rendering do not show: photos are ~50 KB and drafts render in the worker.

Run: .venv/bin/python bench/load.py [--devices 200] [--page-users 20] [--records 2] [--think 10]
     [--page-think 5] [--ramp 20] [--workers N] [--threads N] [--database-url URL] [--redis-url URL]
     [--log PATH]
Prints the headline figures last, one per line, as `name: value unit`. Targets on a 2-core machine:
page_p95_ms ≤ 500, push_p95_ms ≤ 1000, errors 0, lost_records 0, duplicated_records 0.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_support import Sampler, Server, build_devices, check_exactly_once, make_record, noise_jpeg, percentile
from scratch import scratch_postgresql

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PASSWORD = "anfang-demo-2021"
PAGE_USERS = ("office", "enforcement", "department", "county", "office2", "enforcement2")
CHUNK = 64 * 1024
TIMEOUT = httpx.Timeout(120.0)
GROUPS = ("push", "upload", "pull", "page", "login")


def group_of(method: str, path: str) -> str:
    if path.startswith("/api/v1/sync/push"):
        return "push"
    if path.startswith("/api/v1/uploads"):
        return "upload"
    if path.startswith("/api/v1/sync/pull"):
        return "pull"
    if path.startswith("/login"):
        return "login"
    if path in ("/healthz", "/metrics"):
        return "probe"
    return "page"


class Tally:
    """Every request's group, latency and outcome, as the client saw it."""

    def __init__(self):
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors = Counter()
        self.page_seconds: dict[str, list[float]] = defaultdict(list)

    async def request(self, client: httpx.AsyncClient, group: str, method: str, url: str, expected: int,
                      **options) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await client.request(method, url, **options)
        except httpx.HTTPError as exc:
            self.latencies[group].append(time.perf_counter() - started)
            self.errors[f"{group}: {type(exc).__name__}"] += 1
            return None
        elapsed = time.perf_counter() - started
        self.latencies[group].append(elapsed)
        if group == "page":
            self.page_seconds[httpx.URL(url).path].append(elapsed)
        if response.status_code != expected:
            self.errors[f"{group}: {method} {httpx.URL(url).path.split('/')[1:4]} {response.status_code}"] += 1
            return None
        return response


# --- devices --------------------------------------------------------------------------------------


async def pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(random.uniform(0.5, 1.5) * seconds)


async def push(tally: Tally, client: httpx.AsyncClient, device: dict, operations: list[dict]) -> None:
    """Until every operation is answered 200; a failed request is sent again, as a phone does."""
    for _ in range(3):
        response = await tally.request(client, "push", "POST", "/api/v1/sync/push", 200, json={
            "device_id": device["device_id"], "device_time": datetime.now(UTC).isoformat(timespec="seconds"),
            "operations": operations})
        if response is None:
            continue
        statuses = [result["status"] for result in response.json()["results"]]
        if statuses == [200] * len(operations):
            return
        tally.errors[f"push: operation answered {sorted(set(statuses) - {200})}"] += 1
        return


async def upload(tally: Tally, client: httpx.AsyncClient, data: bytes) -> None:
    """tus: creation, then PATCH chunks with a sha256 Upload-Checksum; a failure starts it again."""
    sha256 = hashlib.sha256(data).hexdigest()
    metadata = ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in
                        (("sha256", sha256), ("filetype", "image/jpeg"), ("filename", "IMG_0001.jpg")))
    for _ in range(3):
        created = await tally.request(client, "upload", "POST", "/api/v1/uploads/", 201, headers={
            "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)), "Upload-Metadata": metadata})
        if created is None:
            continue
        location = urljoin(str(client.base_url) + "/api/v1/uploads/", created.headers["Location"])
        offset = 0
        while offset < len(data):
            chunk = data[offset: offset + CHUNK]
            checksum = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
            answered = await tally.request(client, "upload", "PATCH", location, 204, content=chunk, headers={
                "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset), "Upload-Checksum": f"sha256 {checksum}",
                "Content-Type": "application/offset+octet-stream"})
            if answered is None:
                break
            offset = int(answered.headers["Upload-Offset"])
        if offset == len(data):
            return


async def run_device(tally: Tally, base: str, device: dict, records: list[dict], think: float, ramp: float) -> None:
    await asyncio.sleep(random.uniform(0, ramp))
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT,
                                 headers={"Authorization": f"Bearer {device['token']}"}) as client:
        cursor = 0
        for record in records:
            await push(tally, client, device, record["visit"])
            await pause(think)
            for data in record["photos"]:
                await upload(tally, client, data)
                await pause(think)
            await push(tally, client, device, record["submission"])
            await pause(think)
            pulled = await tally.request(client, "pull", "GET", f"/api/v1/sync/pull?cursor={cursor}", 200)
            if pulled is not None:
                cursor = pulled.json()["cursor"]
            await pause(think)


# --- page users -----------------------------------------------------------------------------------

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
NAV = re.compile(r'<nav class="site-nav".*?</nav>', re.S)
HREF = re.compile(r'href="(/[^"]*)"')


def _session_cookie(response: httpx.Response, cookie: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith("session="):
            return header.split(";", 1)[0]
    return cookie


async def run_page_user(tally: Tally, base: str, number: int, username: str, think: float, ramp: float,
                        done: asyncio.Event) -> None:
    # Production sends the session cookie only over HTTPS: the user is behind the proxy that ends
    # TLS (X-Forwarded-Proto), each from an address of its own (the login limit counts per address).
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": f"198.18.{number // 250}.{number % 250 + 1}"}
    await asyncio.sleep(random.uniform(0, min(ramp, 5.0)))
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT, headers=headers) as client:
        form = await tally.request(client, "login", "GET", "/login", 200)
        if form is None:
            return
        cookie = _session_cookie(form, "")
        token = CSRF.search(form.text).group(1)
        signed_in = await tally.request(client, "login", "POST", "/login", 302, data={
            "csrf_token": token, "username": username, "password": PASSWORD},
            headers={"Cookie": cookie, "Referer": "https://" + base.split("://", 1)[1] + "/login"})
        if signed_in is None:
            return
        cookie = _session_cookie(signed_in, cookie)
        home = await tally.request(client, "page", "GET", "/", 200, headers={"Cookie": cookie})
        if home is None:
            return
        nav = NAV.search(home.text)
        pages = HREF.findall(nav.group(0)) if nav else ["/"]
        turn = random.randrange(len(pages))
        while not done.is_set():
            await pause(think)
            turn += 1
            answered = await tally.request(client, "page", "GET", pages[turn % len(pages)], 200,
                                           headers={"Cookie": cookie})
            if answered is not None:
                cookie = _session_cookie(answered, cookie)


# --- the run --------------------------------------------------------------------------------------


async def run_load(base: str, world: list[dict], records: dict, args) -> float:
    tally = Tally()
    done = asyncio.Event()
    started = time.monotonic()
    pages = [asyncio.create_task(run_page_user(tally, base, number, PAGE_USERS[number % len(PAGE_USERS)],
                                               args.page_think, args.ramp, done))
             for number in range(args.page_users)]
    await asyncio.gather(*(run_device(tally, base, device, records[device["device_id"]], args.think, args.ramp)
                           for device in world))
    done.set()
    await asyncio.gather(*pages)
    return tally, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--page-users", type=int, default=20)
    parser.add_argument("--records", type=int, default=2, help="records (assignments) each device syncs")
    parser.add_argument("--think", type=float, default=10.0, help="a device's pause between requests, seconds")
    parser.add_argument("--page-think", type=float, default=5.0, help="a page user's pause between pages, seconds")
    parser.add_argument("--ramp", type=float, default=20.0, help="devices start spread over this many seconds")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: anfang serve's)")
    parser.add_argument("--threads", type=int, default=None, help="threads per worker (default: anfang serve's)")
    parser.add_argument("--database-url", default=None,
                        help=f"default: a fresh database anfang_load_… on {PG_ADMIN_URL}, dropped at the end")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/5", help="rate-limit store")
    parser.add_argument("--seed", type=int, default=20261219)
    parser.add_argument("--log", type=Path, default=None, help="keep the server's log (access lines, errors) here")
    args = parser.parse_args()
    random.seed(args.seed)

    drop = None
    if args.database_url:
        database_url = args.database_url
    else:
        database_url, drop = scratch_postgresql(PG_ADMIN_URL, prefix="anfang_load")
    url = sa.engine.make_url(database_url)
    admin_url = url.set(database="postgres").render_as_string(hide_password=False)
    server = None
    try:
        with tempfile.TemporaryDirectory() as workdir:
            server = Server(database_url, Path(workdir), args.redis_url, args.workers, args.threads)
            prepared = time.monotonic()
            server.seed()
            world = build_devices(database_url, server.evidence, args.devices, args.records)
            records = {device["device_id"]: [
                make_record(assignment, [noise_jpeg() for _ in range(random.choice((1, 2)))])
                for assignment in device["assignments"]] for device in world}
            banner = server.start()
            every = [record for device_records in records.values() for record in device_records]
            photos = sum(len(record["photos"]) for record in every)
            print(f"load: {banner}")
            print(f"load: {args.devices} devices × {args.records} records ({len(every)} records, "
                  f"{sum(len(r['visit']) + len(r['submission']) for r in every)} operations, {photos} photos, "
                  f"{sum(len(d) for r in every for d in r['photos']) / 1e6:.1f} MB), {args.page_users} page users; "
                  f"think {args.think} s, page think {args.page_think} s, ramp {args.ramp} s; "
                  f"prepared in {time.monotonic() - prepared:.0f} s")

            sampler = Sampler(server, url.database, admin_url)
            sampler.start()
            tally, seconds = asyncio.run(run_load(server.url, world, records, args))
            usage = sampler.stop()
            access = server.access_lines()
            server_errors = server.error_lines()
            server.stop()
            server = None
            if args.log:
                shutil.copyfile(Path(workdir) / "serve.log", args.log)
            check = check_exactly_once(database_url, Path(workdir) / "evidence", every)
    finally:
        if server is not None:
            server.stop()
        if drop:
            drop()

    report(tally, seconds, usage, access, server_errors, check)


def report(tally: Tally, seconds: float, usage: dict, access: list[dict], server_errors: Counter,
           check: dict) -> None:
    served = defaultdict(list)
    served_pages = defaultdict(list)
    statuses = Counter()
    for line in access:
        group = group_of(line.get("method", ""), line.get("path", ""))
        if group == "probe":
            continue
        served[group].append(line["duration_ms"])
        statuses[f"{group} {line['status']}"] += 1
        if group == "page":
            served_pages[line["path"]].append(line["duration_ms"])
    print(f"{'group':8} {'count':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} │ "
          f"{'server p50':>10} {'server p95':>10} {'server mean':>11} {'queued mean':>11}")
    for group in GROUPS:
        values = [value * 1000 for value in tally.latencies.get(group, [])]
        if not values:
            continue
        own = served.get(group, [])
        own_mean = sum(own) / len(own) if own else 0.0
        print(f"{group:8} {len(values):>6} {percentile(values, .5):>8.0f} {percentile(values, .95):>8.0f} "
              f"{percentile(values, .99):>8.0f} {max(values):>8.0f} │ {percentile(own, .5):>10.0f} "
              f"{percentile(own, .95):>10.0f} {own_mean:>11.0f} {sum(values) / len(values) - own_mean:>11.0f}")
    print("heaviest pages (server time, sum over the run):")
    for path, values in sorted(served_pages.items(), key=lambda item: -sum(item[1]))[:8]:
        print(f"  {path:36} {len(values):>5} × mean {sum(values) / len(values):>6.0f} ms, "
              f"p95 {percentile(values, .95):>6.0f} ms, total {sum(values) / 1000:>6.1f} s")
    print("server time by group (sum of duration_ms): " + ", ".join(
        f"{group} {sum(values) / 1000:.1f} s" for group, values in sorted(served.items(), key=lambda i: -sum(i[1]))))
    cpu = usage["cpu"]
    print(f"CPU seconds over {usage['seconds']:.0f} s ({2 * usage['seconds']:.0f} core-seconds on 2 cores): "
          + ", ".join(f"{name} {value:.1f}" for name, value in sorted(cpu.items(), key=lambda i: -i[1]))
          + f"; machine busy {usage['machine_busy'] * 100:.0f} % (all processes, others' included)")
    total_activity = sum(usage["activity"].values()) or 1
    print("PostgreSQL backends of this database, per 1 s sample: " + ", ".join(
        f"{state} {count / total_activity * 100:.0f} %"
        for state, count in sorted(usage["activity"].items(), key=lambda i: -i[1])[:6]))
    print("server answers: " + ", ".join(f"{key} ×{count}" for key, count in sorted(statuses.items())))
    for cause, count in server_errors.most_common(6):
        print(f"server logged {count}×: {cause}")
    for cause, count in tally.errors.most_common(10):
        print(f"error {count}×: {cause}")
    for table, (expected, lost, duplicated) in check["by_table"].items():
        print(f"stored {table}: {expected} expected, {lost} lost, {duplicated} duplicated")
    print(f"inspections by status: {check['statuses']}")
    milliseconds = {group: [value * 1000 for value in tally.latencies.get(group, [])]
                    for group in ("push", "upload", "pull", "page")}
    p95 = {group: percentile(values, .95) for group, values in milliseconds.items()}
    missed = [f"{group}_p95_ms {p95[group]:.0f} > {limit}" for group, limit in TARGETS_MS.items() if p95[group] > limit]
    if tally.errors or check["lost"] or check["duplicated"]:
        missed.append("errors, lost or duplicated records")
    print("targets: " + ("all met" if not missed else "missed — " + "; ".join(missed)
                         + " (see 'Where the time goes' in this file)"))

    requests = sum(len(values) for values in tally.latencies.values())
    print(f"seconds: {seconds:.1f} s")
    print(f"requests: {requests} count")
    for group, values in milliseconds.items():
        print(f"{group}_p50_ms: {percentile(values, .5):.0f} ms")
        print(f"{group}_p99_ms: {percentile(values, .99):.0f} ms")
    print(f"incomplete_inspections: {check['incomplete']} count")
    print(f"bad_photo_files: {check['bad_photo_files']} count")
    print(f"requests_per_second: {requests / seconds:.1f} req/s")
    for group in milliseconds:
        print(f"{group}_p95_ms: {p95[group]:.0f} ms")
    print(f"errors: {sum(tally.errors.values())} count")
    print(f"lost_records: {check['lost']} count")
    print(f"duplicated_records: {check['duplicated']} count")
    ok = (not tally.errors and not check["lost"] and not check["duplicated"] and not check["incomplete"]
          and not check["bad_photo_files"])
    sys.exit(0 if ok else 1)


# The targets on this 2-core machine.
TARGETS_MS = {"push": 1000, "page": 500}


if __name__ == "__main__":
    main()
