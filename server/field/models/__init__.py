"""Models of the field domain."""

from . import evidence, inspection  # noqa: F401  (every model of the domain is mapped once its package is imported)
