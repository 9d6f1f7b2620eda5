"""The user of the current request as the model object the services take (not Flask-Login's
proxy, which the services' identity checks and SQLAlchemy would not recognise)."""

from __future__ import annotations

from flask_login import current_user


def signed_in_user():
    """The signed-in account (accounts' User) itself."""
    return current_user._get_current_object()
