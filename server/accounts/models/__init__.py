"""Models of the accounts domain."""

from . import user  # noqa: F401  (every model of the domain is mapped once its package is imported)
