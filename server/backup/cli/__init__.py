"""`anfang` commands of backups."""
