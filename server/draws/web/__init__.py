"""Pages of the draws domain."""
