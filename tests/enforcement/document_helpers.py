"""Shared helpers for the document tests: sample contexts, issuing, and the poppler/qpdf checks.

Import into a test module: `from document_helpers import ...`.
"""

from __future__ import annotations

import copy
import json
import subprocess
from datetime import date
from pathlib import Path

from server.accounts.auth import issue_device_token
from server.columns import utcnow
from server.config import PROJECT_ROOT

TEMPLATES = PROJECT_ROOT / "report_templates"
KINDS = ("penalty_notice", "penalty_decision", "rectification_order", "inspection_record")
ISSUED_ON = date(2026, 11, 28)
MM = 72 / 25.4  # PDF points per millimetre


def sample(kind: str) -> dict:
    context = json.loads((TEMPLATES / kind / "sample.json").read_text("utf-8"))
    context.pop("date", None)
    return copy.deepcopy(context)


def bearer(user) -> dict:
    raw, token = issue_device_token(user, "测试电脑", channel="api")
    token.last_used_at = utcnow()  # so that requests do not write to the token row
    return {"Authorization": f"Bearer {raw}"}


def run(*command: str, data: bytes | None = None, tmp_path: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, input=data, capture_output=True, check=False, timeout=120)


def write(tmp_path: Path, data: bytes, name: str = "doc.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def pdftotext(path: Path, *options: str) -> str:
    result = run("pdftotext", "-enc", "UTF-8", *options, str(path), "-")
    assert result.returncode == 0, result.stderr
    return result.stdout.decode("utf-8")


def flat_text(path: Path) -> str:
    """The text without line breaks and spaces, so that a phrase wrapped over two lines is found."""
    return "".join(pdftotext(path).split())


def pdffonts(path: Path) -> list[dict]:
    result = run("pdffonts", str(path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()[2:]
    fonts = []
    for line in lines:
        parts = line.split()
        # name, type (several words), encoding, emb, sub, uni, object id (2)
        fonts.append({"name": parts[0], "emb": parts[-5], "sub": parts[-4], "uni": parts[-3]})
    return fonts


def qpdf_check(path: Path) -> subprocess.CompletedProcess:
    return run("qpdf", "--check", str(path))
