"""Marshmallow fields every domain's API schemas share."""

from marshmallow import fields

from ..columns import as_utc


class StoredDateTime(fields.DateTime):
    """A stored time, answered with its UTC offset on every backend.

    SQLite hands back naive datetimes (they are UTC), PostgreSQL aware ones: without the offset a
    client reads the SQLite answer as its own local time, and OpenAPI's `date-time` requires one.
    """

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize(as_utc(value), attr, obj, **kwargs)
