"""marshmallow schemas of the enforcement API; unknown fields are rejected."""
