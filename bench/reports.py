"""Report benchmark: the accountability report over about 5,000 violations, and a bulletin with 20
photos from 12-megapixel originals and a 200-row table (bench/bulletin.py, run in a process of its
own so that its peak memory is its own). Targets: report ≤ 10 s, bulletin ≤ 3 s.

Builds a scratch SQLite database under a temporary folder (migrations, reference data, the demo
registry, then `--days` days of generated inspections from server/demo/week.py until
there are at least `--violations` live violations), then times the report for the whole period:
tracing (statistics and four-party findings) plus rendering and storing the numbered PDF through
the accountability case workflow (draft → reviewed → issued). Peak memory is measured in a
second, separate run under tracemalloc (which slows Python down), so the timing is not distorted.

Run: .venv/bin/python bench/reports.py [--violations N]
Prints the headline figures last, one per line, as `name: value unit`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from server import create_app  # noqa: E402
from server.accounts.models.user import User
from server.demo.registry import seed_demo  # noqa: E402
from server.demo.week import seed_week_inspections  # noqa: E402
from server.extensions import db  # noqa: E402
from server.field.models.inspection import Violation  # noqa: E402
from server.oversight import accountability, accountability_cases  # noqa: E402
from server.registry.loader import load_reference  # noqa: E402

END = date(2026, 11, 27)
CHUNK_DAYS = 20
# The week's draws are real draws: 64 demo inspectors, at most 2 tasks a day each, teams of 2,
# staff at most 64 visits a day.
PER_DAY = 60


def build(target: int) -> tuple[int, date]:
    """Demo registry, then generated inspections in 10-day chunks going back from END until at
    least `target` live violations exist; returns the count and the first day."""
    load_reference()
    db.session.commit()
    seed_demo()
    db.session.commit()
    end = END
    while True:
        seed_week_inspections(CHUNK_DAYS, end=end, per_day=PER_DAY)
        db.session.commit()
        first = end - timedelta(days=CHUNK_DAYS - 1)
        count = db.session.scalar(sa.select(sa.func.count(Violation.id)).where(Violation.withdrawn_at.is_(None)))
        if count >= target:
            return count, first
        end = first - timedelta(days=1)


def issue_report(office: User, reviewer: User, date_from: date, date_to: date) -> tuple[float, int]:
    # Four eyes: the one who drafts may neither review nor issue.
    started = time.perf_counter()
    case = accountability_cases.create_case(office, date_from=date_from, date_to=date_to, channel="cli")
    accountability_cases.review_case(case, reviewer, channel="cli")
    accountability_cases.issue_case(case, reviewer, channel="cli")
    seconds = time.perf_counter() - started
    size = case.document.pdf_size
    db.session.commit()
    return seconds, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--violations", type=int, default=5000, help="at least this many live violations")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        url = f"sqlite:///{Path(workdir) / 'bench.sqlite3'}"
        app = create_app("development", SQLALCHEMY_DATABASE_URI=url, EVIDENCE_DIR=str(Path(workdir) / "evidence"))
        with app.app_context():
            upgrade(directory=app.config["MIGRATIONS_DIR"])
            started = time.perf_counter()
            violations, date_from = build(args.violations)
            build_s = time.perf_counter() - started
            office = db.session.scalar(sa.select(User).where(User.username == "office"))
            reviewer = db.session.scalar(sa.select(User).where(User.username == "office2"))
            date_to = END
            # Warm-up: fonts, templates and the thresholds file, as a running server has them.
            accountability.draft_report_pdf(date_from=date_to, date_to=date_to, county_id=None, user=office)
            seconds, size = issue_report(office, reviewer, date_from, date_to)
            tracemalloc.start()
            issue_report(office, reviewer, date_from, date_to)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    print(f"violations: {violations} over {date_from} – {date_to} (built in {build_s:.1f} s)")
    print(f"report_pdf_bytes: {size}")
    bulletin = subprocess.run([sys.executable, str(Path(__file__).with_name("bulletin.py"))], check=True,
                              capture_output=True, text=True).stdout
    print(bulletin.rstrip())
    headline = dict(line.split(": ", 1) for line in bulletin.splitlines()
                    if line.startswith(("bulletin_render_seconds:", "bulletin_peak_mib:")))
    print(f"accountability_report_seconds: {seconds:.2f} s")
    print(f"accountability_report_peak_mib: {peak / 2**20:.1f} MiB")
    print(f"bulletin_render_seconds: {headline['bulletin_render_seconds']}")
    print(f"bulletin_peak_mib: {headline['bulletin_peak_mib']}")


if __name__ == "__main__":
    main()
