"""API: procurement categories (public) and the caller's chain-of-custody ledger."""

from flask import g
from pydantic import ConfigDict

from market.categories import (
    ProcurementCategoryOut,
    categories_query,
    category_out,
    get_category,
)
from participants.fields import Paging
from quality.custody import CustodyLedgerOut, LedgerQuery, ledger_out, read_ledger
from web.api import api_bp
from web.api.openapi import Page, operation
from web.db import get_db
from web.pagination import paginate


class CategoryQuery(Paging):
    """?page=&per_page= and nothing else."""

    model_config = ConfigDict(extra="forbid")


@api_bp.get("/procurement/categories")
@operation(
    "List procurement categories",
    query=CategoryQuery,
    responses={200: Page[ProcurementCategoryOut]},
    auth=False,
    tag="procurement",
)
def procurement_categories(query: CategoryQuery):
    """Hard-to-recycle item categories with the recommended minimum recycled content
    (post-consumer and total, per cent), its source and a CPV or UNSPSC classification, by
    code."""
    page = paginate(get_db(), categories_query(), paging=query)
    return page.as_json([category_out(c).model_dump(mode="json") for c in page.items])


@api_bp.get("/procurement/categories/<int:category_id>")
@operation(
    "Read a procurement category",
    responses={200: ProcurementCategoryOut},
    auth=False,
    tag="procurement",
)
def procurement_category(category_id: int):
    """One category with its recommended minimum recycled content and source."""
    return category_out(get_category(get_db(), category_id))


@api_bp.get("/custody")
@operation(
    "Read the organisation's chain-of-custody ledger",
    query=LedgerQuery,
    responses={200: CustodyLedgerOut},
    errors=(403, 404),
    tag="custody",
)
def custody_ledger(query: LedgerQuery):
    """The caller's organisation's mass-balance accounts per material (tonnes credited by
    accepted deliveries, debited by sold claims, reserved for awards, available; input and
    recycled share) and its latest entries. The operator may name any organisation with
    `organization_id`; anyone else naming another organisation gets 404."""
    ledger = read_ledger(get_db(), g.caller.actor, query.organization_id, query.limit)
    return ledger_out(ledger)
