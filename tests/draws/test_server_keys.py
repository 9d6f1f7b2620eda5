"""Secrets wrapped under the server key open only with the same key and purpose."""

import pytest

from server import create_app
from server.draws.server_keys import UnwrapError, unwrap_secret, wrap_secret


def test_wrap_round_trip_and_fresh_nonce(app):
    with app.app_context():
        first, second = wrap_secret(b"seed", "draw-seed"), wrap_secret(b"seed", "draw-seed")
        assert first != second and b"seed" not in first
        assert unwrap_secret(first, "draw-seed") == b"seed"


def test_other_purpose_or_altered_blob_is_refused(app):
    with app.app_context():
        blob = wrap_secret(b"key material", "assignment-key")
        with pytest.raises(UnwrapError):
            unwrap_secret(blob, "draw-seed")
        altered = blob[:-1] + bytes([blob[-1] ^ 1])
        with pytest.raises(UnwrapError):
            unwrap_secret(altered, "assignment-key")
        with pytest.raises(UnwrapError):
            unwrap_secret(b"\x01short", "assignment-key")


def test_other_server_key_is_refused(app, tmp_path):
    with app.app_context():
        blob = wrap_secret(b"x", "draw-seed")
    other = create_app("testing", SECRET_KEY="another-secret-key-of-sufficient-length",
                       SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'o.db'}")
    with other.app_context(), pytest.raises(UnwrapError):
        unwrap_secret(blob, "draw-seed")
