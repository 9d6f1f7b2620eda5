"""anfang field client: offline inspection recording and sync. Never imports `server`."""
