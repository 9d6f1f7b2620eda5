"""Filters, sorting and page numbers of list pages, read from the query string.

Every list sorts the same way: `sort=key` ascending, `sort=-key` descending (`sort_arg`), with
column headings from `sort_links` and the `sort_header` / `sort_select` macros of _list.html.

A malformed value never crashes a page. Pages that show their filters as fields pass an `errors`
dict: the value becomes an error under the argument's name, shown next to the filter (with a
400 status), like a form error. Without one, a malformed value is a plain 400 page.
"""

from __future__ import annotations

from collections.abc import Container

from flask import abort, request, url_for

from ..access import MAX_ID
from ..errors import Invalid
from ..pagination import signed_sort


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


def sort_arg(columns: Container[str], default: str, errors: dict | None = None) -> tuple[str, bool]:
    """The list's order from `sort=key` (ascending) or `sort=-key` (descending), a key of
    `columns`; `default` (signed the same way) when absent. Anything else is an error under
    "sort", or a 400 without `errors`."""
    found: dict = {}
    key, descending = signed_sort(request.args.get("sort"), columns, default, found)
    if found:
        if errors is None:
            abort(400)
        errors.update(found)
    return key, descending


def sort_links(endpoint: str, sorts: dict, current: str, descending: bool) -> dict:
    """Per sortable column: the URL sorting by it (`sort=key` ascending, `sort=-key` descending;
    again on the current column turns the order round, a new column starts descending), keeping
    the filters; and the aria-sort value of the current column."""
    args = {key: value for key, value in request.args.items() if key not in ("sort", "page")}
    links = {}
    for key, label in sorts.items():
        next_descending = not descending if key == current else True
        links[key] = {"label": label, "url": url_for(endpoint, **args, sort=("-" if next_descending else "") + key),
                      "current": key == current, "aria": "descending" if descending else "ascending"}
    return links
