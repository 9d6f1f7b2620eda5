"""Domain operations as plain functions. They flush, never commit: the request or command does."""
