"""The field record: sync push and pull, inspections, findings and photo evidence (tus uploads)."""
