"""marshmallow schemas of the accounts API; unknown fields are rejected."""
