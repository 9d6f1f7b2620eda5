"""Models of the audit domain."""

from . import audit, checkpoint  # noqa: F401  (every model of the domain is mapped once its package is imported)
