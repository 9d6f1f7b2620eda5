"""Filters, sorting and page numbers of list pages, read from the query string.

A malformed value never crashes a page. Pages that show their filters as fields pass an `errors`
dict: the value becomes an error under the argument's name, shown next to the filter (with a
400 status), like a form error. Without one, a malformed value is a plain 400 page.
"""

from __future__ import annotations

from collections.abc import Container

from flask import abort, request, url_for

from ..errors import Invalid
from ..services.access import MAX_ID


def int_arg(name: str, label: str = "", errors: dict | None = None) -> int | None:
    """A positive integer (an id, a page number), None when absent."""
    value = request.args.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or not 0 < int(value) <= MAX_ID:
        if errors is None:
            abort(400)
        errors[name] = [f"{label}须为正整数。"]
        return None
    return int(value)


def page_number(errors: dict | None = None) -> int:
    return int_arg("page", "页码", errors) or 1


def text_arg(name: str) -> str | None:
    return request.args.get(name, "").strip() or None


def choice_arg(name: str, allowed: Container[str]) -> str | None:
    """One of `allowed`, None when absent; anything else is a 400."""
    value = text_arg(name)
    if value is not None and value not in allowed:
        abort(400)
    return value


def flag_arg(name: str) -> bool | None:
    """"1" is True, "0" is False, anything else (or nothing) is no filter."""
    return {"1": True, "0": False}.get(request.args.get(name, ""))


def listed(load, errors: dict):
    """`load()`'s page, or None with the service's field errors added to `errors`."""
    if errors:
        return None
    try:
        return load()
    except Invalid as exc:
        errors.update(exc.errors or {"": [exc.detail]})
        return None


def sort_links(endpoint: str, sorts: dict, current: str, descending: bool) -> dict:
    """Per sortable column: the URL sorting by it (again on the current column turns the order
    round), keeping the filters; and the aria-sort value of the current column."""
    args = {key: value for key, value in request.args.items() if key not in ("sort", "order", "page")}
    links = {}
    for key, label in sorts.items():
        order = ("asc" if descending else "desc") if key == current else "desc"
        links[key] = {"label": label, "url": url_for(endpoint, **args, sort=key, order=order),
                      "current": key == current, "aria": "descending" if descending else "ascending"}
    return links
