"""REST endpoints of the accounts domain."""
