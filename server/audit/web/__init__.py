"""Pages of the audit domain."""
