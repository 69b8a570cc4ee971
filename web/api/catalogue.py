"""API: the recycled-product catalogue, direct purchases and their orders, an agency's
procurement policy, bank transfers recorded for orders' invoices.

Money is integer yen (unit prices and subtotals tax excluded, totals tax included),
percentages decimal strings, masses decimal strings of kilograms. Every rule lives in
`market.products`, `market.purchasing`, `contracts.public_orders` and `contracts.payments`;
these views translate input and output.
"""

import re
from typing import Annotated

from flask import g
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from contracts.invoicing import InvoiceOut, invoice_out, read_invoice
from contracts.payments import BankTransferIn, record_bank_transfer
from contracts.public_orders import (
    OrderIn,
    OrderOut,
    QuoteOut,
    QuoteQuery,
    buy_direct,
    describe_order,
    describe_orders,
    quote_direct_purchase,
    quote_out,
)
from market.products import (
    MAX_COMPARE,
    CatalogueQuery,
    ProductInput,
    ProductOut,
    compare_products,
    create_product,
    describe_product,
    describe_products,
    own_products,
    read_product,
    search_products,
    update_product,
    withdraw_product,
)
from market.purchasing import (
    OrderQuery,
    PolicyInput,
    PolicyOut,
    mark_delivered,
    orders_query,
    read_order,
    read_policy,
    set_policy,
)
from participants.errors import N_, ValidationFailed
from web.api import api_bp
from web.api.openapi import Page, operation
from web.db import get_db
from web.pagination import paginate

IDS_PATTERN = "^[0-9]{1,10}(,[0-9]{1,10}){0," + str(MAX_COMPARE - 1) + "}$"


class ProductsQuery(CatalogueQuery):
    """The search's query string, or `mine=true` for the caller's own products in every
    state (filters ignored)."""

    mine: bool = Field(default=False, description="the caller's own products in every state")


class CompareQuery(BaseModel):
    """?ids=1,2,3 (up to four product ids)."""

    model_config = ConfigDict(extra="forbid")
    ids: Annotated[
        str,
        Field(min_length=1, max_length=60),
        WithJsonSchema({"type": "string", "pattern": IDS_PATTERN, "examples": ["1,2"]}),
    ]


class Comparison(BaseModel):
    """Products side by side (price, lead time, recycled content against the category's
    recommendation, evidence, covered units)."""

    items: list[ProductOut]


def _actor():
    return g.caller.actor


def parse_ids(text: str) -> list[int]:
    """Product ids from "1,2,3" (ValidationFailed on anything else)."""
    if not re.fullmatch(r"\d{1,10}(,\d{1,10})*", text.strip()):
        raise ValidationFailed(N_("Give product ids separated by commas."), "ids")
    return [int(part) for part in text.strip().split(",")]


# ---------------------------------------------------------------------------------------------
# Products


@api_bp.get("/catalogue/products")
@operation(
    "Search the catalogue",
    query=ProductsQuery,
    responses={200: Page[ProductOut]},
    tag="catalogue",
)
def products(query: ProductsQuery):
    """Active products of verified manufacturers (any logged-in member), filtered by category,
    recycled content and unit price, searched by words, sorted; `mine=true` for the caller's
    own products in every state. Each shows the units its chain-of-custody balance covers now
    and its flags (claim not covered, below the category's recommended minimum)."""
    db, actor = get_db(), _actor()
    stmt = own_products(actor) if query.mine else search_products(actor, query)
    page = paginate(db, stmt, paging=query)
    return page.as_json([p.model_dump(mode="json") for p in describe_products(db, page.items)])


@api_bp.post("/catalogue/products")
@operation(
    "List a product in the catalogue",
    body=ProductInput,
    responses={201: ProductOut},
    errors=(403,),
    tag="catalogue",
)
def create_product_view(body: ProductInput):
    """A product of a verified manufacturer (traders and administrators). Refused (422) when
    the claim of one unit is not covered by the organisation's chain-of-custody balance of the
    material, or a certificate is not one the organisation may cite."""
    db = get_db()
    return describe_product(db, create_product(db, _actor(), body)), 201


@api_bp.get("/catalogue/products/<int:product_id>")
@operation("Read a catalogue product", responses={200: ProductOut}, tag="catalogue")
def product(product_id: int):
    """An active product (any logged-in member), or the caller's own in any state."""
    db = get_db()
    return describe_product(db, read_product(db, _actor(), product_id))


@api_bp.put("/catalogue/products/<int:product_id>")
@operation(
    "Change a catalogue product",
    body=ProductInput,
    responses={200: ProductOut},
    errors=(403, 409),
    tag="catalogue",
)
def update_product_view(product_id: int, body: ProductInput):
    """Replace an active product's fields (the same rules as listing it)."""
    db = get_db()
    return describe_product(db, update_product(db, _actor(), product_id, body))


