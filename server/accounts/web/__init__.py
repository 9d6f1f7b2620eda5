"""Pages of the accounts domain."""
