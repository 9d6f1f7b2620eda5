"""marshmallow schemas of the oversight API; unknown fields are rejected."""
