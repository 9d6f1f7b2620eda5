"""`anfang` commands of the publicity domain."""
