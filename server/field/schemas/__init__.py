"""marshmallow schemas of the field API; unknown fields are rejected."""
