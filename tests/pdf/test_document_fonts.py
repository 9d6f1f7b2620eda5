"""The fonts documents are rendered with: FandolFang through the fontconfig file `make install`
writes, and, without it, Noto Serif CJK with no error but a line in the log."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path

import pytest

from server.config import PROJECT_ROOT
from server.enforcement import documents as service
from server.pdf.fonts import usable_fontconfig_file

SCRIPT = PROJECT_ROOT / "scripts" / "install-fonts.sh"


def embedded_fonts(data: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "doc.pdf"
    path.write_bytes(data)
    lines = subprocess.run(["pdffonts", str(path)], capture_output=True, check=True, timeout=60).stdout.decode()
    return [line.split()[0].split("+")[-1] for line in lines.splitlines()[2:]]


def test_without_the_fandol_fontconfig_file_documents_fall_back_to_noto_and_say_so(app, db, tmp_path, monkeypatch,
                                                                                  caplog):
    missing = tmp_path / "no-fonts" / "fonts.conf"
    monkeypatch.setitem(app.config, "REPORT_FONTCONFIG_FILE", str(missing))
    with caplog.at_level(logging.WARNING, logger="server.pdf.fonts"):
        data = service.preview_document("penalty_notice")
    assert data.startswith(b"%PDF-")
    names = embedded_fonts(data, tmp_path)
    assert any(name.startswith("Noto-Serif-CJK") for name in names) and "FandolFang" not in names, names
    assert any(str(missing) in record.getMessage() for record in caplog.records)
    assert usable_fontconfig_file(str(missing)) is None


def test_the_install_script_is_quick_and_changes_nothing_when_the_fonts_are_there(app):
    conf = Path(app.config["REPORT_FONTCONFIG_FILE"])
    if not conf.is_file():
        pytest.skip("the Fandol fonts are not installed here (make install)")
    before = conf.read_bytes(), conf.stat().st_mtime_ns
    started = time.monotonic()
    result = subprocess.run(["bash", str(SCRIPT), str(conf.parent)], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 5
    assert (conf.read_bytes(), conf.stat().st_mtime_ns) == before
    assert f"<dir>{conf.parent}</dir>" in conf.read_text()


def test_without_apt_get_the_install_script_says_what_to_do_and_does_not_fail(tmp_path):
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in ("mkdir",):  # nothing to download or unpack with
        os.symlink(subprocess.run(["bash", "-c", f"command -v {tool}"], capture_output=True, text=True,
                                  check=True).stdout.strip(), tools / tool)
    result = subprocess.run(["/bin/bash", str(SCRIPT), str(tmp_path / "fonts")], capture_output=True, timeout=60,
                            env={"PATH": str(tools)})
    assert result.returncode == 0
    message = result.stderr.decode()
    assert "FandolFang" in message and "make install" in message and "Noto Serif CJK" in message
