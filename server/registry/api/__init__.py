"""REST endpoints of the registry domain."""
