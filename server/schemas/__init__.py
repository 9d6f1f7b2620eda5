"""marshmallow schemas; unknown fields are rejected."""
