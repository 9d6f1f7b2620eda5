"""The sealed envelope: an assignment's target, encrypted so that a device can carry it unread.

Two ways open it, both without the server's database:

* with the **assignment key** K (32 random bytes), released online by the server after
  dispatch (`open_with_key`);
* with the **reveal code** read out by the office at dispatch (`open_with_code`): the code
  derives, with scrypt, a key-encryption key that unwraps K. No network is needed.

Envelope format, version 1
--------------------------
UTF-8 JSON, keys sorted, no insignificant whitespace; binary values are base64url without
padding (RFC 4648 §5)::

    {
      "format": "anfang.envelope",
      "version": 1,
      "assignment": "<assignment uuid>",
      "target": {"alg": "A256GCM", "nonce": "<12 bytes>", "ciphertext": "<ciphertext || 16-byte tag>"},
      "key": {
        "alg": "A256GCM",
        "kdf": {"name": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": "<16 random bytes>"},
        "nonce": "<12 bytes>",
        "ciphertext": "<K encrypted: 32 bytes || 16-byte tag>"
      }
    }

* `target.ciphertext` = AES-256-GCM(K, nonce, plaintext, aad = "anfang.envelope/1/target/" + uuid),
  where plaintext is the target as JSON (UTF-8, keys sorted) padded with spaces to a multiple of
  256 bytes, so that the length of the ciphertext says little about the name or address inside.
* `key.ciphertext` = AES-256-GCM(KEK, nonce, K, aad = "anfang.envelope/1/key/" + uuid), where
  KEK = scrypt(password = the normalised reveal code as ASCII, e.g. b"7KQ2M-XW9PA", salt, n, r, p,
  length 32).
* The associated data binds both ciphertexts to the assignment's uuid: an envelope copied onto
  another assignment does not open. A changed byte anywhere makes GCM refuse it.

scrypt parameters: n = 2**15, r = 8, p = 1 took about 82 ms per derivation on the development
machine (2**14: ~35 ms, 2**16: ~165 ms), within the 50–150 ms aimed at: cheap for one device
opening one envelope, and, with a 50-bit code, about 3·10^15 CPU-seconds to search exhaustively.
A reader accepts other parameters within `_KDF_LIMITS`, so they can be raised without a new
format version; values outside those limits are refused before any work is done.

Reveal codes: 10 symbols of Crockford's base32 (0-9 and A-Z without I, L, O, U), i.e. 50 bits,
shown as two groups of five ("7KQ2M-XW9PA") to be read over the phone. `normalise_code` accepts
lowercase, spaces, missing or extra dashes, and reads O as 0 and I or L as 1.

Target fields (written by the server; a reader should tolerate more): venue_id, name, category,
county, town, address, latitude, longitude, approved_capacity, operator_name, contact_phone.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

FORMAT = "anfang.envelope"
VERSION = 1
ALGORITHM = "A256GCM"
KEY_BYTES = 32
NONCE_BYTES = 12
SALT_BYTES = 16
PADDING_BLOCK = 256

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
# What a reader is willing to compute: a forged envelope must not make a phone spend minutes or
# gigabytes. scrypt needs 128 * n * r bytes: 32 MiB with the parameters above, 64 MiB at most.
_KDF_LIMITS = {"n": (2**10, 2**18), "r": (1, 16), "p": (1, 4)}
_MAX_SCRYPT_MEMORY = 64 * 2**20

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
CODE_LENGTH = 10  # 50 bits
CODE_GROUP = 5
_CODE_READINGS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_CODE_SEPARATORS = str.maketrans("", "", "- _\t")


class EnvelopeError(ValueError):
    """An envelope that cannot be opened as asked; `reason` says why, the message says it in Chinese.

    Reasons: "format" (not a readable envelope), "assignment" (belongs to another assignment),
    "code_format" (not a well-formed reveal code), "wrong_code", "wrong_key" (or altered).
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


# --- reveal codes ------------------------------------------------------------------------------


