"""Time to bring up the embedded default from nothing: migrate, load reference data, seed the demo.

Run: .venv/bin/python bench/setup_demo.py [--database-url URL]
Prints the headline figures last, one per line, as `name: value unit`.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from server import create_app  # noqa: E402
from server.demo.registry import seed_demo  # noqa: E402
from server.extensions import db  # noqa: E402
from server.registry.loader import load_reference  # noqa: E402


def timed(step):
    started = time.perf_counter()
    result = step()
    db.session.commit()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", help="an EMPTY database (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        url = args.database_url or f"sqlite:///{Path(workdir) / 'bench.sqlite3'}"
        app = create_app("development", SQLALCHEMY_DATABASE_URI=url, EVIDENCE_DIR=str(Path(workdir) / "evidence"))
        with app.app_context():
            migrate_s, _ = timed(lambda: upgrade(directory=app.config["MIGRATIONS_DIR"]))
            load_s, _ = timed(load_reference)
            reload_s, _ = timed(load_reference)
            seed_s, report = timed(seed_demo)
            reseed_s, _ = timed(seed_demo)
            with app.test_client() as client:
                started = time.perf_counter()
                for _ in range(200):
                    assert client.get("/healthz").status_code == 200
                health_ms = (time.perf_counter() - started) / 200 * 1000
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"venues seeded: {report.venues_created}, users seeded: {report.users_created}")
    print(f"migrate_seconds: {migrate_s:.2f} s")
    print(f"reference_load_seconds: {load_s:.2f} s")
    print(f"reference_reload_seconds: {reload_s:.2f} s")
    print(f"demo_seed_seconds: {seed_s:.2f} s")
    print(f"demo_reseed_seconds: {reseed_s:.2f} s")
    print(f"healthz_latency: {health_ms:.2f} ms")
    print(f"peak_memory: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
