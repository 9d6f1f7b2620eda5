"""Models of the publicity domain."""

from . import material  # noqa: F401  (every model of the domain is mapped once its package is imported)
