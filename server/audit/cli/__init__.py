"""`anfang` commands of the audit domain."""
