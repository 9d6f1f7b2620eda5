"""Bulletins through the services: workflow, numbering at publication, immutability, the PDF
(deterministic, fonts embedded, text extractable, qpdf-clean) and its redacted images."""

from __future__ import annotations

import re
import subprocess
from datetime import date

import pytest
import sqlalchemy as sa
from material_world import NOTES, make_assignment, material_world, world  # noqa: F401  (fixtures)

from server.errors import Conflict
from server.models import Bulletin, MaterialItem
from server.services import bulletins as service
from server.services import materials

YEAR = 2033  # a year no other test publishes in


def approved_items(material_world) -> list[MaterialItem]:
    office = material_world.users["office"]
    materials.collect_note_candidates(office)
    items = list(db_items(material_world))
    for item in items:
        materials.review_material(item, "approved", actor=office)
    return items


def db_items(material_world):
    from server.extensions import db

    return db.session.scalars(sa.select(MaterialItem).where(
        MaterialItem.inspection_id == material_world.inspection.id).order_by(MaterialItem.id))


def compose(material_world, items) -> Bulletin:
    return service.create_bulletin(actor=material_world.users["propaganda"], title="正反典型通报",
                                   period_start=date(2026, 3, 1), period_end=date(2026, 3, 31),
                                   editorial="现将近期督查中发现的正反典型通报如下。",
                                   item_ids=[item.id for item in items])


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, check=False, timeout=120)


def test_workflow_numbers_at_publication_and_freezes_the_issue(db, material_world, tmp_path):
    items = approved_items(material_world)
    office, propaganda = material_world.users["office"], material_world.users["propaganda"]
    bulletin = compose(material_world, items)
    with pytest.raises(Conflict):
        service.publish_bulletin(bulletin, actor=propaganda, issued_on=date(YEAR, 5, 1))
    service.transition(bulletin, "submit", actor=propaganda)
    with pytest.raises(Conflict):
        service.update_bulletin(bulletin, actor=propaganda, title="改")
    service.transition(bulletin, "approve", actor=office)
    assert bulletin.serial is None
    service.publish_bulletin(bulletin, actor=propaganda, issued_on=date(YEAR, 5, 1))
    assert (bulletin.year, bulletin.state) == (YEAR, "published")
    assert service.bulletin_number(bulletin) == f"{YEAR}年第{bulletin.serial}期"
    for attempt in (lambda: service.update_bulletin(bulletin, actor=office, title="改"),
                    lambda: service.transition(bulletin, "return", actor=office),
                    lambda: service.publish_bulletin(bulletin, actor=office)):
        with pytest.raises(Conflict):
            attempt()
    pdf = service.published_pdf(bulletin, propaganda)
    text = "".join(run("pdftotext", "-enc", "UTF-8", str(pdf), "-").stdout.decode().split())
    assert "先进典型" in text and "反面典型" in text and f"第{bulletin.serial}期" in text
    assert not re.search(r"1[3-9]\d{9}", text)
    assert "330702199001011234" not in text and "浙G·12345" not in text
    assert material_world.world.venue.operator_name not in text
    assert run("qpdf", "--check", str(pdf)).returncode == 0
    fonts = run("pdffonts", str(pdf)).stdout.decode().splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts)
    images = run("pdfimages", "-list", str(pdf)).stdout.decode().splitlines()[2:]
    assert len(images) == sum(len(item.photos) for item in items)
