"""Pages of the registry domain: the venue register and its imports."""
