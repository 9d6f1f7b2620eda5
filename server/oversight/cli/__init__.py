"""`anfang` commands of the oversight domain."""
