"""`anfang` commands of the enforcement domain."""
