"""REST endpoints of the field domain."""
