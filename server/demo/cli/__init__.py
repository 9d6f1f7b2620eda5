"""`anfang` commands of the demo domain."""
