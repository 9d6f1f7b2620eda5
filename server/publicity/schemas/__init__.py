"""marshmallow schemas of the publicity API; unknown fields are rejected."""
