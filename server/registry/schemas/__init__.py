"""marshmallow schemas of the registry API; unknown fields are rejected."""
