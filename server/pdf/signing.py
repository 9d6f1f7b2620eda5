"""PAdES signatures of issued documents (pyHanko): load each organ's key, sign a rendered PDF,
check a PDF's signature against trusted roots. Imports no domain: callers pass the directory,
the organ and the trust roots.

Key directory (a deployment's own, configured as DOCUMENT_SIGNING_DIR), one organ per file named
by the organ exactly as documents print it:

    金华市公安局.p12                      PKCS#12 (key, certificate and its chain; passphrase
                                           DOCUMENT_SIGNING_PASSPHRASE), or
    金华市公安局.key.pem + 金华市公安局.cert.pem   PEM key and certificate (then its chain)
    trust-roots.pem                        the CA certificates a verifier trusts (optional; or
                                           DOCUMENT_TRUST_ROOTS names a PEM file)

The signature is an incremental update (the rendered bytes stay as they were, so the Info
dictionary's document id is still found) with SubFilter ETSI.CAdES.detached (PAdES B-B): the
signer's certificate and chain are embedded, nothing is fetched from the network.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

SIGNATURE_FIELD = "OrganSignature"
TRUST_ROOTS_FILE = "trust-roots.pem"
KEY_SUFFIX, CERT_SUFFIX, PKCS12_SUFFIXES = ".key.pem", ".cert.pem", (".p12", ".pfx")
DEFAULT_REASON = "行政执法文书签章"
_BEIJING = ZoneInfo("Asia/Shanghai")

log = logging.getLogger(__name__)
# pyHanko logs an untrusted signer certificate as a warning with a full traceback; check() gives
# that answer in words, and a traceback on `anfang document verify`'s stderr would only alarm.
logging.getLogger("pyhanko.sign.validation").setLevel(logging.ERROR)


class SigningKeyError(Exception):
    """An organ's key file cannot be used; the message is Chinese and names the file."""


@dataclass(frozen=True)
class OrganKey:
    """One organ's signing key with its certificate chain (the organ's certificate first)."""

    organ: str
    key: object  # a cryptography private key
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()
    _signer: list = field(default_factory=list, repr=False, compare=False)

    @property
    def reserve(self) -> int:
        """Bytes to reserve for the CMS signature: the embedded certificates, a 4096-bit signature,
        the signed attributes, and room to spare."""
        needed = 4096 + sum(len(c.public_bytes(serialization.Encoding.DER)) for c in (self.certificate, *self.chain))
        return -(-needed // 256) * 256  # pyHanko wants an even count

    @property
    def location(self) -> str | None:
        """The organ's city (the certificate's L), written as the signature's location."""
        values = self.certificate.subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)
        return values[0].value if values else None

    def signer(self):
        """pyHanko's signer for this key, built once per loaded key."""
        if not self._signer:
            self._signer.append(_signer_for(self))
        return self._signer[0]


def _signer_for(organ_key: OrganKey):
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from pyhanko.sign import signers
    from pyhanko.sign.general import get_pyca_cryptography_hash
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    class _LoadedKeySigner(signers.SimpleSigner):
        """SimpleSigner re-parses the private key on every signature, and parsing an RSA key
        (cryptography checks it whole) costs ~130 ms, twice per document: this one signs with the
        key already loaded; any other mechanism goes to pyHanko's own code."""

        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
            hash_algorithm = get_pyca_cryptography_hash(digest_algorithm)
            if mechanism == "rsassa_pkcs1v15" and isinstance(organ_key.key, rsa.RSAPrivateKey):
                return organ_key.key.sign(data, padding.PKCS1v15(), hash_algorithm)
            if mechanism == "ecdsa" and isinstance(organ_key.key, ec.EllipticCurvePrivateKey):
                return organ_key.key.sign(data, ec.ECDSA(hash_algorithm))
            return super().sign_raw(data, digest_algorithm)

    def der(certificate):
        return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))

    key_der = organ_key.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())
    return _LoadedKeySigner(
        signing_cert=der(organ_key.certificate), signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs([der(c) for c in organ_key.chain]))


@dataclass(frozen=True)
class KeyRing:
    """The organ keys of a directory, and the files that could not be used (with why)."""

    keys: dict[str, OrganKey]
    problems: dict[str, str]

    def key_for(self, organ: str) -> OrganKey | None:
        return self.keys.get(organ)

    def missing_reason(self, organ: str) -> str:
        """Why `organ` has no key, in words an officer reads beside the document."""
        if organ in self.problems:
            return f"未配置电子签章：{self.problems[organ]}"
        return f"未配置电子签章：没有“{organ}”的签章密钥，文书未加盖电子签章。"


# --- loading keys --------------------------------------------------------------------------------


def _cn(certificate: x509.Certificate) -> str | None:
    values = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return values[0].value if values else None


def _same_key(key, certificate: x509.Certificate) -> bool:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return (key.public_key().public_bytes(serialization.Encoding.DER, spki)
            == certificate.public_key().public_bytes(serialization.Encoding.DER, spki))


