"""An inspection as it stands on record: venue, team, observations, findings, violations,
proposed penalties, notes, amendments, every photo and the signatures made on site, in the words
the 检查记录 prints and the record's page shows (one reading of the record for both). Amendments are shown laid over the
record (corrected values, added and withdrawn rows marked with the amendment's number), with
each amendment's reason and what it changed."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

import rulecheck

from ..audit.models.audit import AuditEvent
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


NOTHING = "（无）"
WITHDRAWN = "已撤回"


def _amendment_rows(amendments: list[Amendment], numbers: dict[int, int], prompts: dict,
                    observations: list[Observation], findings: list, finding_refs: dict, penalties: list,
                    notes: list, violations: list, checks: list[dict]) -> dict[int, list[dict]]:
    """What each amendment changed, by its number: rows of what, old value, new value, and the
    same in the words the 检查记录 prints (`text`).

    An amendment stores only the new values: the old value of a corrected checklist item is the
    one standing before it — as recorded on site, or as an earlier amendment left it (the chain
    read in the server's order). Added rows were nothing before; withdrawn rows keep their text
    and become withdrawn; violations found or withdrawn when the rules were evaluated again with
    the amendment are listed with it."""
    rows: dict[int, list[dict]] = {number: [] for number in numbers.values()}
    amendment_uuids = {amendment.id: amendment.uuid for amendment in amendments}

    def add(amendment_id, what: str, old: str, new: str, text: str):
        if amendment_id in numbers:
            rows[numbers[amendment_id]].append({"what": what, "old": old, "new": new, "text": text})

    standing = {row.item_code: row.value for row in observations}
    for amendment in amendments:
        for code, value in ((amendment.payload or {}).get("observations") or {}).items():
            what = f"检查项“{prompts.get(code, code)}”"
            before = _value_text(standing[code]) if code in standing else "未记录"
            add(amendment.id, what, before, _value_text(value), f"{what}由 {before} 更正为 {_value_text(value)}")
            standing[code] = value
    for finding in findings:
        what = f"问题 {finding.uuid[:8]}"
        add(finding.amendment_id, what, NOTHING, finding.description, f"补充{what}：{finding.description}")
        add(finding.withdrawn_by_amendment_id, what, finding.description, WITHDRAWN,
            f"撤回{what}：{finding.description}")
    for penalty in penalties:
        ref, text = finding_refs.get(penalty.finding_id, "—"), _penalty_text(penalty)
        add(penalty.amendment_id, f"处罚建议（问题 {ref}）", NOTHING, text, f"补充处罚建议：{text}（问题 {ref}）")
        add(penalty.withdrawn_by_amendment_id, f"处罚建议（问题 {ref}）", text, WITHDRAWN,
            f"撤回处罚建议：{text}（问题 {ref}）")
    for row in notes:
        kind = NOTE_LABELS.get(row.kind, row.kind)
        add(row.amendment_id, kind, NOTHING, row.text, f"补充{kind}：{row.text}")
        add(row.withdrawn_by_amendment_id, kind, row.text, WITHDRAWN, f"撤回{kind}：{row.text}")
    # Violations found or withdrawn as the rules were evaluated again: a violation row keeps only
    # its latest change (one withdrawn by an amendment and found again by a later one is the same
    # row), so each amendment's own list is read from its audit event; amendments without one
    # (none are written so by the server) fall back to the rows' links.
    described = {v.check_code: v.description for v in violations}
    described.update({check["code"]: check["description"] for check in checks})
    events = _amended_events(amendments)
    for amendment in amendments:
        event = events.get(amendment.uuid)
        if event is None:
            continue
        for key, old, new, verb in (("violations_found", NOTHING, "判定违规", "更正后判定"),
                                    ("violations_withdrawn", "违规", WITHDRAWN, "随之撤回")):
            for code in event.get(key) or []:
                what = f"违规问题“{described.get(code.split('/', 1)[-1], code)}”"
                add(amendment.id, what, old, new, f"{verb}{what}")
    for violation in violations:
        what = f"违规问题“{violation.description}”"
        found_event = events.get(amendment_uuids.get(violation.amendment_id), {})
        if violation.amendment_id in numbers and "violations_found" not in found_event:
            add(violation.amendment_id, what, NOTHING, "判定违规", f"更正后判定{what}")
        if violation.withdrawn_by_amendment_id in numbers \
                and amendment_uuids[violation.withdrawn_by_amendment_id] not in events:
            add(violation.withdrawn_by_amendment_id, what, "违规", WITHDRAWN, f"随之撤回{what}")
    return rows


def _amended_events(amendments: list[Amendment]) -> dict[str, dict]:
    """Each amendment's `inspection.amended` audit details, by the amendment's UUID."""
    if not amendments:
        return {}
    inspection_uuid = db.session.scalar(sa.select(Inspection.uuid).where(Inspection.id == amendments[0].inspection_id))
    details = db.session.scalars(sa.select(AuditEvent.details).where(
        AuditEvent.action == "inspection.amended", AuditEvent.object_type == "inspection",
        AuditEvent.object_id == inspection_uuid).order_by(AuditEvent.seq))
    return {row["amendment"]: row for row in details if isinstance(row, dict) and row.get("amendment")}


@dataclass
class _Rows:
    """The record's stored rows, read once for the 检查记录 and for the page's amendment history."""

    prompts: dict
    observations: list
    findings: list
    finding_refs: dict
    violations: list
    penalties: list
    notes: list
    amendments: list
    numbers: dict
    changes: dict


def _rows(inspection: Inspection) -> _Rows:
    session = db.session
    bundle = rules_bundle_for_category(inspection.assignment.venue.category)
    prompts = {item["code"]: item["prompt"] for rule in bundle for item in rule["items"]}
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
    changes = _amendment_rows(amendments, numbers, prompts, observations, findings, finding_refs, penalties,
                              notes, violations, [check for rule in bundle for check in rule["checks"]])
    return _Rows(prompts, observations, findings, finding_refs, violations, penalties, notes, amendments, numbers,
                 changes)


def amendment_history(inspection: Inspection) -> list[dict]:
    """Each amendment of the record, in order, with its reason, when it was made (device clock)
    and received (server clock), both Beijing time, and what it changed as old value → new value."""
    rows = _rows(inspection)
    return [{"number": rows.numbers[a.id], "reason": a.reason, "created_at": local_text(a.created_at),
             "received_at": local_text(a.received_at), "changes": rows.changes[rows.numbers[a.id]]}
            for a in rows.amendments]


def unrecorded_checks(inspection: Inspection) -> list[dict]:
    """The checklist items behind the record's live violations that hold no reading (on site or
    corrected): a violation recorded without its reading (e.g. entered as a judgement only, as
    the demo's generated week does) is shown with the items it judged, not beside "no items".
    Each: the items' prompts (or, if the rule no longer names the check, the violation's own
    words) and the violation it stands for. Nothing is invented: no value is shown."""
    rows = _rows(inspection)
    read = {row.item_code for row in rows.observations} | {
        code for amendment in rows.amendments for code in ((amendment.payload or {}).get("observations") or {})}
    checks = {check["code"]: check for rule in rules_bundle_for_category(inspection.assignment.venue.category)
              for check in rule["checks"]}
    out, seen = [], set()
    for violation in rows.violations:
        if violation.withdrawn_at is not None or violation.check_code in seen:
            continue
        seen.add(violation.check_code)
        check = checks.get(violation.check_code)
        items = sorted(name[len("obs."):] for name in rulecheck.variables_of(check["expression"])
                       if name.startswith("obs.")) if check else []
        missing = [code for code in items if code not in read]
        if items and not missing:
            continue  # its readings are in the observations table
        out.append({"items": "、".join(rows.prompts.get(code, code) for code in missing)
                    or f"规则 {violation.rule_code} 所列检查项",
                    "violation": violation.description, "rule_code": violation.rule_code})
    return out


def inspection_record(inspection: Inspection) -> dict:
    """The record's facts from the stored inspection (every photo's print variant embedded
    through the restricted fetcher). Codes (rule, check, legal basis) and each photo's SHA-256 are
    kept for the record and the record's page; the printed 检查记录 leaves them out. Times are
    Beijing time."""
    assignment: Assignment = inspection.assignment
    venue = assignment.venue
    loaded = _rows(inspection)
    prompts, observations, findings = loaded.prompts, loaded.observations, loaded.findings
    finding_refs, violations, penalties, notes = loaded.finding_refs, loaded.violations, loaded.penalties, loaded.notes
    amendments, numbers, changes = loaded.amendments, loaded.numbers, loaded.changes
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
                        "changes": [row["text"] for row in changes[numbers[a.id]]]} for a in amendments],
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
