"""Sealed assignment envelopes, shared by the server and the field client.

This package must never import `server` (nor Flask, nor the database): the field client opens
envelopes on a device with no network and no server code. See `sealing.envelope`.
"""

from .envelope import (
    CODE_LENGTH,
    KEY_BYTES,
    EnvelopeError,
    key_from_text,
    key_to_text,
    key_with_code,
    new_reveal_code,
    normalise_code,
    open_with_code,
    open_with_key,
    seal,
)

__all__ = [
    "CODE_LENGTH", "KEY_BYTES", "EnvelopeError", "key_from_text", "key_to_text",
    "key_with_code", "new_reveal_code", "normalise_code", "open_with_code",
    "open_with_key", "seal",
]