def _organ_key(organ: str, key, certificates: list[x509.Certificate], name: str) -> OrganKey:
    if key is None or not certificates:
        raise SigningKeyError(f"{name} 中缺少私钥或证书。")
    own = [c for c in certificates if _same_key(key, c)]
    if not own:
        raise SigningKeyError(f"{name} 中的私钥与证书不匹配。")
    if _cn(own[0]) != organ:
        # The file name chooses which documents the key signs; a certificate of another organ
        # would put that organ's name on them.
        raise SigningKeyError(f"{name} 的证书名称为“{_cn(own[0])}”，与文件名所示机关“{organ}”不一致。")
    return OrganKey(organ, key, own[0], tuple(c for c in certificates if c is not own[0]))


def load_organ_key(path: Path, passphrase: bytes | None = None) -> OrganKey:
    """One organ's key from a PKCS#12 file or a `<organ>.key.pem` (its certificate beside it)."""
    name = path.name
    try:
        if name.endswith(PKCS12_SUFFIXES):
            organ = name.rsplit(".", 1)[0]
            key, certificate, extra = pkcs12.load_key_and_certificates(path.read_bytes(), passphrase)
            return _organ_key(organ, key, [c for c in [certificate, *extra] if c is not None], name)
        organ = name[:-len(KEY_SUFFIX)]
        cert_path = path.with_name(organ + CERT_SUFFIX)
        pem = path.read_bytes()
        # The passphrase is for encrypted keys; a plain PEM key beside them still loads.
        key = serialization.load_pem_private_key(pem, passphrase if b"ENCRYPTED" in pem else None)
        return _organ_key(organ, key, x509.load_pem_x509_certificates(cert_path.read_bytes()), name)
    except SigningKeyError:
        raise
    except FileNotFoundError as exc:
        raise SigningKeyError(f"{name} 缺少对应的证书文件 {Path(exc.filename).name}。") from None
    except (OSError, ValueError, TypeError) as exc:
        raise SigningKeyError(f"{name} 无法读取（{exc}）。") from None


def _organ_files(directory: Path) -> list[Path]:
    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return []
    return [p for p in entries if p.is_file() and (p.name.endswith(PKCS12_SUFFIXES) or p.name.endswith(KEY_SUFFIX))]


_cache: dict[tuple, KeyRing] = {}
_cache_lock = threading.Lock()


def load_key_ring(directory: str | os.PathLike | None, passphrase: str | None = None) -> KeyRing:
    """Every organ key in `directory` (none when it is None or missing). A file that cannot be
    used is listed in `problems` under its organ, never raised: the server keeps issuing, unsigned,
    and says why. Cached until a file in the directory changes."""
    if not directory:
        return KeyRing({}, {})
    files = _organ_files(Path(directory))
    stamp = (str(directory), passphrase, tuple((p.name, _mtime(p)) for p in files))
    with _cache_lock:
        cached = _cache.get(stamp)
    if cached is not None:
        return cached
    keys, problems = {}, {}
    secret = passphrase.encode() if passphrase else None
    for path in files:
        try:
            organ_key = load_organ_key(path, secret)
        except SigningKeyError as exc:
            organ = path.name.rsplit(".", 1)[0].removesuffix(".key")
            problems[organ] = f"签章密钥 {exc}"
            log.warning("document signing key %s unusable: %s", path, exc)
            continue
        keys[organ_key.organ] = organ_key
    ring = KeyRing(keys, problems)
    with _cache_lock:
        _cache.clear()  # one directory per deployment: keep only the newest state
        _cache[stamp] = ring
    return ring


def _mtime(path: Path) -> int:
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return 0
    cert = path.with_name(path.name[:-len(KEY_SUFFIX)] + CERT_SUFFIX) if path.name.endswith(KEY_SUFFIX) else None
    if cert is not None and cert.exists():
        mtime = max(mtime, cert.stat().st_mtime_ns)
    return mtime


def load_trust_roots(path: str | os.PathLike | None) -> list[x509.Certificate]:
    """The CA certificates in a PEM file (none when it is None or missing)."""
    if not path:
        return []
    try:
        return x509.load_pem_x509_certificates(Path(path).read_bytes())
    except (OSError, ValueError):
        return []


# --- signing -------------------------------------------------------------------------------------


