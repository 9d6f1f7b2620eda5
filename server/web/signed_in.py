"""The user of the current request as the model object the services take (not Flask-Login's
proxy, which the services' identity checks and SQLAlchemy would not recognise)."""

from __future__ import annotations

from flask_login import current_user

from ..models import User


def signed_in_user() -> User:
    return current_user._get_current_object()
