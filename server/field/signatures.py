"""Signatures on site, pushed as `signature` operations (their images are read back by
`signature_images`).

The phone app lets each inspector and the venue's person in charge sign on the screen after
reading a summary of the record; a refusal to sign (拒绝签字) is recorded with a witness note.
Signatures belong to the record: made while it is a draft, checked by the same rules as the
other records a device pushes (`appliers`). Submission does not wait for them — a refusal, or a
venue with nobody present, is normal — but the 检查记录 says who signed and who refused.

Services flush and never commit; the request commits.
"""

from __future__ import annotations

from ..audit.chain import record_event
from .appliers import _held, _inspection, _insert_once, _require_draft, _same_id
from .batch import Push
from .models.signature import Signature


def apply_signature(push: Push, entity_id: str, data: dict) -> None:
    """Keep a signature (or a refusal) of a draft record; the same one again is success."""
    _same_id(entity_id, str(data["uuid"]))
    inspection = _inspection(data["inspection_uuid"], push.user)
    refused = data["refused"]
    values = {"uuid": str(data["uuid"]), "inspection_id": inspection.id, "role": data["role"],
              "signer_name": data["signer_name"].strip(), "signed_at": data["signed_at"], "refused": refused,
              "witness_note": (data["witness_note"] or "").strip() or None,
              "png": None if refused else data["png_base64"], "png_sha256": None if refused else data["png_sha256"],
              # An inspector signs as a team member: the written name is tied to the account that
              # pushed it (`_inspection` has checked that account belongs to the team).
              "signer_user_id": push.user.id if data["role"] == "inspector" else None}
    existing = _held(Signature, values["uuid"])
    if existing is None:
        _require_draft(inspection)
    _, created = _insert_once(Signature, "签字", values, existing)
    if created:
        record_event("inspection.signed", actor=push.user, channel="api", object_type="inspection",
                     object_id=inspection.uuid,
                     details={"signature": values["uuid"], "role": values["role"], "signer": values["signer_name"],
                              "refused": refused})
