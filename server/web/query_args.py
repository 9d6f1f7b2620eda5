"""Filters, sorting and page numbers of list pages, read from the query string.

A malformed value never crashes a page: it becomes an error under the argument's name, which
the page shows next to its filter field (with a 400 status), like a form error.
"""

from __future__ import annotations

from flask import request

from ..errors import Invalid
from ..services.access import MAX_ID


def int_arg(name: str, label: str, errors: dict) -> int | None:
    """A positive integer (an id, a page number), None when absent."""
    value = request.args.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or not 0 < int(value) <= MAX_ID:
        errors[name] = [f"{label}须为正整数。"]
        return None
    return int(value)


def text_arg(name: str) -> str | None:
    return request.args.get(name, "").strip() or None


def listed(load, errors: dict):
    """`load()`'s page, or None with the service's field errors added to `errors`."""
    if errors:
        return None
    try:
        return load()
    except Invalid as exc:
        errors.update(exc.errors or {"": [exc.detail]})
        return None
