"""Pages of the oversight domain."""
