"""An inspection as it stands on record: venue, team, observations, findings, violations,
proposed penalties, notes, amendments and every photo, in the words the 检查记录 prints and the
record's page shows (one reading of the record for both)."""

from __future__ import annotations

import sqlalchemy as sa

from ..columns import local_text
from ..draws.models.draw import Assignment
from ..extensions import db
from ..pdf.fetcher import evidence_url
from ..registry.loader import rules_bundle_for_category
from .models.inspection import Amendment, ExampleNote, Finding, Inspection, Observation, Penalty, Violation

SOURCE_LABELS = {"evaluator": "规则判定", "manual": "人工记录"}
NOTE_LABELS = {"positive": "正面典型", "negative": "反面典型"}


def _value_text(value) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if value is None:
        return "—"
    return str(value)


def _penalty_text(penalty: Penalty) -> str:
    if penalty.type == "fine":
        return f"罚款 {penalty.amount} 元" if penalty.amount else "罚款"
    return {"warning": "警告", "suspend": "责令暂停营业"}.get(penalty.type, penalty.type)


def inspection_record(inspection: Inspection) -> dict:
    """The record's facts from the stored inspection (every photo's print variant embedded
    through the restricted fetcher, the SHA-256 of its original printed under it)."""
    assignment: Assignment = inspection.assignment
    venue = assignment.venue
    prompts = {item["code"]: item["prompt"] for rule in rules_bundle_for_category(venue.category)
               for item in rule["items"]}
    session = db.session
    observations = session.scalars(sa.select(Observation).where(Observation.inspection_id == inspection.id)
                                   .order_by(Observation.item_code)).all()
    findings = session.scalars(sa.select(Finding).where(Finding.inspection_id == inspection.id)
                               .order_by(Finding.id)).all()
    finding_refs = {finding.id: finding.uuid[:8] for finding in findings}
    violations = session.scalars(sa.select(Violation).where(Violation.inspection_id == inspection.id)
                                 .order_by(Violation.rule_code, Violation.check_code)).all()
    penalties = session.scalars(sa.select(Penalty).join(Finding, Penalty.finding_id == Finding.id)
                                .where(Finding.inspection_id == inspection.id).order_by(Penalty.id)).all()
    notes = session.scalars(sa.select(ExampleNote).where(ExampleNote.inspection_id == inspection.id)
                            .order_by(ExampleNote.id)).all()
    amendments = session.scalars(sa.select(Amendment).where(Amendment.inspection_id == inspection.id)
                                 .order_by(Amendment.id)).all()
    photos = []
    for photo in inspection.photos:
        evidence = photo.evidence_file
        has_print = evidence is not None and "print" in (evidence.variants or {})
        photos.append({"sha256": photo.sha256, "src": evidence_url(photo.sha256, "print") if has_print else None,
                       "caption": photo.caption, "taken_at": local_text(photo.taken_at),
                       "finding": finding_refs.get(photo.finding_id), "filename": photo.filename})
    team = [{"name": member.user.display_name, "role": "组长" if member.is_leader else "组员",
             "certificate_no": member.user.enforcement_certificate_no} for member in assignment.members]
    return {
        "inspection_uuid": inspection.uuid,
        "assignment": f"抽查 {assignment.draw_id} 第 {assignment.position} 组（任务 {assignment.id}）",
        "venue": {"name": venue.name, "address": venue.address, "category": venue.category.name,
                  "county": venue.county.name, "town": venue.town, "operator_name": venue.operator_name,
                  "approved_capacity": venue.approved_capacity},
        "team": team,
        "checked_in_at": local_text(inspection.checked_in_at),
        "submitted_at": local_text(inspection.submitted_at),
        "received_at": local_text(inspection.submission_received_at),
        "observations": [{"item": row.item_code, "prompt": prompts.get(row.item_code, row.item_code),
                          "value": _value_text(row.value)} for row in observations],
        "findings": [{"ref": finding.uuid[:8], "rule": finding.rule_code, "description": finding.description,
                      "source": SOURCE_LABELS.get(finding.source, finding.source),
                      "withdrawn": finding.withdrawn_at is not None} for finding in findings],
        "violations": [{"rule": v.rule_code, "check": v.check_code, "description": v.description}
                       for v in violations],
        "penalties": [{"finding": finding_refs.get(p.finding_id, "—"), "description": _penalty_text(p),
                       "basis": p.basis_code} for p in penalties],
        "notes": [{"kind": NOTE_LABELS.get(note.kind, note.kind), "text": note.text} for note in notes],
        "photos": photos,
        "amendments": [{"reason": a.reason, "received_at": local_text(a.received_at)} for a in amendments],
    }
