"""One page of a list: the rows, how many there are in all, and where the page stands.

Every paginated list (services and the pages and API built on them) uses this `Page`, so that
the templates' page links (`_list.html`) and the API schemas read the same attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .extensions import db

PER_PAGE = 20
# Far more than anyone pages through by hand; a larger number only makes the database count.
MAX_PAGE = 100_000


@dataclass(frozen=True)
class Page:
    items: list[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _page_number(page: int) -> int:
    return min(max(1, page), MAX_PAGE)


def paginate(query: sa.Select, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The rows of `query` (already ordered) on page `page`; a page past the end is empty.

    A query of one entity or column gives its values; a query of several gives row tuples."""
    page = _page_number(page)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0
    window = query.offset((page - 1) * per_page).limit(per_page)
    if len(query.column_descriptions) == 1:
        items = list(db.session.scalars(window))
    else:
        items = list(db.session.execute(window).all())
    return Page(items, total, page, per_page)


def signed_sort(value: str | None, columns, default: str, errors: dict) -> tuple[str, bool]:
    """("checked_in", True) for "-checked_in": a sort key of `columns`, a leading "-" sorting
    descending; `default` when empty. A key outside `columns` is an error under "sort" (and the
    default is used)."""
    value = (value or default).strip()
    descending = value.startswith("-")
    key = value[1:] if descending else value
    if key not in columns:
        errors["sort"] = [f"不支持的排序方式：{value[:40]}。"]
        return default.lstrip("-"), default.startswith("-")
    return key, descending


def page_of(rows: list, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The same for rows already in memory (sorted by the caller)."""
    page = _page_number(page)
    return Page(rows[(page - 1) * per_page:page * per_page], len(rows), page, per_page)
