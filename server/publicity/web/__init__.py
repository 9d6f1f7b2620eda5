"""Pages of the publicity domain."""
