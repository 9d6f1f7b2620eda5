"""Models of the draws domain."""

from . import changes, draw  # noqa: F401  (every model of the domain is mapped once its package is imported)