def _sign(pdf: bytes, organ_key: OrganKey, *, reason: str = DEFAULT_REASON, location: str | None = None,
         name: str | None = None) -> bytes:
    """The PDF with the organ's PAdES signature appended as an incremental update.

    Reason, location (default: the certificate's city) and name (default: the organ) are written
    in the signature dictionary, where a reader's signature panel shows them."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason, location=location or organ_key.location, name=name or organ_key.organ)
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    output = BytesIO()
    # Reserving the signature's room from the certificates it embeds spares pyHanko a trial
    # signature to measure it (half the signing time).
    signers.PdfSigner(metadata, organ_key.signer()).sign_pdf(writer, bytes_reserved=organ_key.reserve,
                                                             output=output)
    return output.getvalue()


# --- checking ------------------------------------------------------------------------------------

SIGNATURE_LABELS = {"valid": "签章有效", "untrusted": "签章证书不受信任", "wrong_organ": "签章机关不符",
                    "modified": "签章后被改动", "invalid": "签章无效", "unsigned": "未签章",
                    "unreadable": "无法读取签章"}


@dataclass(frozen=True)
class SignatureCheck:
    """The last signature of a PDF: `valid` only when it is intact, made by a certificate that
    chains to a trusted root, covers the whole file, and (if asked) names the expected organ."""

    status: str
    signer: str | None = None
    organization: str | None = None
    signed_at: datetime | None = None
    detail: str | None = None

    @property
    def valid(self) -> bool:
        return self.status == "valid"

    @property
    def label(self) -> str:
        return SIGNATURE_LABELS[self.status]

    @property
    def message(self) -> str:
        who = f"“{self.signer}”" if self.signer else "签章人"
        when = ""
        if self.signed_at is not None:
            local = self.signed_at.astimezone(_BEIJING)
            when = f"于{local.year}年{local.month}月{local.day}日 {local:%H:%M}（北京时间）"
        if self.status == "valid":
            return f"电子签章有效：由{who}{when}签章，签章证书可信，签章后文件未被改动。"
        if self.status == "untrusted":
            return (f"电子签章的签名完好，但签章证书（{who}）不是受信任的机关证书，无法确认签章机关"
                    f"{'（' + self.detail + '）' if self.detail else ''}。")
        if self.status == "wrong_organ":
            return f"电子签章无效：签章机关{who}与文书的出具机关“{self.detail}”不一致。"
        if self.status == "modified":
            return f"电子签章显示文件在签章后被改动：{who}{when}签章之后，文件又被追加或修改了内容。"
        if self.status == "invalid":
            return f"电子签章无效：签章覆盖的内容与签名不符，文件在{who}签章后被改动。"
        if self.status == "unsigned":
            return "文件未加盖电子签章。"
        return "无法读取文件中的电子签章：文件已损坏或被改动。"

    def as_dict(self) -> dict:
        return {"status": self.status, "status_label": self.label, "valid": self.valid, "signer": self.signer,
                "organization": self.organization, "signed_at": self.signed_at, "message": self.message}


def has_signature(pdf: bytes) -> bool:
    """Whether the bytes carry a signature dictionary (a cheap look, no validation)."""
    return b"/ByteRange" in pdf


def _check(pdf: bytes, trust_roots: list[x509.Certificate], *, expected_signer: str | None = None) -> SignatureCheck:
    """Check the last signature of `pdf` against `trust_roots`; never raises for a bad file."""
    if not has_signature(pdf):
        return SignatureCheck("unsigned")
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:  # pyHanko raises many kinds for a mangled file
        log.info("signature unreadable: %r", exc)
        return SignatureCheck("unreadable")
    if not signatures:
        return SignatureCheck("unsigned")
    roots = [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in trust_roots]
    # Only the configured roots, even when there are none: the operating system's TLS store (what
    # pyHanko uses for trust_roots=None) must never vouch for an organ. No revocation sources
    # exist for a bureau's own CA, and nothing is fetched from the network.
    context = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
    try:
        status = validate_pdf_signature(signatures[-1], context)
    except Exception as exc:
        log.info("signature not validated: %r", exc)
        return SignatureCheck("unreadable")
    certificate = status.signing_cert
    subject = certificate.subject.native if certificate is not None else {}
    found = dict(signer=subject.get("common_name"), organization=subject.get("organization_name"),
                 signed_at=status.signer_reported_dt)
    if not (status.intact and status.valid):
        return SignatureCheck("invalid", **found)
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return SignatureCheck("modified", **found)
    if not status.trusted:
        return SignatureCheck("untrusted", **found,
                              detail=None if roots else "未配置受信任的根证书")
    if expected_signer is not None and found["signer"] != expected_signer:
        return SignatureCheck("wrong_organ", **found, detail=expected_signer)
    return SignatureCheck("valid", **found)


def _outside_event_loop(function, *args, **kwargs):
    """pyHanko's synchronous calls run their own event loop (asyncio.run), which Python refuses
    inside a thread whose loop is running (an async server, or a test process that drives a
    browser): there the work runs in a short-lived thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return function(*args, **kwargs)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(function, *args, **kwargs).result()


def sign(pdf: bytes, organ_key: OrganKey, **options) -> bytes:
    """`pdf` with the organ's PAdES signature appended (an incremental update); see `_sign`."""
    return _outside_event_loop(_sign, pdf, organ_key, **options)


def check(pdf: bytes, trust_roots: list[x509.Certificate], **options) -> SignatureCheck:
    """Who signed `pdf`, and whether the signature holds; see `_check`."""
    return _outside_event_loop(_check, pdf, trust_roots, **options)
