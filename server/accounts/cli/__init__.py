"""`anfang` commands of the accounts domain."""
