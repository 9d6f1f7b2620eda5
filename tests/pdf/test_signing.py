"""PAdES signatures (server/pdf/signing.py): a signed 决定书 is valid for poppler's pdfsig and,
against the demo CA, trusted by pyHanko; a changed or appended byte, another CA, another organ
and no signature at all are each reported in words; keys load from PEM or PKCS#12 and a bad key
file is reported, never raised."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import stat
import subprocess
import time
from io import BytesIO

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from server.demo.signing import DEMO_CA_NAME, DEMO_CITY, DEMO_ORGANIZATION
from server.enforcement.documents import preview_document
from server.pdf import signing
from server.pdf.local_ca import ensure_local_ca

POLICE = "金华市公安局"
OFFICE = "金市疫情防指办"  # the office's seal: its full name is too long for an X.509 name


@pytest.fixture(scope="module")
def decision_pdf(app):
    with app.app_context():
        return preview_document("penalty_decision")


@pytest.fixture
def ring(organ_keys_dir) -> signing.KeyRing:
    return signing.load_key_ring(organ_keys_dir)


@pytest.fixture
def roots(organ_keys_dir):
    return signing.load_trust_roots(organ_keys_dir / signing.TRUST_ROOTS_FILE)


@pytest.fixture
def signed(decision_pdf, ring) -> bytes:
    return signing.sign(decision_pdf, ring.key_for(POLICE))


def pdfsig(tmp_path, data: bytes) -> str:
    path = tmp_path / "signed.pdf"
    path.write_bytes(data)
    result = subprocess.run(["pdfsig", str(path)], capture_output=True, timeout=60)
    return result.stdout.decode("utf-8", "replace") + result.stderr.decode("utf-8", "replace")


def test_pdfsig_lists_the_organ_signature_as_valid(tmp_path, signed, decision_pdf):
    report = pdfsig(tmp_path, signed)
    assert "Signature #1" in report and "Signature #2" not in report
    assert f"Common Name: {POLICE}" in report
    assert "ETSI.CAdES.detached" in report  # PAdES
    assert "Signature Validation: Signature is Valid." in report
    assert "Total document signed" in report
    # The signature is an incremental update: the rendered bytes are kept as they were.
    assert signed.startswith(decision_pdf)


def test_signing_and_checking_work_where_an_event_loop_is_running(decision_pdf, ring, roots):
    """pyHanko runs its own event loop; under a running one (an async server, or this test process
    once Playwright's browser stories have started) signing must still work."""
    async def inside_a_running_loop():
        signed = signing.sign(decision_pdf, ring.key_for(POLICE))
        return signing.check(signed, roots, expected_signer=POLICE)

    # A thread of its own, where this test's loop is the only one (the browser stories' loop may
    # already run in the main thread).
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as worker:
        assert worker.submit(asyncio.run, inside_a_running_loop()).result().valid


def test_pyhanko_trusts_it_against_the_demo_ca_with_reason_and_location(signed, roots):
    check = signing.check(signed, roots, expected_signer=POLICE)
    assert check.valid and check.status == "valid"
    assert (check.signer, check.organization) == (POLICE, DEMO_ORGANIZATION)
    assert check.signed_at is not None and abs(time.time() - check.signed_at.timestamp()) < 300
    assert check.message.startswith(f"电子签章有效：由“{POLICE}”于") and "北京时间" in check.message
    from pyhanko.pdf_utils.reader import PdfFileReader

    [embedded] = PdfFileReader(BytesIO(signed), strict=False).embedded_signatures
    assert embedded.sig_object["/Reason"] == "行政执法文书签章"
    assert embedded.sig_object["/Location"] == DEMO_CITY
    assert embedded.sig_object["/Name"] == POLICE


def test_a_byte_changed_after_signing_is_reported(signed, roots):
    position = signed.index(b"stream", 2000) + 60  # inside a signed content stream
    changed = signed[:position] + bytes([signed[position] ^ 0x01]) + signed[position + 1:]
    check = signing.check(changed, roots, expected_signer=POLICE)
    assert check.status == "invalid" and not check.valid
    assert "签章后被改动" in check.message


def test_bytes_appended_after_signing_are_reported(signed, roots):
    check = signing.check(signed + b"\n% appended\n", roots)
    assert check.status == "modified" and "签章后" in check.message


def test_a_mangled_file_is_unreadable_not_an_error(signed, roots):
    # The incremental update's cross-reference table and trailer cut off.
    check = signing.check(signed[:-120], roots)
    assert check.status != "valid" and check.message


def test_another_ca_is_not_trusted(tmp_path, decision_pdf, roots):
    ensure_local_ca(tmp_path / "other", [POLICE], ca_name="别处的根证书", organization="别处", locality="别处")
    forged = signing.sign(decision_pdf, signing.load_key_ring(tmp_path / "other").key_for(POLICE))
    check = signing.check(forged, roots, expected_signer=POLICE)
    assert check.status == "untrusted" and not check.valid
    assert "不是受信任的机关证书" in check.message
    # pdfsig still finds the signature itself sound: only trust tells the two apart.
    assert "Signature is Valid." in pdfsig(tmp_path, forged)


def test_no_trust_roots_means_no_trust(signed):
    check = signing.check(signed, [])
    assert check.status == "untrusted" and "未配置受信任的根证书" in check.message


def test_another_organ_of_the_same_ca_is_not_the_issuer(decision_pdf, ring, roots):
    signed_by_office = signing.sign(decision_pdf, ring.key_for(OFFICE))
    check = signing.check(signed_by_office, roots, expected_signer=POLICE)
    assert check.status == "wrong_organ" and POLICE in check.message and OFFICE in check.message


def test_an_unsigned_file(decision_pdf, roots):
    check = signing.check(decision_pdf, roots)
    assert check.status == "unsigned" and check.message == "文件未加盖电子签章。"


def test_keys_are_private_and_named_by_their_organ(organ_keys_dir, ring):
    assert {POLICE, OFFICE} <= set(ring.keys) and not ring.problems
    for organ in ring.keys:
        key_file = organ_keys_dir / f"{organ}{signing.KEY_SUFFIX}"
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
        assert ring.keys[organ].location == DEMO_CITY
    ca_key = organ_keys_dir / "local-ca" / "ca.key.pem"
    assert stat.S_IMODE(os.stat(ca_key).st_mode) == 0o600
    # The CA is not an organ: it never signs a document.
    assert DEMO_CA_NAME not in ring.keys


def test_a_second_run_keeps_the_keys(organ_keys_dir):
    before = (organ_keys_dir / f"{POLICE}{signing.CERT_SUFFIX}").read_bytes()
    made = ensure_local_ca(organ_keys_dir, [POLICE], ca_name=DEMO_CA_NAME, organization=DEMO_ORGANIZATION,
                           locality=DEMO_CITY)
    assert made == [] and (organ_keys_dir / f"{POLICE}{signing.CERT_SUFFIX}").read_bytes() == before


def test_pkcs12_and_bad_files(tmp_path, organ_keys_dir, decision_pdf, roots):
    source = signing.load_key_ring(organ_keys_dir).key_for(POLICE)
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / f"{POLICE}.p12").write_bytes(pkcs12.serialize_key_and_certificates(
        None, source.key, source.certificate, list(source.chain),
        serialization.BestAvailableEncryption(b"correct horse")))
    # A certificate of one organ under another organ's name would sign in that organ's name.
    (keys / f"{OFFICE}.key.pem").write_bytes((organ_keys_dir / f"{POLICE}.key.pem").read_bytes())
    (keys / f"{OFFICE}.cert.pem").write_bytes((organ_keys_dir / f"{POLICE}.cert.pem").read_bytes())
    (keys / "某局.key.pem").write_bytes(b"not a key")

    ring = signing.load_key_ring(keys, "correct horse")
    assert set(ring.keys) == {POLICE}
    assert "不一致" in ring.problems[OFFICE] and "某局" in ring.problems
    assert ring.missing_reason(OFFICE).startswith("未配置电子签章：")
    assert ring.missing_reason("金华市某局") == "未配置电子签章：没有“金华市某局”的签章密钥，文书未加盖电子签章。"
    assert signing.check(signing.sign(decision_pdf, ring.key_for(POLICE)), roots, expected_signer=POLICE).valid

    wrong_passphrase = signing.load_key_ring(keys, "wrong")
    assert POLICE not in wrong_passphrase.keys and POLICE in wrong_passphrase.problems
    assert signing.load_key_ring(None).keys == {} and signing.load_key_ring(tmp_path / "missing").keys == {}


def test_signing_takes_a_few_tens_of_milliseconds(decision_pdf, ring, roots):
    organ_key = ring.key_for(POLICE)
    signing.sign(decision_pdf, organ_key)  # the first one imports pyHanko
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        signing.sign(decision_pdf, organ_key)
        timings.append(time.perf_counter() - started)
    median = sorted(timings)[2]
    print(f"signing a {len(decision_pdf)} byte 决定书: median {median * 1000:.1f} ms")
    # Rendering the same document takes seconds; a loaded test machine still signs well under this.
    assert median < 0.25
