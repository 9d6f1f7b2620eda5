"""Secrets kept in the database wrapped under a key only the running server holds.

The wrapping key is derived from SECRET_KEY with HKDF-SHA256, one key per purpose, so a copy of
the database alone does not reveal a draw's seed, an assignment's key or its reveal code.
AES-GCM with the purpose as associated data: a blob wrapped for one purpose cannot be unwrapped
as another.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

_NONCE_BYTES = 12
_FORMAT = b"\x01"  # version byte, so the scheme can change without guessing


class UnwrapError(ValueError):
    """A wrapped secret that does not open under this server's key (other key, or altered)."""


def _key(purpose: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"anfang-server-key",
                info=purpose.encode()).derive(current_app.config["SECRET_KEY"].encode())


def wrap_secret(plaintext: bytes, purpose: str) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return _FORMAT + nonce + AESGCM(_key(purpose)).encrypt(nonce, plaintext, purpose.encode())


def unwrap_secret(blob: bytes, purpose: str) -> bytes:
    if not blob or blob[:1] != _FORMAT or len(blob) < 1 + _NONCE_BYTES + 16:
        raise UnwrapError("密文格式不正确")
    nonce, ciphertext = blob[1:1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES:]
    try:
        return AESGCM(_key(purpose)).decrypt(nonce, ciphertext, purpose.encode())
    except InvalidTag:
        raise UnwrapError("密文无法用本服务器密钥解开（密钥不同或内容被改动）") from None
