"""marshmallow schemas of the draws API; unknown fields are rejected."""
