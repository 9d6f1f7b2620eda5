"""REST endpoints of the draws domain."""
