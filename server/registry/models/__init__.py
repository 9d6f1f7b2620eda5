"""Models of the registry domain."""

from . import reference, venue  # noqa: F401  (every model of the domain is mapped once its package is imported)
