"""Pages of the field domain."""
