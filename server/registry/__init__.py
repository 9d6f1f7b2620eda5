"""Reference data (the document's rules, departments, counties, roster, legal bases) and the venue registry."""

from . import venues  # noqa: F401  (the venue access policy, registered before any venue is looked up)
