"""`anfang` commands of the registry domain."""
