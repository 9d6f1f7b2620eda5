"""A local certificate authority for the demo and the tests: one CA and one signing certificate
per organ, written in the layout server/pdf/signing.py loads. A deployment brings its own keys.

    <directory>/<organ>.key.pem, <organ>.cert.pem   the organ's key (0600) and certificate + CA
    <directory>/trust-roots.pem                      the CA certificate verification trusts
    <directory>/local-ca/ca.key.pem, ca.cert.pem     the CA itself (not an organ: not loaded)

Only what is missing is made, so a second run keeps the keys (and the documents signed with them
stay verifiable).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from .signing import CERT_SUFFIX, KEY_SUFFIX, TRUST_ROOTS_FILE

CA_FOLDER = "local-ca"
VALID_YEARS = 10
# RSA 2048 signs in about a millisecond and every PDF reader (poppler, Acrobat, browsers) checks it.
KEY_BITS = 2048


def _name(common_name: str, organization: str, locality: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "浙江省"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, locality),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _write_private(path: Path, key) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    # Created 0600 from the start: the key is never readable by others, not even for a moment.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def _pem(*certificates: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates)


def _ca(folder: Path, common_name: str, organization: str, locality: str):
    key_path, cert_path = folder / "ca.key.pem", folder / "ca.cert.pem"
    if key_path.exists() and cert_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), None)
        return key, x509.load_pem_x509_certificate(cert_path.read_bytes())
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    name = _name(common_name, organization, locality)
    now = datetime.now(timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365 * VALID_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256()))
    _write_private(key_path, key)
    cert_path.write_bytes(_pem(certificate))
    return key, certificate


def ensure_local_ca(directory: str | os.PathLike, organs, *, ca_name: str, organization: str,
                    locality: str) -> list[str]:
    """Make the CA and every missing organ certificate under `directory`; the organs made."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _ca(directory / CA_FOLDER, ca_name, organization, locality)
    (directory / TRUST_ROOTS_FILE).write_bytes(_pem(ca_cert))
    made = []
    for organ in dict.fromkeys(organs):
        key_path, cert_path = directory / f"{organ}{KEY_SUFFIX}", directory / f"{organ}{CERT_SUFFIX}"
        if key_path.exists() and cert_path.exists():
            continue
        key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        now = datetime.now(timezone.utc)
        certificate = (
            x509.CertificateBuilder().subject_name(_name(organ, organization, locality))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=365 * VALID_YEARS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            # Signing documents: digital signature and non-repudiation (pyHanko's validator and
            # Acrobat look for the latter on a document signer).
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
        _write_private(key_path, key)
        cert_path.write_bytes(_pem(certificate, ca_cert))
        made.append(organ)
    return made
