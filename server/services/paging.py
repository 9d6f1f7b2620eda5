"""One page of a list: the rows, how many there are in all, and which page this is."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ..extensions import db

PER_PAGE = 20


@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def paginate(query: sa.Select, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """Run `query` (already ordered) for one page; a page past the end is empty, not an error."""
    page = max(1, page)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    items = list(db.session.scalars(query.offset((page - 1) * per_page).limit(per_page)))
    return Page(items, total, page, per_page)


def page_of(rows: list, page: int = 1, per_page: int = PER_PAGE) -> Page:
    """The same for rows already in memory (sorted by the caller)."""
    page = max(1, page)
    return Page(rows[(page - 1) * per_page:page * per_page], len(rows), page, per_page)
