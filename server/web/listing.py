"""Query-string helpers shared by the list pages: the page number and the column-sorting links."""

from __future__ import annotations

from flask import abort, request, url_for


def page_number() -> int:
    value = request.args.get("page", "").strip()
    if not value:
        return 1
    if not value.isdigit() or not 0 < int(value) < 2**31:
        abort(400)
    return int(value)


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
