"""The field record: sync push and pull, inspections, findings and photo evidence (tus uploads)."""

from . import violation_history  # noqa: E402,F401  registers how draws count past violations
