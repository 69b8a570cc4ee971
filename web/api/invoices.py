"""API: invoices and credit notes (read). The same domain functions as the pages
(`contracts.invoicing`), the same rule: another organisation's invoice is not found (404)."""

from flask import g

from contracts.invoicing import (
    InvoiceOut,
    InvoiceQuery,
    InvoiceSummaryOut,
    invoice_out,
    invoice_rows,
    invoice_summary_out,
    invoices_query,
    read_invoice,
)
from web.api import api_bp
from web.api.openapi import Page, operation
from web.db import get_db
from web.pagination import paginate


@api_bp.get("/invoices")
@operation(
    "List invoices",
    query=InvoiceQuery,
    responses={200: Page[InvoiceSummaryOut]},
    tag="invoices",
)
def list_invoices(query: InvoiceQuery):
    """Invoices and credit notes of the caller's organisation's contracts (as seller or buyer;
    the marketplace operator sees all), newest first; filter by state, contract and kind.
    Amounts are integer yen; tax is computed once per invoice and rate."""
    db, actor = get_db(), g.caller.actor
    page = paginate(db, invoices_query(actor, query), paging=query)
    rows = invoice_rows(db, page.items)
    return page.as_json(
        [invoice_summary_out(r.invoice, r.month).model_dump(mode="json") for r in rows]
    )


@api_bp.get("/invoices/<int:invoice_id>")
@operation("Read an invoice", responses={200: InvoiceOut}, tag="invoices")
def get_invoice(invoice_id: int):
    """An invoice or credit note with its lines, tax per rate, credit notes and payment state.
    An empty `seller_registration_number` (`qualified` false): not a qualified invoice."""
    return invoice_out(read_invoice(get_db(), g.caller.actor, invoice_id))
