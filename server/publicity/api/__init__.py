"""REST endpoints of the publicity domain."""
