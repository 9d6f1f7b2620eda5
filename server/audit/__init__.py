"""The audit log: hash-chained events, their pages and `anfang audit`."""
