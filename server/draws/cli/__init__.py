"""`anfang` commands of the draws domain."""
