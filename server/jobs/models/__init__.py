"""Models of the jobs domain."""

from . import job  # noqa: F401  (every model of the domain is mapped once its package is imported)
