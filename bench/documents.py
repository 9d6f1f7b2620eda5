"""Document rendering benchmark: seconds to render each kind from its sample data, to issue a
行政处罚决定书 with a 200-row evidence table, and to verify it.

Runs on a new SQLite database under a temporary folder (migrations and reference data applied),
so issuing includes the number, the stored file and the audit event. Each kind is rendered once
to warm up (fonts, templates), then `--repeat` times; the median is reported.

Run: .venv/bin/python bench/documents.py [--repeat N]
Prints the headline figures last, one per line, as `name: value unit`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from server import create_app  # noqa: E402
from server.accounts.models.user import User  # noqa: E402
from server.enforcement import documents as service  # noqa: E402
from server.enforcement.document_catalogue import KINDS  # noqa: E402
from server.extensions import db  # noqa: E402
from server.registry.loader import load_reference  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def median_seconds(action, repeat: int) -> float:
    action()  # warm-up
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    figures: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        app = create_app("testing", SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder}/bench.sqlite3",
                         EVIDENCE_DIR=f"{folder}/evidence")
        with app.app_context():
            upgrade(directory=app.config["MIGRATIONS_DIR"])
            load_reference()
            officer = User(username="bench", display_name="基准测试", role="enforcement")
            db.session.add(officer)
            db.session.commit()

            for kind in KINDS:
                seconds = median_seconds(lambda kind=kind: service.preview_document(kind), args.repeat)
                print(f"{kind}: {seconds:.3f} s per render (preview of the sample)")
                figures.append((f"render_{kind}", seconds, "s"))

            context = json.loads((ROOT / "report_templates/penalty_decision/sample.json").read_text("utf-8"))
            context.pop("date")
            context["evidence"] = [
                {"name": f"现场照片 {n}", "description": f"第 {n} 号取证照片，拍摄于包厢 {n % 12 + 1}",
                 "sha256": f"{n:064x}"} for n in range(1, 201)]
            issued = []

            def issue() -> None:
                issued.append(service.issue_document("penalty_decision", context, actor=officer,
                                                     subject_type="bench", subject_id="1",
                                                     issued_on=date(2026, 11, 28), channel="cli"))
                db.session.commit()

            seconds = median_seconds(issue, args.repeat)
            document = issued[-1]
            print(f"决定书 with 200 evidence rows: {seconds:.3f} s per issue "
                  f"({document.pdf_size} bytes, number {document.number})")
            figures.append(("issue_penalty_decision_200_evidence_rows", seconds, "s"))
            figures.append(("penalty_decision_200_rows_pdf_size", document.pdf_size / 1024, "KiB"))

            data = service.document_path(document).read_bytes()
            seconds = median_seconds(lambda: service.verify_pdf(data), args.repeat)
            figures.append(("verify_genuine", seconds * 1000, "ms"))
            altered = data + b"\n"
            seconds = median_seconds(lambda: service.verify_pdf(altered), args.repeat)
            figures.append(("verify_altered", seconds * 1000, "ms"))
    print()
    for name, value, unit in figures:
        print(f"{name}: {value:.3f} {unit}")


if __name__ == "__main__":
    main()
