"""The sealed envelope (sealing.envelope): round trips, refusals, code normalisation, no clear text."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
import uuid

import pytest

import sealing
from sealing import EnvelopeError, new_reveal_code, normalise_code, open_with_code, open_with_key, seal
from sealing import envelope as envelope_module

TARGET = {
    "venue_id": 4711,
    "name": "星河娱乐会所",
    "category": "KTV",
    "category_code": "ktv",
    "county": "婺城区",
    "county_code": "wucheng",
    "town": "城东街道",
    "address": "金华市婺城区八一南街 88 号",
    "latitude": 29.078765,
    "longitude": 119.647229,
    "approved_capacity": 120,
    "operator_name": "李四",
    "contact_phone": "13912345678",
}
# Cheap parameters for the many tests that do not measure scrypt (the reader accepts them).
FAST = {"scrypt_n": 2**10}


@pytest.fixture
def key() -> bytes:
    return os.urandom(32)


@pytest.fixture
def assignment_uuid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def code() -> str:
    return new_reveal_code()


@pytest.fixture
def envelope(key, code, assignment_uuid) -> bytes:
    return seal(TARGET, key, code, assignment_uuid, **FAST)


def test_opens_with_the_key(envelope, key, assignment_uuid):
    assert open_with_key(envelope, key, assignment_uuid) == TARGET


def test_opens_with_the_code(envelope, code, assignment_uuid):
    assert open_with_code(envelope, code, assignment_uuid) == TARGET


def test_code_unwraps_the_same_key(envelope, code, key, assignment_uuid):
    assert sealing.key_with_code(envelope, code, assignment_uuid) == key


def test_key_text_round_trip(key):
    text = sealing.key_to_text(key)
    assert "=" not in text and sealing.key_from_text(text) == key


def test_default_parameters_round_trip(key, code, assignment_uuid):
    envelope = seal(TARGET, key, code, assignment_uuid)
    kdf = json.loads(envelope)["key"]["kdf"]
    assert (kdf["n"], kdf["r"], kdf["p"]) == (2**15, 8, 1)
    assert open_with_code(envelope, code, assignment_uuid) == TARGET


def test_scrypt_cost_is_in_the_intended_range(key, code, assignment_uuid):
    envelope = seal(TARGET, key, code, assignment_uuid)
    start = time.perf_counter()
    open_with_code(envelope, code, assignment_uuid)
    elapsed = time.perf_counter() - start
    # Aimed at 50–150 ms; generous bounds so that a loaded machine does not flake the suite.
    assert 0.02 < elapsed < 2.0


def test_wrong_code_is_refused_clearly(envelope, assignment_uuid):
    with pytest.raises(EnvelopeError) as caught:
        open_with_code(envelope, "00000-00000", assignment_uuid)
    assert caught.value.reason == "wrong_code"
    assert "揭封码不正确" in str(caught.value)
    # Raised without a chained cryptography exception, so no traceback noise reaches a user.
    assert caught.value.__suppress_context__


def test_wrong_key_is_refused(envelope, assignment_uuid):
    with pytest.raises(EnvelopeError) as caught:
        open_with_key(envelope, os.urandom(32), assignment_uuid)
    assert caught.value.reason == "wrong_key"


@pytest.mark.parametrize("bad_key", [b"", b"short", os.urandom(31), os.urandom(33), "a" * 32])
def test_malformed_key_is_refused(envelope, assignment_uuid, bad_key):
    with pytest.raises(EnvelopeError):
        open_with_key(envelope, bad_key, assignment_uuid)


def test_other_assignment_uuid_is_refused(envelope, key, code):
    other = str(uuid.uuid4())
    for opener, secret in ((open_with_key, key), (open_with_code, code)):
        with pytest.raises(EnvelopeError) as caught:
            opener(envelope, secret, other)
        assert caught.value.reason == "assignment"


def test_relabelled_envelope_does_not_open(envelope, key, code, assignment_uuid):
    """Changing the uuid inside the envelope does not help: it is bound as associated data."""
    other = str(uuid.uuid4())
    document = json.loads(envelope)
    document["assignment"] = other
    relabelled = json.dumps(document).encode()
    with pytest.raises(EnvelopeError) as by_key:
        open_with_key(relabelled, key, other)
    assert by_key.value.reason == "wrong_key"
    with pytest.raises(EnvelopeError) as by_code:
        open_with_code(relabelled, code, other)
    assert by_code.value.reason == "wrong_code"


@pytest.mark.parametrize("part, field", [("target", "ciphertext"), ("target", "nonce"), ("key", "ciphertext"),
                                         ("key", "nonce")])
def test_tampering_is_detected(envelope, key, code, assignment_uuid, part, field):
    document = json.loads(envelope)
    raw = bytearray(base64.urlsafe_b64decode(document[part][field] + "=="))
    raw[len(raw) // 2] ^= 0x01
    document[part][field] = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    tampered = json.dumps(document).encode()
    with pytest.raises(EnvelopeError):
        open_with_code(tampered, code, assignment_uuid)
    if part == "target":
        with pytest.raises(EnvelopeError):
            open_with_key(tampered, key, assignment_uuid)


def test_changed_salt_is_detected(envelope, code, assignment_uuid):
    document = json.loads(envelope)
    document["key"]["kdf"]["salt"] = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
    with pytest.raises(EnvelopeError) as caught:
        open_with_code(json.dumps(document).encode(), code, assignment_uuid)
    assert caught.value.reason == "wrong_code"


@pytest.mark.parametrize("kdf_change", [{"n": 2**30}, {"n": 3000}, {"r": 1000}, {"p": 64}, {"name": "pbkdf2"},
                                        {"n": "32768"}, {"n": True}])
def test_hostile_kdf_parameters_are_refused_before_any_work(envelope, code, assignment_uuid, kdf_change):
    document = json.loads(envelope)
    document["key"]["kdf"].update(kdf_change)
    start = time.perf_counter()
    with pytest.raises(EnvelopeError) as caught:
        open_with_code(json.dumps(document).encode(), code, assignment_uuid)
    assert caught.value.reason == "format"
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("garbage", [b"", b"not json", b"[]", b'{"format": "other"}', "ü".encode("latin-1"),
                                     b'{"format": "anfang.envelope", "version": 99}', None, 42])
def test_garbage_is_a_format_error(garbage, key, assignment_uuid):
    with pytest.raises(EnvelopeError) as caught:
        open_with_key(garbage, key, assignment_uuid)
    assert caught.value.reason == "format"


def test_missing_fields_are_a_format_error(envelope, key, code, assignment_uuid):
    for path in (("target",), ("key",), ("target", "nonce"), ("key", "kdf"), ("key", "kdf", "salt")):
        document = json.loads(envelope)
        holder = document
        for name in path[:-1]:
            holder = holder[name]
        del holder[path[-1]]
        with pytest.raises(EnvelopeError):
            open_with_code(json.dumps(document).encode(), code, assignment_uuid)


def test_envelope_is_self_describing(envelope, assignment_uuid):
    document = json.loads(envelope)
    assert document["format"] == "anfang.envelope" and document["version"] == 1
    assert document["assignment"] == assignment_uuid
    assert document["target"]["alg"] == document["key"]["alg"] == "A256GCM"
    assert document["key"]["kdf"]["name"] == "scrypt"
    assert len(base64.urlsafe_b64decode(document["key"]["kdf"]["salt"] + "==")) == 16


def _encodings(text: str) -> list[bytes]:
    """`text` in the forms it could hide in: UTF-8, JSON escapes, and base64 at each alignment."""
    raw = text.encode("utf-8")
    forms = [raw, json.dumps(text).encode("ascii"), text.encode("utf-16-le")]
    for shift in range(3):
        padded = b"\0" * shift + raw
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(padded)
            # Drop the characters that depend on neighbouring bytes at either end.
            forms.append(encoded[(shift * 4 + 2) // 3 + 1:-(4 if len(padded) % 3 else 1)])
    return [form for form in forms if len(form) >= 4]


def test_envelope_bytes_hold_no_target_in_clear(envelope):
    for value in (TARGET["name"], TARGET["address"], TARGET["operator_name"], TARGET["contact_phone"],
                  '"venue_id"', "venue_id", json.dumps(TARGET, ensure_ascii=False)[:20]):
        for form in _encodings(value):
            assert form not in envelope, (value, form)
    # The id alone is a short number that random base64 may contain; in clear it would sit in JSON.
    assert b'"venue_id":4711' not in envelope and b"4711," not in envelope


def test_ciphertext_length_hides_the_target_length(key, code, assignment_uuid):
    short = seal(dict(TARGET, name="甲", address="乙"), key, code, assignment_uuid, **FAST)
    long = seal(dict(TARGET, name="甲" * 30, address="乙" * 30), key, code, assignment_uuid, **FAST)
    assert len(json.loads(short)["target"]["ciphertext"]) == len(json.loads(long)["target"]["ciphertext"])


def test_two_seals_of_the_same_target_differ(key, code, assignment_uuid):
    assert seal(TARGET, key, code, assignment_uuid, **FAST) != seal(TARGET, key, code, assignment_uuid, **FAST)


# --- reveal codes ------------------------------------------------------------------------------


def test_new_codes_are_grouped_crockford_base32():
    codes = {new_reveal_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 11 and code[5] == "-"
        assert set(code.replace("-", "")) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
        assert normalise_code(code) == code


def test_codes_carry_about_fifty_bits():
    assert sealing.CODE_LENGTH * 5 == 50


@pytest.mark.parametrize("typed, expected", [
    ("7kq2m-xw9pa", "7KQ2M-XW9PA"),
    ("7KQ2MXW9PA", "7KQ2M-XW9PA"),
    (" 7KQ2M XW9PA ", "7KQ2M-XW9PA"),
    ("7-KQ2M-XW9-PA", "7KQ2M-XW9PA"),
    ("OOOOO-IIIII", "00000-11111"),
    ("ooooo-lllll", "00000-11111"),
    ("1L1I1-0O0o0", "11111-00000"),
])
def test_normalise_code_accepts_what_people_type(typed, expected):
    assert normalise_code(typed) == expected


@pytest.mark.parametrize("typed", ["", "7KQ2M", "7KQ2M-XW9PA-1", "7KQ2M-XW9P!", "UUUUU-UUUUU", "七KQ2M-XW9PA", None])
def test_normalise_code_refuses_what_cannot_be_a_code(typed):
    with pytest.raises(EnvelopeError) as caught:
        normalise_code(typed)
    assert caught.value.reason == "code_format"


def test_code_opens_however_it_is_typed(key, assignment_uuid):
    envelope = seal(TARGET, key, "7KQ2M-XW9PA", assignment_uuid, **FAST)
    assert open_with_code(envelope, "7kq2mxw9pa", assignment_uuid) == TARGET
    envelope = seal(TARGET, key, "0O1IL-ABCDE", assignment_uuid, **FAST)
    assert open_with_code(envelope, "00111abcde", assignment_uuid) == TARGET


def test_malformed_code_is_refused_before_scrypt(envelope, assignment_uuid):
    with pytest.raises(EnvelopeError) as caught:
        open_with_code(envelope, "12345", assignment_uuid)
    assert caught.value.reason == "code_format"


def test_sealing_package_never_imports_the_server():
    """The field client imports `sealing` without the server, Flask or SQLAlchemy."""
    script = ("import sys, sealing, sealing.envelope; "
              "bad = [m for m in sys.modules if m.split('.')[0] in ('server', 'flask', 'sqlalchemy')]; "
              "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_module_docstring_documents_the_format():
    doc = envelope_module.__doc__
    for word in ("AES-256-GCM", "scrypt", "salt", "base64url", "version", "aad"):
        assert word in doc
