"""REST endpoints of the oversight domain."""
