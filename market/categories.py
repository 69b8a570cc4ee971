"""Categories of hard-to-recycle items for public procurement, with the recommended minimum
recycled content and its source (US EPA CPG/RMAN, Japan's Green Purchasing Act criteria, …)
and an item classification (UNSPSC or CPV). Public: anyone may read them.

SKELETON (foundation commit): the seed data is filled in by the categories work.
"""

from sqlmodel import Session, col, select

from market.models import ProcurementCategory
from participants.errors import N_, NotFound

CATEGORIES: list[dict] = []  # the seed rows (filled in by the categories work)


def seed_categories(session: Session) -> int:
    """Insert the categories that are missing (idempotent); the number inserted."""
    known = set(session.exec(select(ProcurementCategory.code)).all())
    added = 0
    for row in CATEGORIES:
        if row["code"] not in known:
            session.add(ProcurementCategory(**row))
            added += 1
    session.flush()
    return added


def list_categories(session: Session) -> list[ProcurementCategory]:
    """All categories, by code."""
    return list(
        session.exec(select(ProcurementCategory).order_by(col(ProcurementCategory.code))).all()
    )


def get_category(session: Session, category_id: int) -> ProcurementCategory:
    """A category by id, or NotFound (field `category_id`)."""
    category = session.get(ProcurementCategory, category_id) if 1 <= category_id < 2**31 else None
    if category is None:
        raise NotFound(N_("No such procurement category."), "category_id")
    return category
