"""Bulletins through the services: workflow, numbering at publication, immutability, the PDF
(deterministic, fonts embedded, text extractable, qpdf-clean) and its redacted images."""

from __future__ import annotations

import re
import subprocess
from datetime import date

import pytest
import sqlalchemy as sa
from material_world import make_assignment, material_world, world  # noqa: F401  (fixtures)

from server.errors import Conflict
from server.publicity import bulletin_print
from server.publicity import bulletins as service
from server.publicity import materials
from server.publicity.models.material import Bulletin, MaterialItem

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


DATES = re.compile(rb"/(CreationDate|ModDate) \(D:[^)]*\)")


def test_the_same_inputs_give_the_same_pdf_apart_from_its_metadata_dates(db, material_world):
    from datetime import datetime, timezone

    items = approved_items(material_world)
    bulletin = compose(material_world, items)
    user = material_world.users["propaganda"]
    context = bulletin_print.build_context(bulletin, date(YEAR, 6, 1))
    first = bulletin_print.render_bulletin(context, number="第1期", user=user, draft=False,
                                           created=datetime(2026, 1, 1, tzinfo=timezone.utc))
    second = bulletin_print.render_bulletin(bulletin_print.build_context(bulletin, date(YEAR, 6, 1)), number="第1期",
                                            user=user, draft=False,
                                            created=datetime(2027, 2, 2, 3, 4, 5, tzinfo=timezone.utc))
    assert len(DATES.findall(first)) == 2 and first != second
    assert DATES.sub(b"", first) == DATES.sub(b"", second)
    again = bulletin_print.render_bulletin(context, number="第1期", user=user, draft=False,
                                           created=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert again == first


def test_only_approved_items_can_be_chosen_and_a_rejected_item_blocks_submission(db, material_world):
    from server.errors import Invalid

    office = material_world.users["office"]
    materials.collect_note_candidates(office)
    items = list(db_items(material_world))
    with pytest.raises(Invalid):
        compose(material_world, items[:1])
    materials.review_material(items[0], "approved", actor=office)
    bulletin = compose(material_world, items[:1])
    materials.review_material(items[0], "rejected", actor=office)
    with pytest.raises(Conflict):
        service.transition(bulletin, "submit", actor=material_world.users["propaganda"])


def test_statistics_count_live_violations_in_the_period_by_county(db, material_world):
    from server.columns import utcnow
    from server.field.models.inspection import Violation

    venue = material_world.world.venue
    inspection = material_world.inspection

    def violation(check, withdrawn=False):
        return Violation(inspection_id=inspection.id, rule_code="K3", check_code=check, description="超员",
                         venue_id=venue.id, county_id=venue.county_id, department_ids=[],
                         withdrawn_at=utcnow() if withdrawn else None)

    db.session.add_all([violation("a"), violation("b"), violation("c", withdrawn=True)])
    db.session.flush()
    rows = {row["county"]: row["violations"]
            for row in bulletin_print.violation_counts_by_county(date(2026, 3, 10), date(2026, 3, 10))}
    assert rows[venue.county.name] == 2
    assert {row["county"]: row["violations"] for row in bulletin_print.violation_counts_by_county(
        date(2026, 3, 11), date(2026, 3, 31))}[venue.county.name] == 0


def test_cli_renders_a_published_issue_as_stored(cli, db, material_world, tmp_path):
    items = approved_items(material_world)
    office, propaganda = material_world.users["office"], material_world.users["propaganda"]
    bulletin = compose(material_world, items)
    out = tmp_path / "draft.pdf"
    result = cli.invoke(args=["bulletin", "render", str(bulletin.id), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "样稿" in result.output and out.read_bytes().startswith(b"%PDF-")
    service.transition(bulletin, "submit", actor=propaganda)
    service.transition(bulletin, "approve", actor=office)
    service.publish_bulletin(bulletin, actor=office, issued_on=date(YEAR + 1, 2, 1))
    result = cli.invoke(args=["bulletin", "render", str(bulletin.id), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == service.bulletin_path(bulletin).read_bytes()
    missing = cli.invoke(args=["bulletin", "render", "999999999", "--out", str(out)])
    assert missing.exit_code == 1 and "简报不存在" in missing.output
