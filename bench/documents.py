"""Document rendering benchmark: seconds to render each kind from its sample data, to issue a
行政处罚决定书 with a 200-row evidence table, and to verify it; and where the time of one
决定书 goes (template, layout, PDF writing with font subsetting, signing), beside a one-line page
in the same fonts.

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
from server.pdf import rendering  # noqa: E402
from server.pdf.fetcher import RestrictedURLFetcher, asset_url  # noqa: E402
from server.pdf.fonts import font_configuration  # noqa: E402
from server.pdf.local_ca import ensure_local_ca  # noqa: E402
from server.pdf.signing import load_key_ring, sign  # noqa: E402
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


ONE_LINE_PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<link rel="stylesheet" href="{css}"></head><body><p>本机关依法作出如下决定。</p></body></html>"""


def decision_breakdown(repeat: int, signing_dir: str) -> list[tuple[str, float, str]]:
    """The 决定书 sample rendered step by step, as render_pdf does it, each step timed warm."""
    from weasyprint import HTML

    prepared, printed = service.prepare_context("penalty_decision", service.sample_context("penalty_decision"))
    info = service.document_kind("penalty_decision")
    doc = {"kind": "penalty_decision", "title": info.title, "number": info.number(printed.year, 1), "id": None,
           "content_sha256": None, "authority_mark": prepared["authority"], "draft": False,
           "verification_code": "7KQ2-MXW9-PA4T", "verification_url": "http://127.0.0.1:5000/v/7KQ2-MXW9-PA4T"}
    fonts = font_configuration(rendering.current_app.config.get("REPORT_FONTCONFIG_FILE"))
    fetcher = RestrictedURLFetcher(rendering.templates_dir(), None)
    html = rendering.render_html("penalty_decision", doc=doc, ctx=prepared)
    layout = HTML(string=html, base_url=None, url_fetcher=fetcher).render(font_config=fonts)
    pdf = layout.write_pdf()
    ensure_local_ca(signing_dir, [prepared["authority"]], ca_name="基准测试根证书", organization="基准测试",
                    locality="金华市")
    key = load_key_ring(signing_dir).key_for(prepared["authority"])
    one_line = ONE_LINE_PAGE.format(css=asset_url("_base/enforcement.css"))
    steps = [
        ("decision_template", lambda: rendering.render_html("penalty_decision", doc=doc, ctx=prepared)),
        ("decision_layout", lambda: HTML(string=html, base_url=None, url_fetcher=fetcher).render(font_config=fonts)),
        ("decision_write_pdf", lambda: layout.write_pdf()),
        ("decision_sign", lambda: sign(pdf, key)),
        ("decision_font_configuration", lambda: font_configuration(
            rendering.current_app.config.get("REPORT_FONTCONFIG_FILE"))),
        ("one_line_page_same_fonts", lambda: HTML(string=one_line, base_url=None, url_fetcher=fetcher).write_pdf(
            font_config=fonts)),
    ]
    return [(name, median_seconds(action, repeat) * 1000, "ms") for name, action in steps]


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

            with app.test_request_context():
                breakdown = decision_breakdown(args.repeat, f"{folder}/signing")
            for name, value, unit in breakdown:
                print(f"{name}: {value:.1f} {unit}")

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
            figures.extend(breakdown)
    print()
    for name, value, unit in figures:
        print(f"{name}: {value:.3f} {unit}")


if __name__ == "__main__":
    main()
