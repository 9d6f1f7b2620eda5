"""Models of the oversight domain."""

from . import accountability  # noqa: F401  (every model of the domain is mapped once its package is imported)
