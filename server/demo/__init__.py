"""The demo: a generated registry, enforcement cases and a week of inspections."""
