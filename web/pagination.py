"""Page pagination used the same way by every list page and API endpoint (?page=&per_page=)."""

from dataclasses import dataclass
from typing import Any

from flask import request, url_for
from sqlmodel import Session, func, select

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000


@dataclass
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

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
            "next": self.url(self.page + 1) if self.has_next else None,
            "prev": self.url(self.page - 1) if self.has_prev else None,
        }


class PageArgumentError(ValueError):
    pass


def page_args() -> tuple[int, int]:
    """page and per_page from the query string; raises PageArgumentError on nonsense."""
    try:
        page = int(request.args.get("page", 1))
        per_page = int(request.args.get("per_page", DEFAULT_PER_PAGE))
    except ValueError:
        raise PageArgumentError("page and per_page are whole numbers") from None
    if not 1 <= page <= MAX_PAGE or not 1 <= per_page <= MAX_PER_PAGE:
        raise PageArgumentError(f"page ≥ 1 and 1 ≤ per_page ≤ {MAX_PER_PAGE}")
    return page, per_page


def paginate(session: Session, query, strict: bool = False) -> Page:
    """One page of a select() plus the total count (two queries, whatever the page size).

    strict (the API): nonsense page arguments raise; pages fall back to page 1.
    """
    try:
        page, per_page = page_args()
    except PageArgumentError:
        if strict:
            raise
        page, per_page = 1, DEFAULT_PER_PAGE
    total = session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
    items = session.exec(query.offset((page - 1) * per_page).limit(per_page)).all()
    return Page(list(items), page, per_page, total)
