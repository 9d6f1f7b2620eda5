"""The envelopes the phone app's tests open (field_app/test/envelope_vectors.json) still open,
and are still refused, the same way with Python `sealing.envelope` — so the committed file stays
valid as the format evolves, and the JS opener is held to what Python does today. Likewise the
payload hashes of field_app/test/digest_vectors.json still match `field_client.store`.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

FIELD_APP_TEST = Path(__file__).resolve().parents[2] / "field_app" / "test"
VECTORS = json.loads((FIELD_APP_TEST / "envelope_vectors.json").read_text("utf-8"))


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, FIELD_APP_TEST / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = _load("make_envelope_vectors")


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[case["name"] for case in VECTORS["cases"]])
def test_python_opens_the_vector_as_recorded(case):
    assert GENERATOR._open(case) == case["expect"]


def test_vectors_cover_every_refusal_and_typed_forms_of_the_code():
    reasons = {case["expect"]["error"]["reason"] for case in VECTORS["cases"] if "error" in case["expect"]}
    assert reasons == {"format", "assignment", "code_format", "wrong_code", "wrong_key"}
    opened_by_code = [case["secret"] for case in VECTORS["cases"] if case["method"] == "code" and "target" in case["expect"]]
    assert any(code != code.upper() for code in opened_by_code)  # lowercase
    assert any("-" not in code for code in opened_by_code)  # no dash
    assert any("O" in code.upper() for code in opened_by_code)  # O read as 0


def test_the_file_is_what_the_generator_writes():
    """Deterministic (seeded random bytes): regenerating without a change gives the same file."""
    assert GENERATOR.build() == VECTORS


def test_digest_vectors_match_the_field_client():
    committed = json.loads((FIELD_APP_TEST / "digest_vectors.json").read_text("utf-8"))
    assert _load("make_digest_vectors").build() == committed
