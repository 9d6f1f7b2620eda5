"""`anfang` commands of the field domain."""
