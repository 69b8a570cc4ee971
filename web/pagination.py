"""Page pagination used the same way by every list page and API endpoint (?page=&per_page=)."""

from dataclasses import dataclass
from typing import Any

from flask import request, url_for
from sqlmodel import Session, func, select

from participants.fields import DEFAULT_PER_PAGE, MAX_PAGE, MAX_PER_PAGE, Paging


@dataclass
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int
    total_exact: bool = True  # false: `total` is a lower bound (a search stopped counting)

    @property
    def pages(self) -> int:
        """The pages known to exist (more when the total is not exact)."""
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages or not self.total_exact

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    def url(self, page: int) -> str:
        args = {**request.view_args, **request.args.to_dict(), "page": page}
        return url_for(request.endpoint, **args)

    def as_json(self, items: list[dict]) -> dict:
        return {
            "items": items,
            "page": self.page,
            "per_page": self.per_page,
            "total": self.total,
            "total_exact": self.total_exact,
            "next": self.url(self.page + 1) if self.has_next else None,
            "prev": self.url(self.page - 1) if self.has_prev else None,
        }


def page_args() -> tuple[int, int]:
    """page and per_page of a page's query string; nonsense falls back to the first page."""
    try:
        page = int(request.args.get("page", 1))
        per_page = int(request.args.get("per_page", DEFAULT_PER_PAGE))
    except ValueError:
        return 1, DEFAULT_PER_PAGE
    if not 1 <= page <= MAX_PAGE or not 1 <= per_page <= MAX_PER_PAGE:
        return 1, DEFAULT_PER_PAGE
    return page, per_page


def paginate(session: Session, query, paging: Paging | None = None) -> Page:
    """One page of a select() plus the total count (two queries, whatever the page size).

    `paging` is the validated query of an API operation; pages read the query string.
    """
    page, per_page = (paging.page, paging.per_page) if paging is not None else page_args()
    total = session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
    items = session.exec(query.offset((page - 1) * per_page).limit(per_page)).all()
    return Page(list(items), page, per_page, total)