@api_bp.post("/catalogue/products/<int:product_id>/withdraw")
@operation(
    "Withdraw a catalogue product",
    responses={200: ProductOut},
    errors=(403, 409),
    tag="catalogue",
)
def withdraw_product_view(product_id: int):
    """Take a product out of the catalogue (409 when it already is)."""
    db = get_db()
    return describe_product(db, withdraw_product(db, _actor(), product_id))


@api_bp.get("/catalogue/compare")
@operation(
    "Compare catalogue products",
    query=CompareQuery,
    responses={200: Comparison},
    errors=(404, 422),
    tag="catalogue",
)
def compare(query: CompareQuery):
    """Up to four products side by side, in the order given."""
    db = get_db()
    items = compare_products(db, _actor(), parse_ids(query.ids))
    return Comparison(items=describe_products(db, items))


@api_bp.get("/catalogue/products/<int:product_id>/quote")
@operation(
    "Which rule applies to a quantity",
    query=QuoteQuery,
    responses={200: QuoteOut},
    errors=(403,),
    tag="catalogue",
)
def quote(product_id: int, query: QuoteQuery):
    """For a procurement officer: the subtotal, tax and total of `quantity` units, the
    agency's direct-purchase threshold and its rule, whether a direct purchase is allowed or
    a tender is needed, and how many units the supplier's custody balance covers."""
    return quote_out(quote_direct_purchase(get_db(), _actor(), product_id, query.quantity))


# ---------------------------------------------------------------------------------------------
# Orders


@api_bp.get("/catalogue/orders")
@operation(
    "List purchase orders",
    query=OrderQuery,
    responses={200: Page[OrderOut]},
    tag="catalogue",
)
def orders(query: OrderQuery):
    """The orders of the caller's organisation, as buying agency or supplier, newest first."""
    db = get_db()
    page = paginate(db, orders_query(_actor(), query), paging=query)
    return page.as_json([o.model_dump(mode="json") for o in describe_orders(db, page.items)])


@api_bp.post("/catalogue/orders")
@operation(
    "Buy directly from the catalogue",
    body=OrderIn,
    responses={201: OrderOut},
    errors=(403, 404, 409),
    tag="catalogue",
)
def buy(body: OrderIn):
    """A procurement officer of a verified agency orders units of a product. Refused (422)
    when the total (tax included) is above the agency's direct-purchase threshold (the order
    must go to a tender) or the supplier's chain-of-custody balance does not cover the
    recycled content. The claim is debited, the order numbered PO-YYYY-NNNNNN and invoiced."""
    db = get_db()
    return describe_order(db, buy_direct(db, _actor(), body)), 201


@api_bp.get("/catalogue/orders/<int:order_id>")
@operation("Read a purchase order", responses={200: OrderOut}, tag="catalogue")
def order(order_id: int):
    """An order of the caller's organisation (buying agency or supplier) with its invoice and
    payment state; anyone else: 404."""
    db = get_db()
    return describe_order(db, read_order(db, _actor(), order_id))


@api_bp.post("/catalogue/orders/<int:order_id>/delivered")
@operation(
    "Mark an order delivered",
    responses={200: OrderOut},
    errors=(403, 409),
    tag="catalogue",
)
def delivered(order_id: int):
    """The supplier's traders and administrators mark an order delivered (409 the second
    time)."""
    db = get_db()
    return describe_order(db, mark_delivered(db, _actor(), order_id))


# ---------------------------------------------------------------------------------------------
# Bank transfers, policy


@api_bp.post("/invoices/<int:invoice_id>/bank-transfer")
@operation(
    "Record a bank transfer received",
    body=BankTransferIn,
    responses={200: InvoiceOut},
    errors=(403, 409),
    tag="payments",
)
def bank_transfer(invoice_id: int, body: BankTransferIn):
    """The seller's admin or signatory records that an order's invoice was paid by bank
    transfer: the amount must be the invoice's total, the day not in the future. The invoice
    becomes paid and the settlement ledger owes the seller; a second record: 409."""
    db, actor = get_db(), _actor()
    record_bank_transfer(db, actor, invoice_id, body)
    return invoice_out(read_invoice(db, actor, invoice_id))


@api_bp.get("/procurement/policy")
@operation(
    "Read the agency's procurement policy",
    responses={200: PolicyOut},
    errors=(403,),
    tag="catalogue",
)
def policy():
    """The direct-purchase threshold (yen, tax included) of the caller's agency and the rule
    behind it; the default when the agency has set none (`is_default`)."""
    return read_policy(get_db(), _actor())


@api_bp.put("/procurement/policy")
@operation(
    "Set the agency's procurement policy",
    body=PolicyInput,
    responses={200: PolicyOut},
    errors=(403,),
    tag="catalogue",
)
def put_policy(body: PolicyInput):
    """The agency's administrators and procurement officers set its direct-purchase threshold
    and name the rule that sets it."""
    return set_policy(get_db(), _actor(), body)
