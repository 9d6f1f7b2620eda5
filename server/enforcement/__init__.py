"""Enforcement: penalty cases, legal bases and discretion, official documents and rectification."""

# Connects the receiver that refuses adopting another record once enforcement acted on the primary one.
from . import record_adoption  # noqa: E402, F401
