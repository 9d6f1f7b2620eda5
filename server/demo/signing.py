"""The demo's electronic seals: a local CA and one signing certificate per issuing organ, made
under the instance folder when missing, so that every document the demo issues is signed and
`anfang document verify` shows a trusted signature. A deployment configures its own keys."""

from __future__ import annotations

from pathlib import Path

from flask import current_app

from ..enforcement.document_catalogue import load_catalogue
from ..enforcement.organs import load_organs, seal_of
from ..enforcement.rectification import settings as rectification_settings
from ..pdf.local_ca import ensure_local_ca

DEMO_CA_NAME = "金华市电子签章演示根证书（仅供演示）"
DEMO_ORGANIZATION = "金华市人民政府"
DEMO_CITY = "金华市"


def issuing_seals() -> list[str]:
    """The seal of every organ a document names as its issuer: the organs of organs.yaml (a case's
    penalty documents are issued by the organ its legal basis names), the kinds' default organs
    and the rectification orders'."""
    organs = list(load_organs())
    organs += [kind.authority for kind in load_catalogue().kinds.values()]
    organs.append(rectification_settings().issuing_authority)
    return list(dict.fromkeys(map(seal_of, organs)))


def ensure_demo_signing_keys() -> tuple[Path, list[str]]:
    """The signing directory (DOCUMENT_SIGNING_DIR, else instance/signing, then configured for
    this process) and the organs whose keys were made now."""
    configured = current_app.config.get("DOCUMENT_SIGNING_DIR")
    directory = Path(configured or Path(current_app.instance_path) / "signing")
    if not configured:
        current_app.config["DOCUMENT_SIGNING_DIR"] = str(directory)
    made = ensure_local_ca(directory, issuing_seals(), ca_name=DEMO_CA_NAME, organization=DEMO_ORGANIZATION,
                           locality=DEMO_CITY)
    return directory, made
