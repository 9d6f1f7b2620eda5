"""An inspection as it stands on record: venue, team, observations, findings, violations,
proposed penalties, notes, amendments, every photo and the signatures made on site, in the words the 检查记录 prints and the
record's page shows (one reading of the record for both). Amendments are shown laid over the
record (corrected values, added and withdrawn rows marked with the amendment's number), with
each amendment's reason and what it changed."""

from __future__ import annotations

import sqlalchemy as sa

from ..columns import local_text
from ..draws.models.draw import Assignment
from ..extensions import db
from ..pdf.fetcher import evidence_url, signature_url
from ..registry.loader import rules_bundle_for_category
from .models.inspection import Amendment, ExampleNote, Finding, Inspection, Observation, Penalty, Violation
from .models.signature import SIGNATURE_ROLE_LABELS, Signature

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


def _observation_rows(observations: list[Observation], amendments: list[Amendment], prompts: dict) -> list[dict]:
    """Each checklist item as it stands corrected: the value amendments laid over the recorded one
    (in the server's order), the recorded value it replaced and the amendment's number; the
    recorded row itself is never changed."""
    recorded = {row.item_code: row.value for row in observations}
    corrected: dict[str, tuple[object, int]] = {}
    for number, amendment in enumerate(amendments, start=1):
        for code, value in ((amendment.payload or {}).get("observations") or {}).items():
            corrected[code] = (value, number)
    rows = []
    for code in sorted(set(recorded) | set(corrected)):
        value, number = corrected.get(code, (recorded.get(code), None))
        changed = number is not None and (code not in recorded or recorded[code] != value)
        rows.append({"item": code, "prompt": prompts.get(code, code), "value": _value_text(value),
                     "corrected_from": _value_text(recorded.get(code)) if changed else None,
                     "amendment": number if changed else None})
    return rows


def _amendment_changes(amendments: list[Amendment], numbers: dict[int, int], prompts: dict,
                       observations: list[Observation], findings: list, finding_refs: dict, penalties: list,
                       notes: list) -> dict[int, list[str]]:
    """What each amendment changed, in words, by its number: a corrected checklist item with the
    value it replaced (as recorded on site, or as an earlier amendment left it) and its new one."""
    changes: dict[int, list[str]] = {number: [] for number in numbers.values()}
    standing = {row.item_code: row.value for row in observations}
    for amendment in amendments:
        for code, value in ((amendment.payload or {}).get("observations") or {}).items():
            before = _value_text(standing[code]) if code in standing else "未记录"
            changes[numbers[amendment.id]].append(
                f"检查项“{prompts.get(code, code)}”由 {before} 更正为 {_value_text(value)}")
            standing[code] = value

    def note(amendment_id, text):
        if amendment_id in numbers:
            changes[numbers[amendment_id]].append(text)

    for finding in findings:
        note(finding.amendment_id, f"补充问题 {finding.uuid[:8]}：{finding.description}")
        note(finding.withdrawn_by_amendment_id, f"撤回问题 {finding.uuid[:8]}：{finding.description}")
    for penalty in penalties:
        ref = finding_refs.get(penalty.finding_id, "—")
        note(penalty.amendment_id, f"补充处罚建议：{_penalty_text(penalty)}（问题 {ref}）")
        note(penalty.withdrawn_by_amendment_id, f"撤回处罚建议：{_penalty_text(penalty)}（问题 {ref}）")
    for row in notes:
        kind = NOTE_LABELS.get(row.kind, row.kind)
        note(row.amendment_id, f"补充{kind}：{row.text}")
        note(row.withdrawn_by_amendment_id, f"撤回{kind}：{row.text}")
    return changes


def inspection_record(inspection: Inspection) -> dict:
    """The record's facts from the stored inspection (every photo's print variant embedded
    through the restricted fetcher). Codes (rule, check, legal basis) and each photo's SHA-256 are
    kept for the record and the record's page; the printed 检查记录 leaves them out. Times are
    Beijing time."""
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
    numbers = {amendment.id: number for number, amendment in enumerate(amendments, start=1)}
    changes = _amendment_changes(amendments, numbers, prompts, observations, findings, finding_refs, penalties,
                                 notes)
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
        # How the office names the visit (抽查第 N 号第 M 组); the task's row id is no business of the venue's.
        "assignment": f"抽查第 {assignment.draw_id} 号第 {assignment.position} 组",
        "venue": {"name": venue.name, "address": venue.address, "category": venue.category.name,
                  "county": venue.county.name, "town": venue.town, "operator_name": venue.operator_name,
                  "approved_capacity": venue.approved_capacity},
        "team": team,
        "checked_in_at": local_text(inspection.checked_in_at),
        "submitted_at": local_text(inspection.submitted_at),
        "received_at": local_text(inspection.submission_received_at),
        # The corrected state, each row marked with the amendment that added or withdrew it.
        "observations": _observation_rows(observations, amendments, prompts),
        "findings": [{"ref": finding.uuid[:8], "rule": finding.rule_code, "description": finding.description,
                      "source": SOURCE_LABELS.get(finding.source, finding.source),
                      "withdrawn": finding.withdrawn_at is not None,
                      "amendment": numbers.get(finding.amendment_id),
                      "withdrawn_by": numbers.get(finding.withdrawn_by_amendment_id)} for finding in findings],
        "violations": [{"rule": v.rule_code, "check": v.check_code, "description": v.description,
                        "withdrawn": v.withdrawn_at is not None} for v in violations],
        "penalties": [{"finding": finding_refs.get(p.finding_id, "—"), "description": _penalty_text(p),
                       "basis": p.basis_code, "withdrawn": p.withdrawn_at is not None,
                       "amendment": numbers.get(p.amendment_id),
                       "withdrawn_by": numbers.get(p.withdrawn_by_amendment_id)} for p in penalties],
        "notes": [{"kind": NOTE_LABELS.get(note.kind, note.kind), "text": note.text,
                   "withdrawn": note.withdrawn_at is not None, "amendment": numbers.get(note.amendment_id),
                   "withdrawn_by": numbers.get(note.withdrawn_by_amendment_id)} for note in notes],
        "photos": photos,
        "amendments": [{"number": numbers[a.id], "reason": a.reason, "received_at": local_text(a.received_at),
                        "changes": changes[numbers[a.id]]} for a in amendments],
        "signatures": [_signature(signature) for signature in _signatures(inspection)],
    }


def _signatures(inspection: Inspection) -> list[Signature]:
    """The team's signatures first, then the venue's, each in the order signed."""
    return list(db.session.scalars(
        sa.select(Signature).where(Signature.inspection_id == inspection.id)
        .order_by(sa.case((Signature.role == "inspector", 0), else_=1), Signature.signed_at, Signature.id)))


def _signature(signature: Signature) -> dict:
    """Who signed, as whom and when (Beijing time), with the image through the restricted
    fetcher; a refusal with what the witness note says."""
    return {"role": SIGNATURE_ROLE_LABELS.get(signature.role, signature.role), "name": signature.signer_name,
            "signed_at": local_text(signature.signed_at), "refused": signature.refused,
            "witness_note": signature.witness_note if signature.refused else None,
            "sha256": signature.png_sha256,
            "src": signature_url(signature.png_sha256) if signature.png_sha256 else None}
