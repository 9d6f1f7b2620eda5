"""Models of the enforcement domain."""

from . import case, document, rectification  # noqa: F401  (every model of the domain is mapped once its package is imported)
