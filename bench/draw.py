"""Draw benchmark: the pure selection at city scale, and a whole draw on a scratch database.

1. `select()` over 100,000 venue candidates and 2,000 inspector candidates built in memory from a
   fixed seed (spread over the 10 counties and the 44 categories of the reference data, about a
   third certified, some with recent visits and bookings), 1,000 assignments, every exclusion on.
2. `create_draw()` then `contribute()` end to end (snapshot queries, the trial selection, the
   commitment and audit event; then the selection on the completed seed, rows, sealing, audit
   event) on a new SQLite database with the demo registry (2,400 venues, 64 inspectors): every
   county, seven categories, 100 assignments over a week, then close (as at the window's end) and
   verify.
3. `create_draw()` end to end at city scale on a scratch database: after the migrations and the
   reference data, 100,000 venues over every county and category and 2,000 inspector users
   (spread over departments and counties, about a third certified) are bulk-inserted; then a
   draw of 1,000 assignments over 7 days with every exclusion of the policy on — created and
   completed by the auditor's share, each step committed — close, and verify (timed). On SQLite always; on PostgreSQL with
   `--database-url postgresql+psycopg://…/<scratch db>` (its tables must not exist yet) or
   `--postgresql`, which creates a scratch database on 127.0.0.1:5432 and drops it afterwards.

Run: .venv/bin/python bench/draw.py [--skip-database] [--skip-city] [--postgresql | --database-url URL]
Prints the headline figures last, one per line, as `name: value unit`. Targets: select ≤ 2 s,
a whole city-scale draw ≤ 2 s.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402
from scratch import scratch_postgresql  # noqa: E402

from server.draws.selection import ALGORITHM, InspectorCandidate, VenueCandidate, select

REFERENCE = Path(__file__).resolve().parent.parent / "server" / "reference"
VENUES = 100_000
INSPECTORS = 2_000
SAMPLE = 1_000
WINDOW_DAYS = 7
BENCH_SEED = 20211214
# The auditor's share that completes each draw's seed (docs/draw-algorithm.md §1).
SHARE = "bench-share-0123456789abcdef"


def _reference():
    def load(name):
        return yaml.safe_load((REFERENCE / f"{name}.yaml").read_text("utf-8"))

    counties = [c["code"] for c in load("counties")["counties"]]
    categories = load("categories")["categories"]
    departments = [d["code"] for d in load("departments")["departments"]]
    rules = load("rules")["rules"]
    policy = load("draw_policy")["policies"][0]
    return counties, categories, departments, rules, policy


def parameters_for(categories, rules, policy, first_day: date) -> dict:
    weights = policy["weights"]
    category_weights = {c["code"]: weights["default"] for c in categories}
    for rule in rules:
        if rule["code"] in weights["rules"]:
            for code in rule["categories"]:
                category_weights[code] = max(category_weights[code], weights["rules"][rule["code"]])
    category_weights.update(weights["categories"])
    return {
        "algorithm": ALGORITHM,
        "sample": {"size": SAMPLE, "rate_basis_points": None},
        "team": {"size": 2, "may_propose_penalties": True,
                 "require_certified_member": policy["team"]["require_certified_member_when_penalties"]},
        "window": {"days": [(first_day + timedelta(days=n)).isoformat() for n in range(WINDOW_DAYS)]},
        "weights": {"categories": category_weights, "past_violations_factor": weights["past_violations_factor"],
                    "never_inspected_factor": weights["never_inspected_factor"]},
        "exclusions": dict(policy["exclusions"]),
        "responsible_departments": {c["code"]: sorted(c["departments"]) for c in categories},
    }


def candidates(counties, categories, departments, first_day: date):
    rng = random.Random(BENCH_SEED)
    category_codes = [c["code"] for c in categories]
    category_frequency = [rng.choice((1, 2, 3, 5, 10)) for _ in category_codes]
    venues = [VenueCandidate(id=n, county=rng.choice(counties),
                             category=rng.choices(category_codes, category_frequency)[0],
                             past_violations=1 if rng.random() < 0.05 else 0, inspected=rng.random() < 0.3)
              for n in range(1, VENUES + 1)]
    inspectors = []
    for n in range(1, INSPECTORS + 1):
        department = "psb" if n % 4 == 0 else rng.choice(departments)
        visits = tuple((rng.randrange(1, VENUES + 1), (first_day - timedelta(days=rng.randrange(1, 40))).isoformat())
                       for _ in range(rng.choice((0, 0, 1, 3))))
        booked = (((first_day + timedelta(days=rng.randrange(WINDOW_DAYS))).isoformat(), 1),) \
            if rng.random() < 0.1 else ()
        inspectors.append(InspectorCandidate(
            id=100_000 + n, county=rng.choice(counties + [None]), department=department,
            certified=department == "psb" or rng.random() < 0.2, visits=visits, booked=booked))
    return venues, inspectors


def bench_select() -> dict[str, float]:
    counties, categories, departments, rules, policy = _reference()
    first_day = date(2021, 12, 15)
    parameters = parameters_for(categories, rules, policy, first_day)
    venues, inspectors = candidates(counties, categories, departments, first_day)
    seed = random.Random(BENCH_SEED + 1).randbytes(32)

    started = time.perf_counter()
    selection = select(seed, venues, inspectors, parameters)
    seconds = time.perf_counter() - started
    assert selection.ok, selection.infeasible
    assert len(selection.assignments) == SAMPLE

    tracemalloc.start()
    select(seed, venues, inspectors, parameters)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    loads: dict[int, int] = {}
    for pick in selection.assignments:
        for member in pick.members:
            loads[member] = loads.get(member, 0) + 1
    print(f"select: {len(venues)} venues, {len(inspectors)} inspectors -> {len(selection.assignments)} assignments, "
          f"{len(selection.skipped)} skipped; inspectors used {len(loads)}, max load {max(loads.values())}")
    return {"draw_select_seconds": seconds, "draw_select_peak_memory": peak / 2**20}


def bench_create_draw() -> dict[str, float]:
    from flask_migrate import upgrade

    from server import create_app
    from server.accounts.models.user import User
    from server.demo.registry import seed_demo
    from server.columns import as_utc
    from server.draws.closing import close_draw
    from server.draws.creation import create_draw
    from server.draws.seeding import contribute
    from server.draws.verification import verify_draw
    from server.extensions import db
    from server.registry.loader import load_reference
    from server.registry.models.reference import County

    with tempfile.TemporaryDirectory() as workdir:
        url = f"sqlite:///{Path(workdir) / 'bench.sqlite3'}"
        app = create_app("development", SQLALCHEMY_DATABASE_URI=url, EVIDENCE_DIR=str(Path(workdir) / "evidence"))
        with app.app_context():
            upgrade(directory=app.config["MIGRATIONS_DIR"])
            load_reference()
            seed_demo()
            db.session.commit()
            office = db.session.scalar(db.select(User).where(User.username == "office"))
            auditor = db.session.scalar(db.select(User).where(User.username == "auditor"))
            start = datetime.now(timezone.utc) + timedelta(days=1)
            started = time.perf_counter()
            counties = list(db.session.scalars(db.select(County.code)))
            draw = create_draw(office, counties=counties,
                               categories=["restaurant", "ktv", "internet_cafe", "hotel", "pharmacy",
                                           "shopping_mall", "enterprise_institution"],
                               sample_size=100, window_start=start, window_end=start + timedelta(days=7),
                               channel="cli")
            db.session.commit()
            contribute(draw, auditor, SHARE, channel="cli")
            db.session.commit()
            create_seconds = time.perf_counter() - started
            close_draw(draw, office, channel="cli", now=as_utc(draw.window_end))
            db.session.commit()
            started = time.perf_counter()
            report = verify_draw(draw)
            verify_seconds = time.perf_counter() - started
            assert report.state == "match", report.reasons
            print(f"create_draw: {len(draw.assignments)} assignments on the demo registry")
        with app.app_context():
            db.engine.dispose()
    return {"draw_create_seconds": create_seconds, "draw_verify_seconds": verify_seconds}


def _city_rows(counties, categories, departments) -> tuple[list[dict], list[dict]]:
    """Venue and inspector rows for `sa.insert`, from a fixed seed (ids are the database's)."""
    from server.accounts.passwords import hash_password

    rng = random.Random(BENCH_SEED + 2)
    category_frequency = [rng.choice((1, 2, 3, 5, 10)) for _ in categories]
    venues = []
    for n in range(1, VENUES + 1):
        # The first rows cover every (county, category) pair; the rest follow the frequencies.
        if n <= len(counties) * len(categories):
            county, category = counties[(n - 1) % len(counties)], categories[(n - 1) // len(counties)]
        else:
            county, category = rng.choice(counties), rng.choices(categories, category_frequency)[0]
        venues.append({"name": f"场所{n:06d}", "category_id": category.id, "county_id": county.id,
                       "address": f"金华市测试路{n}号"})
    password_hash = hash_password("bench-password")
    police = next((d for d in departments if d.is_enforcement_authority), departments[0])
    inspectors = []
    for n in range(1, INSPECTORS + 1):
        department = police if n % 4 == 0 else rng.choice(departments)
        certified = department.id == police.id or rng.random() < 0.2
        county = rng.choice(counties + [None])
        inspectors.append({"username": f"bench-inspector{n:05d}", "display_name": f"督查员{n:05d}",
                           "password_hash": password_hash, "role": "inspector", "is_active": True,
                           "failed_logins": 0, "department_id": department.id,
                           "county_id": county.id if county is not None else None,
                           "enforcement_certificate_no": f"浙执金B{n:06d}" if certified else None})
    return venues, inspectors


def bench_create_draw_city(url: str, label: str) -> dict[str, float]:
    """A city-scale draw end to end on the (empty) database at `url`."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from server import create_app
    from server.accounts.models.user import User
    from server.columns import as_utc
    from server.draws.closing import close_draw
    from server.draws.creation import create_draw
    from server.draws.seeding import contribute
    from server.draws.verification import verify_draw
    from server.extensions import db
    from server.registry.loader import load_reference
    from server.registry.models.reference import County, Department, VenueCategory
    from server.registry.models.venue import Venue

    with tempfile.TemporaryDirectory() as workdir:
        app = create_app("development", SQLALCHEMY_DATABASE_URI=url or f"sqlite:///{Path(workdir) / 'city.sqlite3'}",
                         EVIDENCE_DIR=str(Path(workdir) / "evidence"))
        with app.app_context():
            upgrade(directory=app.config["MIGRATIONS_DIR"])
            load_reference()
            db.session.commit()
            counties = list(db.session.scalars(sa.select(County).order_by(County.code)))
            categories = list(db.session.scalars(sa.select(VenueCategory).order_by(VenueCategory.code)))
            departments = list(db.session.scalars(sa.select(Department).order_by(Department.code)))
            started = time.perf_counter()
            venue_rows, inspector_rows = _city_rows(counties, categories, departments)
            db.session.execute(sa.insert(Venue), venue_rows)
            db.session.execute(sa.insert(User), inspector_rows)
            db.session.execute(sa.insert(User), [
                {"username": "bench-office", "display_name": "办公室", "role": "office", "is_active": True,
                 "failed_logins": 0},
                {"username": "bench-auditor", "display_name": "纪检", "role": "auditor", "is_active": True,
                 "failed_logins": 0}])
            db.session.commit()
            load_seconds = time.perf_counter() - started
            del venue_rows, inspector_rows
            if db.engine.dialect.name == "postgresql":
                with db.engine.connect() as connection:
                    connection.execute(sa.text("ANALYZE"))
                    connection.commit()
            office = db.session.scalar(sa.select(User).where(User.username == "bench-office"))
            auditor = db.session.scalar(sa.select(User).where(User.username == "bench-auditor"))
            county_codes = [c.code for c in counties]
            category_codes = [c.code for c in categories]
            db.session.expire_all()
            start = datetime.now(timezone.utc) + timedelta(days=1)

            started = time.perf_counter()
            draw = create_draw(office, counties=county_codes, categories=category_codes, sample_size=SAMPLE,
                               window_start=start, window_end=start + timedelta(days=WINDOW_DAYS), channel="cli")
            db.session.commit()
            commit_seconds = time.perf_counter() - started
            started = time.perf_counter()
            contribute(draw, auditor, SHARE, channel="cli")
            db.session.commit()
            contribute_seconds = time.perf_counter() - started
            create_seconds = commit_seconds + contribute_seconds
            assignments = len(draw.assignments)
            assert assignments == SAMPLE, assignments

            close_draw(draw, office, channel="cli", now=as_utc(draw.window_end))
            db.session.commit()
            db.session.expire_all()
            started = time.perf_counter()
            report = verify_draw(draw)
            verify_seconds = time.perf_counter() - started
            assert report.state == "match", report.reasons

            # Peak Python memory of a second, identical draw (rolled back): tracemalloc slows it,
            # so it is not the timed one. It sees the first draw's assignments as history.
            tracemalloc.start()
            again = create_draw(office, counties=county_codes, categories=category_codes, sample_size=SAMPLE,
                                window_start=start, window_end=start + timedelta(days=WINDOW_DAYS), channel="cli")
            contribute(again, auditor, SHARE, channel="cli")
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            db.session.rollback()
            print(f"create_draw city ({label}): {VENUES} venues, {INSPECTORS} inspectors loaded in "
                  f"{load_seconds:.1f} s -> {assignments} assignments over {WINDOW_DAYS} days "
                  f"(create {commit_seconds:.2f} s + contribution {contribute_seconds:.2f} s); verify {report.state}")
            db.session.remove()
            db.engine.dispose()
    return {"create": create_seconds, "verify": verify_seconds, "peak": peak / 2**20}




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-database", action="store_true", help="only time the pure selection")
    parser.add_argument("--skip-city", action="store_true", help="no city-scale draw on a database")
    parser.add_argument("--skip-sqlite", action="store_true", help="no city-scale draw on SQLite")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--database-url", help="also run the city-scale draw on this empty PostgreSQL database")
    target.add_argument("--postgresql", nargs="?", const="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                        metavar="SERVER_URL",
                        help="also run the city-scale draw on a scratch database created (and dropped) on "
                             "this server (default: %(const)s)")
    args = parser.parse_args()
    figures = bench_select()
    if not args.skip_database:
        figures.update(bench_create_draw())
        if not args.skip_city:
            if not args.skip_sqlite:
                city = bench_create_draw_city("", "sqlite")
                figures["draw_create_city_seconds"] = city["create"]
                figures["draw_verify_city_seconds"] = city["verify"]
                figures["draw_create_city_peak_memory"] = city["peak"]
            if args.database_url or args.postgresql:
                url, drop = (args.database_url, None) if args.database_url else scratch_postgresql(args.postgresql)
                try:
                    city = bench_create_draw_city(url, "postgresql")
                finally:
                    if drop is not None:
                        drop()
                figures["draw_create_city_postgresql_seconds"] = city["create"]
                figures["draw_verify_city_postgresql_seconds"] = city["verify"]
                figures["draw_create_city_postgresql_peak_memory"] = city["peak"]
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"draw_select_seconds: {figures['draw_select_seconds']:.2f} s")
    print(f"draw_select_peak_memory: {figures['draw_select_peak_memory']:.0f} MiB")
    if "draw_create_seconds" in figures:
        print(f"draw_create_seconds: {figures['draw_create_seconds']:.2f} s")
        print(f"draw_verify_seconds: {figures['draw_verify_seconds']:.2f} s")
    for name in ("draw_create_city_seconds", "draw_verify_city_seconds", "draw_create_city_postgresql_seconds",
                 "draw_verify_city_postgresql_seconds"):
        if name in figures:
            print(f"{name}: {figures[name]:.2f} s")
    for name in ("draw_create_city_peak_memory", "draw_create_city_postgresql_peak_memory"):
        if name in figures:
            print(f"{name}: {figures[name]:.0f} MiB")
    print(f"process_peak_rss: {peak_rss:.0f} MiB")


if __name__ == "__main__":
    main()
