"""Models of the field domain."""

from . import adoption, evidence, inspection, signature  # noqa: F401  (every model of the domain is mapped once its package is imported)
