"""Pages of the enforcement domain."""
