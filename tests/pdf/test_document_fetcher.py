"""The restricted url_fetcher: report assets inside report_templates/ and evidence variants by
SHA-256 for an authorised user; every other scheme, and every path out of the folder, refused."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from PIL import Image
from weasyprint import HTML

from server.field.evidence_store import evidence_resolver, make_variants, original_path
from server.field.models.evidence import EvidenceFile
from server.pdf.fetcher import RefusedURL, RestrictedURLFetcher
from server.pdf.rendering import templates_dir


@pytest.fixture(autouse=True)
def evidence_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(tmp_path / "evidence"))


@pytest.fixture
def stored_photo(db, make_user, app):
    """An evidence file with its variants, uploaded by an inspector."""
    uploader = make_user("inspector")
    image = Image.frombytes("RGB", (64, 48), os.urandom(64 * 48 * 3))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    data = buffer.getvalue()
    sha256 = hashlib.sha256(data).hexdigest()
    from pathlib import Path

    original = Path(app.config["EVIDENCE_DIR"]) / original_path(sha256)
    original.parent.mkdir(parents=True)
    original.write_bytes(data)
    evidence = EvidenceFile(sha256=sha256, size=len(data), media_type="image/jpeg", width=64, height=48,
                            stored_path=original_path(sha256), variants=make_variants(original_path(sha256), sha256),
                            uploaded_by_id=uploader.id)
    db.session.add(evidence)
    db.session.flush()
    return evidence


def fetcher(user=None) -> RestrictedURLFetcher:
    return RestrictedURLFetcher(templates_dir(), evidence_resolver(user))


def test_report_assets_are_served(db):
    response = fetcher().fetch("anfang-asset:_base/gbt9704.css")
    assert b"@page" in response.read() and response.content_type == "text/css"
    assert fetcher().fetch("anfang-asset:inspection_record/sample_photo.svg").content_type == "image/svg+xml"


@pytest.mark.parametrize("url", [
    "file:///etc/passwd",
    "file:///work/wt/documents/report_templates/_base/gbt9704.css",  # even the folder itself, by file:
    "http://127.0.0.1:5000/healthz",
    "https://example.com/style.css",
    "ftp://example.com/x.css",
    "data:text/css,body{color:red}",
    "data:image/svg+xml;base64,PHN2Zy8+",
    "anfang-asset:../server/config.py",
    "anfang-asset:_base/../../server/reference/roster.yaml",
    "anfang-asset:%2E%2E/%2E%2E/etc/passwd.css",
    "anfang-asset:/etc/passwd",
    "anfang-asset:_base/layout.html",  # a template, not an asset
    "anfang-asset:penalty_decision/sample.json",
    "anfang-asset:_base/missing.css",
    "style.css",  # relative: there is no base to resolve it against
])
def test_everything_else_is_refused(db, url):
    refusing = fetcher()
    with pytest.raises(RefusedURL):
        refusing.fetch(url)
    assert refusing.refused == [url]


def test_a_symlink_out_of_the_folder_is_refused(db, tmp_path, monkeypatch, app):
    root = tmp_path / "templates"
    (root / "kind").mkdir(parents=True)
    secret = tmp_path / "secret.css"
    secret.write_text("body{}")
    (root / "kind" / "link.css").symlink_to(secret)
    with pytest.raises(RefusedURL):
        RestrictedURLFetcher(root).fetch("anfang-asset:kind/link.css")


def test_evidence_by_sha256_print_variant_for_an_authorised_user(db, make_user, stored_photo):
    office = make_user("office")
    url = f"anfang-evidence:{stored_photo.sha256}/print"
    body = fetcher(office).fetch(url).read()
    assert body.startswith(b"\xff\xd8")  # the re-encoded JPEG
    with pytest.raises(RefusedURL):  # originals carry EXIF and GPS: never embedded
        fetcher(office).fetch(f"anfang-evidence:{stored_photo.sha256}/original")
    with pytest.raises(RefusedURL):
        fetcher(office).fetch(f"anfang-evidence:{stored_photo.sha256}")
    with pytest.raises(RefusedURL):  # no user: no evidence
        fetcher(None).fetch(url)
    with pytest.raises(RefusedURL):  # outside the user's scope, like the evidence API
        fetcher(make_user("department")).fetch(url)
    with pytest.raises(RefusedURL):
        fetcher(office).fetch("anfang-evidence:" + "0" * 64 + "/print")
    with pytest.raises(RefusedURL):
        fetcher(office).fetch("anfang-evidence:../../etc/passwd/print")


def test_weasyprint_gets_nothing_it_is_not_allowed(db):
    refusing = fetcher()
    html = ('<link rel="stylesheet" href="file:///etc/passwd">'
            '<p>正文<img src="http://127.0.0.1:9/x.png"><img src="data:image/png;base64,iVBORw0KGgo="></p>'
            '<img src="anfang-asset:../../etc/passwd">'
            '<style>@import url("https://example.com/a.css"); p { background: url("file:///etc/hostname") }</style>')
    pdf = HTML(string=html, base_url=None, url_fetcher=refusing).write_pdf()
    assert pdf.startswith(b"%PDF-")
    assert refusing.served == []
    assert set(refusing.refused) >= {"file:///etc/passwd", "http://127.0.0.1:9/x.png",
                                     "data:image/png;base64,iVBORw0KGgo=", "anfang-asset:../../etc/passwd",
                                     "https://example.com/a.css", "file:///etc/hostname"}


def test_loading_the_renderer_leaves_pillow_refusing_truncated_images(app):
    """WeasyPrint turns on LOAD_TRUNCATED_IMAGES when imported; evidence validation needs it off."""
    import weasyprint.images  # noqa: F401
    from PIL import ImageFile

    import server.pdf  # noqa: F401

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
