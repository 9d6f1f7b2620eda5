"""REST endpoints of the enforcement domain."""
