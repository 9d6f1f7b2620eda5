"""The audit chain head at issue is printed on every issued document and every bulletin, kept with
the document and shown on its public verification page: paper in other hands pins the log."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from material_world import make_assignment, material_world, world  # noqa: F401  (fixtures)

from server.audit.chain import current_head, record_event
from server.config import PROJECT_ROOT
from server.enforcement import documents
from server.publicity import bulletins, materials
from server.publicity.models.material import MaterialItem

ISSUED_ON = date(2026, 11, 28)
YEAR = 2037  # a year no other test publishes bulletins in


@pytest.fixture(autouse=True)
def evidence_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "EVIDENCE_DIR", str(tmp_path / "evidence"))


def flat_text(path: Path) -> str:
    result = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=False,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return "".join(result.stdout.decode("utf-8").split())


def sample(kind: str) -> dict:
    context = json.loads((PROJECT_ROOT / "report_templates" / kind / "sample.json").read_text("utf-8"))
    context.pop("date", None)
    return context


@pytest.mark.parametrize("kind", ["penalty_notice", "rectification_order"])
def test_an_issued_document_prints_and_keeps_the_chain_head(db, client, make_user, kind):
    record_event("test.before_issue", details={"n": 1})
    head = current_head()
    document = documents.issue_document(kind, sample(kind), actor=make_user("enforcement"), subject_type="test",
                                        subject_id="1", issued_on=ISSUED_ON)
    assert (document.audit_head_seq, document.audit_head_hash) == (head.seq, head.hash)
    text = flat_text(documents.document_path(document))
    assert f"签发时审计链：第{head.seq}条，哈希{head.hash[:16]}…" in text
    assert head.hash not in text  # the paper carries the short form, the record the whole hash

    db.session.commit()
    page = client.get(f"/v/{document.verification_code}").get_data(as_text=True)
    assert "签发时审计链" in page and f"第 {head.seq} 条，哈希 {head.hash}" in page


def test_a_preview_prints_no_head(db):
    pdf = documents.preview_document("penalty_notice")
    assert b"%PDF" in pdf[:8]
    path = Path(documents.current_app.config["EVIDENCE_DIR"]) / "preview.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pdf)
    assert "签发时审计链" not in flat_text(path)


def test_a_published_bulletin_prints_and_keeps_the_chain_head(db, material_world):  # noqa: F811
    office, propaganda = material_world.users["office"], material_world.users["propaganda"]
    materials.collect_note_candidates(office)
    items = list(db.session.scalars(sa.select(MaterialItem).where(
        MaterialItem.inspection_id == material_world.inspection.id).order_by(MaterialItem.id)))
    for item in items:
        materials.review_material(item, "approved", actor=office)
    bulletin = bulletins.create_bulletin(actor=propaganda, title="正反典型通报", period_start=date(2026, 3, 1),
                                         period_end=date(2026, 3, 31), item_ids=[item.id for item in items])
    bulletins.transition(bulletin, "submit", actor=propaganda)
    bulletins.transition(bulletin, "approve", actor=office)
    head = current_head()
    bulletins.publish_bulletin(bulletin, actor=office, issued_on=date(YEAR, 4, 1))
    assert bulletin.context["audit_head"] == {"seq": head.seq, "hash": head.hash,
                                              "printed": f"第{head.seq}条，哈希 {head.hash[:16]}…"}
    text = flat_text(bulletins.published_pdf(bulletin, office))
    assert f"签发时审计链：第{head.seq}条，哈希{head.hash[:16]}…" in text
