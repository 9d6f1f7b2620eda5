"""The checkpoint format: a chain head, its canonical bytes, and an Ed25519 signature over them.

A head (what `anfang audit checkpoint` exports):

    {"format": "anfang-audit-head/1", "seq": 1234, "hash": "<64 hex>", "time": "2026-12-04T02:00:00Z"}

states that at `time` (UTC) the audit chain held `seq` events and event `seq` had hash `hash`.
Its canonical bytes are its JSON with sorted keys, no spaces, UTF-8. A signed checkpoint is

    {"format": "anfang-audit-checkpoint/1", "head": {…}, "public_key": "<base64>", "signature": "<base64>"}

where `public_key` is the raw 32-byte Ed25519 public key and `signature` the 64-byte Ed25519
signature over the head's canonical bytes, both in standard base64. A checkpoint carries its
public key, so it verifies on its own; whoever relies on it also checks that the key is the
auditor's (a pinned key, or the keys the auditor registered).

Every error message is Chinese: they reach the auditor's terminal and the server's pages as they are.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

HEAD_FORMAT = "anfang-audit-head/1"
CHECKPOINT_FORMAT = "anfang-audit-checkpoint/1"
HEAD_KEYS = frozenset({"format", "seq", "hash", "time"})
CHECKPOINT_KEYS = frozenset({"format", "head", "public_key", "signature"})
HASH_HEX = re.compile(r"^[0-9a-f]{64}$")
TIME_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64
# A head or checkpoint file is a few hundred bytes; anything far larger is not one.
MAX_FILE_BYTES = 64 * 1024


class CheckpointError(ValueError):
    """A head, checkpoint or key that is malformed or does not verify; the message is Chinese."""


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    time: str  # UTC, as written: 2026-12-04T02:00:00Z

    def as_dict(self) -> dict:
        return {"format": HEAD_FORMAT, "seq": self.seq, "hash": self.hash, "time": self.time}

    def canonical_bytes(self) -> bytes:
        return canonical_json(self.as_dict())

    @property
    def moment(self) -> datetime:
        return datetime.strptime(self.time, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


@dataclass(frozen=True)
class Checkpoint:
    """A signed head whose signature has been checked against the public key it carries."""

    head: Head
    public_key: str  # base64 of the raw key
    signature: str  # base64

    def as_dict(self) -> dict:
        return {"format": CHECKPOINT_FORMAT, "head": self.head.as_dict(), "public_key": self.public_key,
                "signature": self.signature}

    def file_bytes(self) -> bytes:
        return canonical_json(self.as_dict()) + b"\n"

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_key)


def canonical_json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def utc_text(moment: datetime) -> str:
    """A UTC time as a head writes it (whole seconds)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_head(seq: int, hash_hex: str, moment: datetime) -> Head:
    return head_from_dict({"format": HEAD_FORMAT, "seq": seq, "hash": hash_hex, "time": utc_text(moment)})


# --- reading -------------------------------------------------------------------------------------


def load_json(data: bytes | str) -> dict:
    if isinstance(data, bytes):
        if len(data) > MAX_FILE_BYTES:
            raise CheckpointError("文件过大，不是审计链头或检查点文件。")
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CheckpointError("文件不是 UTF-8 编码的 JSON。") from None
    try:
        value = json.loads(data)
    except ValueError:
        raise CheckpointError("文件不是有效的 JSON。") from None
    if not isinstance(value, dict):
        raise CheckpointError("文件内容须为 JSON 对象。")
    return value


def head_from_dict(value) -> Head:
    if not isinstance(value, dict) or value.get("format") != HEAD_FORMAT:
        raise CheckpointError(f"不是审计链头（format 应为 {HEAD_FORMAT}）。")
    if set(value) != HEAD_KEYS:
        raise CheckpointError("审计链头须恰好包含 format、seq、hash、time 四项。")
    seq, hash_hex, time_text = value["seq"], value["hash"], value["time"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise CheckpointError("审计链头的 seq 须为非负整数。")
    if not isinstance(hash_hex, str) or not HASH_HEX.match(hash_hex):
        raise CheckpointError("审计链头的 hash 须为 64 位小写十六进制。")
    if not isinstance(time_text, str) or not TIME_TEXT.match(time_text):
        raise CheckpointError("审计链头的 time 须为 UTC 时间，如 2026-12-04T02:00:00Z。")
    try:
        datetime.strptime(time_text, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise CheckpointError("审计链头的 time 不是有效的时间。") from None
    return Head(seq, hash_hex, time_text)


def read_head(data: bytes | str) -> Head:
    return head_from_dict(load_json(data))


def _b64(text, length: int, what: str) -> bytes:
    if not isinstance(text, str):
        raise CheckpointError(f"{what}须为 base64 文本。")
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"{what}不是有效的 base64。") from None
    if len(raw) != length:
        raise CheckpointError(f"{what}长度不对：应为 {length} 字节，实为 {len(raw)} 字节。")
    return raw


def public_key_from_text(text) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(_b64(text, PUBLIC_KEY_BYTES, "公钥"))


def normalise_public_key(text) -> str:
    """The canonical base64 of an Ed25519 public key given as base64 text, or CheckpointError."""
    return base64.b64encode(_b64(text, PUBLIC_KEY_BYTES, "公钥")).decode("ascii")


def fingerprint(public_key: str) -> str:
    """A short name of a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    return hashlib.sha256(_b64(public_key, PUBLIC_KEY_BYTES, "公钥")).hexdigest()[:16]


def checkpoint_from_dict(value) -> Checkpoint:
    """A signed checkpoint whose signature verifies under the key it carries, or CheckpointError."""
    if not isinstance(value, dict) or value.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"不是已签名的检查点（format 应为 {CHECKPOINT_FORMAT}）。")
    if set(value) != CHECKPOINT_KEYS:
        raise CheckpointError("检查点须恰好包含 format、head、public_key、signature 四项。")
    head = head_from_dict(value["head"])
    public_key = normalise_public_key(value["public_key"])
    signature = _b64(value["signature"], SIGNATURE_BYTES, "签名")
    try:
        public_key_from_text(public_key).verify(signature, head.canonical_bytes())
    except InvalidSignature:
        raise CheckpointError(f"签名无效：第 {head.seq} 条链头的签名与所附公钥不符（文件被改动或签名有误）。") from None
    return Checkpoint(head, public_key, base64.b64encode(signature).decode("ascii"))


def read_checkpoint(data: bytes | str) -> Checkpoint:
    return checkpoint_from_dict(load_json(data))


# --- keys and signing ----------------------------------------------------------------------------


def new_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise CheckpointError("私钥文件无法读取：须为 anfang-checkpoint keygen 生成的 PEM 私钥。") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError("私钥不是 Ed25519 密钥。")
    return key


def public_key_text(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def sign_head(head: Head, key: Ed25519PrivateKey) -> Checkpoint:
    signature = key.sign(head.canonical_bytes())
    return Checkpoint(head, public_key_text(key), base64.b64encode(signature).decode("ascii"))