def new_reveal_code() -> str:
    """A fresh random reveal code, grouped for reading aloud, e.g. "7KQ2M-XW9PA"."""
    symbols = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return _grouped(symbols)


def normalise_code(code: str) -> str:
    """The canonical form of a reveal code as typed or heard; EnvelopeError if it cannot be one."""
    if not isinstance(code, str):
        raise EnvelopeError("code_format", "揭封码应为文字。")
    symbols = code.strip().upper().translate(_CODE_SEPARATORS).translate(_CODE_READINGS)
    if len(symbols) != CODE_LENGTH or any(symbol not in CODE_ALPHABET for symbol in symbols):
        raise EnvelopeError("code_format",
                            f"揭封码格式不正确：应为 {CODE_LENGTH} 位字母或数字（如 7KQ2M-XW9PA），请核对后重新输入。")
    return _grouped(symbols)


def _grouped(symbols: str) -> str:
    return "-".join(symbols[i:i + CODE_GROUP] for i in range(0, len(symbols), CODE_GROUP))


# --- sealing and opening -----------------------------------------------------------------------


def seal(target: dict, key: bytes, reveal_code: str, assignment_uuid: str, *,
         scrypt_n: int = SCRYPT_N, scrypt_r: int = SCRYPT_R, scrypt_p: int = SCRYPT_P) -> bytes:
    """The envelope bytes for `target`, openable with `key` or with `reveal_code`."""
    _check_key(key)
    code = normalise_code(reveal_code)
    uuid = _check_uuid(assignment_uuid)
    plaintext = _padded(json.dumps(target, sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                                   allow_nan=False).encode("utf-8"))
    target_nonce = os.urandom(NONCE_BYTES)
    target_ciphertext = AESGCM(key).encrypt(target_nonce, plaintext, _aad("target", uuid))

    kdf = {"name": "scrypt", "n": scrypt_n, "r": scrypt_r, "p": scrypt_p}
    _check_kdf(kdf)
    salt = os.urandom(SALT_BYTES)
    kek = _derive(code, salt, kdf)
    key_nonce = os.urandom(NONCE_BYTES)
    wrapped_key = AESGCM(kek).encrypt(key_nonce, key, _aad("key", uuid))

    document = {
        "format": FORMAT,
        "version": VERSION,
        "assignment": uuid,
        "target": {"alg": ALGORITHM, "nonce": _b64(target_nonce), "ciphertext": _b64(target_ciphertext)},
        "key": {"alg": ALGORITHM, "kdf": dict(kdf, salt=_b64(salt)), "nonce": _b64(key_nonce),
                "ciphertext": _b64(wrapped_key)},
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


def open_with_key(envelope: bytes, key: bytes, assignment_uuid: str) -> dict:
    """The target inside `envelope`, opened with the assignment key."""
    document = _parse(envelope, assignment_uuid)
    _check_key(key)
    return _open_target(document, key, assignment_uuid)


def open_with_code(envelope: bytes, code: str, assignment_uuid: str) -> dict:
    """The target inside `envelope`, opened with the reveal code (no network needed)."""
    key = key_with_code(envelope, code, assignment_uuid)
    return _open_target(_parse(envelope, assignment_uuid), key, assignment_uuid)


def key_with_code(envelope: bytes, code: str, assignment_uuid: str) -> bytes:
    """The assignment key K, unwrapped with the reveal code (a device may keep it once opened)."""
    code = normalise_code(code)
    document = _parse(envelope, assignment_uuid)
    part = document["key"]
    kdf = {name: part["kdf"].get(name) for name in ("name", "n", "r", "p")}
    _check_kdf(kdf)
    salt = _unb64(part["kdf"].get("salt"), SALT_BYTES)
    kek = _derive(code, salt, kdf)
    try:
        key = AESGCM(kek).decrypt(_unb64(part.get("nonce"), NONCE_BYTES), _unb64(part.get("ciphertext")),
                                  _aad("key", assignment_uuid))
    except InvalidTag:
        raise EnvelopeError("wrong_code", "揭封码不正确，无法打开信封；请核对后重新输入。") from None
    _check_key(key)
    return key


def key_to_text(key: bytes) -> str:
    """The assignment key as the API sends it (base64url without padding)."""
    _check_key(key)
    return _b64(key)


def key_from_text(text: str) -> bytes:
    """The assignment key from its API text form."""
    return _unb64(text, KEY_BYTES, reason="wrong_key", message="密钥格式不正确。")


# --- internals ---------------------------------------------------------------------------------


def _open_target(document: dict, key: bytes, assignment_uuid: str) -> dict:
    part = document["target"]
    try:
        plaintext = AESGCM(key).decrypt(_unb64(part.get("nonce"), NONCE_BYTES), _unb64(part.get("ciphertext")),
                                        _aad("target", assignment_uuid))
    except InvalidTag:
        raise EnvelopeError("wrong_key", "密钥不正确或信封已被改动，无法打开。") from None
    try:
        target = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise EnvelopeError("format", "信封内容无法读取。") from None
    if not isinstance(target, dict):
        raise EnvelopeError("format", "信封内容无法读取。")
    return target


def _parse(envelope: bytes, assignment_uuid: str) -> dict:
    uuid = _check_uuid(assignment_uuid)
    unreadable = EnvelopeError("format", "信封格式不正确或已损坏。")
    if isinstance(envelope, str):
        envelope = envelope.encode("utf-8")
    if not isinstance(envelope, (bytes, bytearray, memoryview)):
        raise unreadable
    try:
        document = json.loads(bytes(envelope).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise unreadable from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise unreadable
    if document.get("version") != VERSION:
        raise EnvelopeError("format", f"不支持的信封版本 {document.get('version')!r}，请升级现场客户端。")
    for name in ("target", "key"):
        part = document.get(name)
        if not isinstance(part, dict) or part.get("alg") != ALGORITHM:
            raise unreadable
    if not isinstance(document["key"].get("kdf"), dict):
        raise unreadable
    if document.get("assignment") != uuid:
        raise EnvelopeError("assignment", "该信封不属于这项任务。")
    return document


def _check_kdf(kdf: dict) -> None:
    if kdf.get("name") != "scrypt":
        raise EnvelopeError("format", "信封的密钥派生参数不受支持。")
    for name, (low, high) in _KDF_LIMITS.items():
        value = kdf.get(name)
        if type(value) is not int or not low <= value <= high:
            raise EnvelopeError("format", "信封的密钥派生参数超出允许范围。")
    n = kdf["n"]
    if n & (n - 1) or 128 * n * kdf["r"] > _MAX_SCRYPT_MEMORY:
        raise EnvelopeError("format", "信封的密钥派生参数超出允许范围。")


def _derive(code: str, salt: bytes, kdf: dict) -> bytes:
    return Scrypt(salt=salt, length=KEY_BYTES, n=kdf["n"], r=kdf["r"], p=kdf["p"]).derive(code.encode("ascii"))


def _check_key(key) -> None:
    if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_BYTES:
        raise EnvelopeError("wrong_key", f"密钥应为 {KEY_BYTES} 字节。")


def _check_uuid(value) -> str:
    if not isinstance(value, str) or not value:
        raise EnvelopeError("assignment", "缺少任务编号（uuid）。")
    return value


def _aad(part: str, uuid: str) -> bytes:
    return f"{FORMAT}/{VERSION}/{part}/{uuid}".encode("utf-8")


def _padded(data: bytes) -> bytes:
    # Trailing spaces are insignificant to a JSON parser.
    return data + b" " * (-len(data) % PADDING_BLOCK)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text, length: int | None = None, *, reason: str = "format",
           message: str = "信封格式不正确或已损坏。") -> bytes:
    if not isinstance(text, str):
        raise EnvelopeError(reason, message)
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise EnvelopeError(reason, message) from None
    if length is not None and len(data) != length:
        raise EnvelopeError(reason, message)
    return data
